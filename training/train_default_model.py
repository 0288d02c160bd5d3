"""Train, evaluate and export the engine's default streaming VAE.

    .venv/bin/python -m training.train_default_model --minutes 30 --out models/default.ts

Reproducible for a given seed and step count (fixed seeds, deterministic data order; the
``--minutes`` budget only decides where training stops). Writes the TorchScript model, plus
``MODEL_CARD.md`` and ``default_training.json`` next to it.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from engine.dsp.spectral import multiscale_spectral_distance
from engine.models.default_vae import LATENT_RATIO, LATENT_SIZE, SAMPLE_RATE, DefaultVAE
from engine.models.streaming_conv import set_streaming
from training.corpus import HELDOUT_SEED, TRAIN_SEED, make_clip
from training.losses import gaussian_kl, multiscale_spectral_loss

console = Console()


@dataclass
class Config:
    steps: int
    minutes: float
    out: Path
    threads: int
    seed: int
    batch: int
    clip_frames: int
    lr: float
    beta: float
    kl_warmup: int
    log_every: int
    eval_clips: int
    eval_frames: int
    model: dict[str, object] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1_000_000, help="stop after this many steps")
    p.add_argument("--minutes", type=float, default=30.0, help="stop after this much training wall time")
    p.add_argument("--out", type=Path, default=Path("models/default.ts"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--clip-frames", type=int, default=12, help="latent frames (x2048 samples) per example")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=float, default=0.002, help="final KL weight")
    p.add_argument("--kl-warmup", type=int, default=1500, help="steps over which beta ramps up from 0")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--eval-clips", type=int, default=16)
    p.add_argument("--eval-frames", type=int, default=64, help="latent frames per held-out clip")
    a = p.parse_args(argv)
    return Config(
        steps=a.steps,
        minutes=a.minutes,
        out=a.out,
        threads=a.threads,
        seed=a.seed,
        batch=a.batch,
        clip_frames=a.clip_frames,
        lr=a.lr,
        beta=a.beta,
        kl_warmup=a.kl_warmup,
        log_every=a.log_every,
        eval_clips=a.eval_clips,
        eval_frames=a.eval_frames,
    )


def make_batch(rng: np.random.Generator, batch: int, frames: int) -> torch.Tensor:
    seconds = frames * LATENT_RATIO / SAMPLE_RATE
    clips = [make_clip(rng, seconds)[: frames * LATENT_RATIO] for _ in range(batch)]
    return torch.from_numpy(np.stack(clips))[:, None, :]


def heldout_clips(count: int, frames: int) -> list[np.ndarray]:
    rng = np.random.default_rng(HELDOUT_SEED)
    return [
        make_clip(rng, frames * LATENT_RATIO / SAMPLE_RATE)[: frames * LATENT_RATIO] for _ in range(count)
    ]


def envelope_matched_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White noise carrying the per-2048-sample-frame RMS envelope of ``x`` (the trivial baseline)."""
    frames = x.reshape(-1, LATENT_RATIO)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1, keepdims=True))
    return (rng.standard_normal(frames.shape) * rms).reshape(-1).astype(np.float32)


def train(cfg: Config, model: DefaultVAE) -> dict[str, float]:
    rng = np.random.default_rng([cfg.seed, TRAIN_SEED])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    start = time.perf_counter()
    step, spec_ema, kl_ema = 0, math.nan, math.nan
    while step < cfg.steps and time.perf_counter() - start < cfg.minutes * 60:
        x = make_batch(rng, cfg.batch, cfg.clip_frames)
        mean, logvar = model.posterior(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        y = model.decode(z)
        spec = multiscale_spectral_loss(x, y)
        kl = gaussian_kl(mean, logvar)
        beta = cfg.beta * min(1.0, step / max(1, cfg.kl_warmup))
        loss = spec + beta * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        spec_ema = spec.item() if math.isnan(spec_ema) else 0.98 * spec_ema + 0.02 * spec.item()
        kl_ema = kl.item() if math.isnan(kl_ema) else 0.98 * kl_ema + 0.02 * kl.item()
        if step % cfg.log_every == 0 or step == 1:
            elapsed = time.perf_counter() - start
            console.print(
                f"step {step:6d}  spec {spec_ema:.4f}  kl {kl_ema:7.2f}  beta {beta:.4f}  "
                f"{step / elapsed:5.2f} it/s  {elapsed / 60:5.1f} min"
            )
    return {
        "steps": step,
        "train_seconds": time.perf_counter() - start,
        "final_spectral_loss": spec_ema,
        "final_kl": kl_ema,
    }


@torch.no_grad()
def latent_statistics(model: DefaultVAE, seed: int) -> None:
    """Per-dimension mean/std of posterior means over fresh training-distribution clips (stored as buffers)."""
    rng = np.random.default_rng([seed, TRAIN_SEED, 1])
    z = model.encode(make_batch(rng, 16, 32))
    model.latent_mean.copy_(z.mean(dim=(0, 2)))
    model.latent_std.copy_(z.std(dim=(0, 2)))


@torch.no_grad()
def evaluate(model: DefaultVAE, cfg: Config) -> dict[str, float]:
    model.eval()
    noise_rng = np.random.default_rng([cfg.seed, HELDOUT_SEED])
    model_d, noise_d, silence_d = [], [], []
    for i, clip in enumerate(heldout_clips(cfg.eval_clips, cfg.eval_frames)):
        torch.manual_seed(i)
        recon = model(torch.from_numpy(clip)[None, None])[0, 0].numpy()
        model_d.append(multiscale_spectral_distance(clip, recon))
        noise_d.append(multiscale_spectral_distance(clip, envelope_matched_noise(clip, noise_rng)))
        silence_d.append(multiscale_spectral_distance(clip, np.zeros_like(clip)))
    m, n, s = float(np.mean(model_d)), float(np.mean(noise_d)), float(np.mean(silence_d))
    return {
        "heldout_distance_model": m,
        "heldout_distance_envelope_noise": n,
        "heldout_distance_silence": s,
        "improvement_vs_envelope_noise": 1.0 - m / n,
    }


def spectral_flatness(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x.reshape(-1, 2048) * np.hanning(2048), axis=-1)) ** 2 + 1e-12
    return float(np.mean(np.exp(np.mean(np.log(spec), axis=-1)) / np.mean(spec, axis=-1)))


def prior_walk(steps: int, seed: int) -> torch.Tensor:
    """A smooth random walk that stays N(0, 1)-distributed per step (AR(1) with unit variance)."""
    g = torch.Generator().manual_seed(seed)
    rho = 0.9
    z = [torch.randn(1, LATENT_SIZE, generator=g)]
    for _ in range(steps - 1):
        z.append(rho * z[-1] + math.sqrt(1 - rho**2) * torch.randn(1, LATENT_SIZE, generator=g))
    return torch.stack(z, dim=-1)


def export(model: DefaultVAE, path: Path) -> torch.jit.ScriptModule:
    streaming = DefaultVAE(**model.config, streaming=True)
    streaming.load_state_dict(model.state_dict())
    streaming.eval()
    set_streaming(streaming, True)
    scripted = torch.jit.script(streaming)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(scripted, str(path))
    return torch.jit.load(str(path))


def reset_caches(module: torch.jit.ScriptModule) -> None:
    for name, buf in module.named_buffers():
        if name.endswith("cache"):
            buf.zero_()


def check_streaming(model: DefaultVAE, exported: torch.jit.ScriptModule, frames: int = 24) -> float:
    """Max |offline decode - exported streaming decode in 1-frame chunks| (same torch seed for both)."""
    z = prior_walk(frames, seed=123)
    model.eval()
    with torch.inference_mode():
        torch.manual_seed(7)
        offline = model.decode(z)
        reset_caches(exported)
        torch.manual_seed(7)
        chunks = torch.cat([exported.decode(z[..., i : i + 1]) for i in range(frames)], dim=-1)
        reset_caches(exported)
    return float((offline - chunks).abs().max())


def decode_rtf(exported: torch.jit.ScriptModule, repeats: int = 200) -> dict[str, float]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    z = torch.randn(1, LATENT_SIZE, 1)
    times = []
    with torch.inference_mode():
        for _ in range(20):
            exported.decode(z)
        for _ in range(repeats):
            t0 = time.perf_counter()
            exported.decode(z)
            times.append(time.perf_counter() - t0)
    reset_caches(exported)
    torch.set_num_threads(threads)
    median = statistics.median(times)
    return {
        "decode_ms_median": median * 1e3,
        "decode_ms_p95": float(np.percentile(times, 95)) * 1e3,
        "decode_rtf_median": median / (LATENT_RATIO / SAMPLE_RATE),
    }


def prior_walk_check(exported: torch.jit.ScriptModule) -> dict[str, float]:
    with torch.inference_mode():
        reset_caches(exported)
        torch.manual_seed(0)
        audio = exported.decode(prior_walk(64, seed=5))[0, 0].numpy()
        reset_caches(exported)
    white = np.random.default_rng(0).standard_normal(len(audio))
    return {
        "prior_walk_rms": float(np.sqrt(np.mean(audio**2))),
        "prior_walk_flatness": spectral_flatness(audio),
        "white_noise_flatness": spectral_flatness(white),
    }


def write_card(path: Path, cfg: Config, r: dict[str, float | int | str]) -> None:
    text = f"""# Default model: streaming VAE (`{cfg.out.name}`)

Trained by `training/train_default_model.py` (our own code; no third-party model code or weights).

## Interface (nn~ format)
- 48 kHz mono; `encode` (B,1,T) -> (B,8,T/2048) posterior mean; `decode` (B,8,L) -> (B,1,L*2048); `forward` = decode(encode(x)).
- Streaming export: causal convolutions with in-place `*.cache` buffers (max batch 8); chunked calls equal one long call.
- `decode` adds a filtered-noise branch with random phases from torch's RNG: seed torch for reproducible renders.
- Latent prior: N(0, 1) per dimension (trained with a KL term). `latent_mean`/`latent_std` hold posterior-mean statistics over training-distribution clips.

## Architecture
- Encoder: learned analysis filter pairs (kernel 512, hop 256, initialised as a windowed log-frequency STFT) -> log magnitude -> 1x1 conv -> 3 causal stride-2 convs -> mean / log-variance (8 dims).
- Decoder: causal conv -> 3 x (nearest x2 upsample + causal conv, 2 dilated residual units) -> at hop 256: learned overlap-add synthesis basis (conv-transpose, kernel 512, stride 256) + filtered noise ({cfg.model.get("n_bands")} mel-spaced band gains on random-phase rFFT frames, Hann overlap-add).
- Config: `{json.dumps(cfg.model)}`; parameters: {r["parameters"]:,}; file size: {r["file_size_mb"]:.2f} MB.

## Data
Procedural corpus (`training/corpus.py`): drums (pitch-swept kicks, tone+noise snares, high-passed noise hats in random 16-step patterns at 80-170 BPM), basses (saw/square through a resonant low-pass), pads (detuned saw/sine chords, slow envelopes), textures (filtered noise, granular grains, FM). Each clip mixes 1-3 layers, peak about -12 dBFS. Training clips are generated on the fly from seed ({cfg.seed}, {TRAIN_SEED}); held-out clips from seed {HELDOUT_SEED}.

## Training
- Seed {cfg.seed}; {r["steps"]} steps of batch {cfg.batch} x {cfg.clip_frames * LATENT_RATIO} samples; Adam lr {cfg.lr}; wall time {r["train_seconds"] / 60:.1f} min on {cfg.threads} CPU threads.
- Loss: multi-scale spectral distance (FFT 2048..128, normalised linear L1 + log L1) + beta * KL, beta ramped 0 -> {cfg.beta} over {cfg.kl_warmup} steps.
- Final (EMA) spectral loss {r["final_spectral_loss"]:.4f}, KL {r["final_kl"]:.2f} nats per latent frame.

## Evaluation ({cfg.eval_clips} held-out clips of {cfg.eval_frames * LATENT_RATIO} samples, `engine.dsp.spectral.multiscale_spectral_distance`)
| reconstruction | distance |
|---|---|
| this model | {r["heldout_distance_model"]:.4f} |
| envelope-matched white noise | {r["heldout_distance_envelope_noise"]:.4f} |
| silence | {r["heldout_distance_silence"]:.4f} |

Model distance is {100 * r["improvement_vs_envelope_noise"]:.1f} % lower than the envelope-matched-noise baseline.

## Runtime
- Decode of one latent frame (2048 samples) on 1 torch thread: median {r["decode_ms_median"]:.3f} ms, p95 {r["decode_ms_p95"]:.3f} ms, real-time factor {r["decode_rtf_median"]:.4f}.
- Streaming check (1-frame chunks vs offline decode, same seed): max abs diff {r["streaming_max_abs_diff"]:.2e}.
- Prior random walk decode: RMS {r["prior_walk_rms"]:.4f}, spectral flatness {r["prior_walk_flatness"]:.3f} (white noise {r["white_noise_flatness"]:.3f}).
"""
    path.write_text(text)


def main(argv: list[str] | None = None) -> dict[str, float | int | str]:
    cfg = parse_args(argv)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = DefaultVAE()
    cfg.model = dict(model.config)
    parameters = sum(p.numel() for p in model.parameters())
    console.print(
        f"[bold]DefaultVAE[/bold] {parameters:,} parameters; budget {cfg.steps} steps / {cfg.minutes} min"
    )

    results: dict[str, float | int | str] = {
        "seed": cfg.seed,
        "parameters": parameters,
        "batch": cfg.batch,
        "clip_samples": cfg.clip_frames * LATENT_RATIO,
    }
    results.update(train(cfg, model))
    model.eval()
    latent_statistics(model, cfg.seed)
    # Keep the weights even if export fails (TorchScript re-reads the source files at export time).
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), cfg.out.with_suffix(".state.pt"))
    results.update(evaluate(model, cfg))
    exported = export(model, cfg.out)
    results["file_size_mb"] = cfg.out.stat().st_size / 2**20
    results["streaming_max_abs_diff"] = check_streaming(model, exported)
    results.update(decode_rtf(exported))
    results.update(prior_walk_check(exported))
    results["model_file"] = str(cfg.out)

    (cfg.out.parent / "default_training.json").write_text(json.dumps(results, indent=2) + "\n")
    write_card(cfg.out.parent / "MODEL_CARD.md", cfg, results)

    table = Table(title="default model")
    table.add_column("metric")
    table.add_column("value")
    for key, value in results.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    if results["streaming_max_abs_diff"] >= 1e-4:
        raise SystemExit("streaming decode does not match offline decode")
    return results


if __name__ == "__main__":
    main()
