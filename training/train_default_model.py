"""Train, evaluate and export the engine's default streaming VAE on the procedural corpus.

    .venv/bin/python -m training.train_default_model --out models/default.ts

A thin script over engine/training/ (the loop, the export, the report) with the corpus of
training/corpus.py. Reproducible for a given seed and step count (fixed seeds, deterministic data
order; the ``--minutes`` budget only decides where training stops). Writes the TorchScript model, plus
``default.training.json`` and ``MODEL_CARD.md`` next to it (see ``engine/training/report.py``), and a
checkpoint ``default.ckpt.pt`` every few minutes (``--resume`` continues from it).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from engine.dsp.spectral import multiscale_spectral_distance
from engine.models.default_vae import LATENT_RATIO, SAMPLE_RATE, DefaultVAE
from engine.training.clip_pool import ClipPool
from engine.training.export import check_streaming, export, fit_latent_rotation, order_by_effect
from engine.training.report import MUSIC_DEFAULT, collapse_warning, report, training_json
from engine.training.trainer import TrainSettings, load_checkpoint, train
from training.corpus import BAND_LIMITS, HELDOUT_SEED, TRAIN_SEED, make_clip

console = Console()
CHECKPOINT_MINUTES = 5.0

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
    log_floor: float
    pool: int
    pool_seconds: float
    peak_db: tuple[float, float]
    music: Path | None
    band_limits: str = "brickwall"
    band_edge: bool = True
    frozen_analysis: bool = True
    resume: bool = False
    model: dict[str, object] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=16_000, help="training length; the learning rate follows a cosine over it")
    p.add_argument("--minutes", type=float, default=90.0, help="stop early after this much training wall time")
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
    p.add_argument("--log-floor", type=float, default=1e-3, help="magnitude floor of the loss's log term (1e-5 starved the decoder of z)")
    p.add_argument("--pool", type=int, default=256, help="clips in the training pool (one renewed per step)")
    p.add_argument("--pool-seconds", type=float, default=2.048, help="length of each pool clip")
    p.add_argument(
        "--peak-db", type=float, nargs=2, default=(-14.0, -10.0), metavar=("LOW", "HIGH"),
        help="training clips peak between these dBFS; a wide range (v3: -24 -1) made the first latent "
        "dimension a 20 LU level axis that the engine's walk swung through",
    )
    p.add_argument(
        "--music", type=Path, default=MUSIC_DEFAULT,
        help="held-out real recordings for the reconstruction score (read only for evaluation)",
    )
    # The defaults give the shipped v6; --band-limits butterworth --no-band-edge --no-freeze-analysis gives v4.
    p.add_argument("--band-limits", choices=sorted(BAND_LIMITS), default="brickwall",
                   help="how 60 %% of the clips are band-limited: empty past the edge as a resampled file is, "
                   "or a 12th-order Butterworth (v4)")
    p.add_argument("--band-edge", action=argparse.BooleanOptionalAction, default=True,
                   help="a decoder stage that low-passes both branches at an edge read off the latent "
                   "(--no-band-edge: the v4 decoder)")
    p.add_argument("--freeze-analysis", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the encoder's analysis filters at their log-frequency initialisation (learned, they "
                   "drift below 4 kHz and the encoder stops hearing the upper band; --no-freeze-analysis: v4)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint beside --out")
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
        log_floor=a.log_floor,
        pool=a.pool,
        pool_seconds=a.pool_seconds,
        peak_db=(a.peak_db[0], a.peak_db[1]),
        music=a.music if a.music and a.music.is_dir() else None,
        resume=a.resume,
        band_limits=a.band_limits,
        band_edge=a.band_edge,
        frozen_analysis=a.freeze_analysis,
    )


def heldout_clips(count: int, frames: int, peak_db: tuple[float, float], band_limits: str) -> list[np.ndarray]:
    rng = np.random.default_rng(HELDOUT_SEED)
    return [
        make_clip(rng, frames * LATENT_RATIO / SAMPLE_RATE, peak_db=peak_db, band_limits=band_limits)[: frames * LATENT_RATIO]
        for _ in range(count)
    ]


def envelope_matched_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White noise carrying the per-2048-sample-frame RMS envelope of ``x`` (the trivial baseline)."""
    frames = x.reshape(-1, LATENT_RATIO)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1, keepdims=True))
    return (rng.standard_normal(frames.shape) * rms).reshape(-1).astype(np.float32)


def train_on_corpus(cfg: Config, model: DefaultVAE) -> dict[str, float]:
    def make_pool(rng: np.random.Generator) -> ClipPool:
        return ClipPool(lambda r: make_clip(r, cfg.pool_seconds, peak_db=cfg.peak_db, band_limits=cfg.band_limits),
                        rng, cfg.pool, cfg.clip_frames * LATENT_RATIO)

    checkpoint = cfg.out.with_suffix(".ckpt.pt")
    settings = TrainSettings(
        batch=cfg.batch, lr=cfg.lr, beta=cfg.beta, kl_warmup=cfg.kl_warmup, log_floor=cfg.log_floor,
        steps=cfg.steps, minutes=cfg.minutes, checkpoint=checkpoint, checkpoint_minutes=CHECKPOINT_MINUTES,
        log_every=cfg.log_every, meta={"trainer": "train_default_model", "seed": cfg.seed, "config": cfg.model},
    )
    resume = load_checkpoint(checkpoint) if cfg.resume else None
    result = train(model, make_pool, [cfg.seed, TRAIN_SEED], settings, resume=resume, console=console)
    return {
        "steps": result.steps,
        "train_seconds": result.train_seconds,
        "final_spectral_loss": result.final_spectral_loss,
        "final_kl": result.final_kl,
        "history": result.history,
    }


def rotation_clips(seed: int, peak_db: tuple[float, float], band_limits: str) -> torch.Tensor:
    """64 fresh corpus clips of 32 latent frames, (64, 1, T), for the latent rotation and statistics."""
    rng = np.random.default_rng([seed, TRAIN_SEED, 1])
    clips = np.stack([make_clip(rng, 32 * LATENT_RATIO / SAMPLE_RATE, peak_db=peak_db, band_limits=band_limits)
                      for _ in range(64)])
    return torch.from_numpy(clips)[:, None, :]


@torch.no_grad()
def evaluate(model: DefaultVAE, cfg: Config) -> dict[str, float]:
    model.eval()
    noise_rng = np.random.default_rng([cfg.seed, HELDOUT_SEED])
    model_d, noise_d, silence_d = [], [], []
    for i, clip in enumerate(heldout_clips(cfg.eval_clips, cfg.eval_frames, cfg.peak_db, cfg.band_limits)):
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


DATA = (
    "Procedural corpus (`training/corpus.py`), nothing recorded: melodies on six scales (major, minor, "
    "dorian, harmonic minor, two pentatonics) played by additive piano, plucked string, bell, brass, "
    "strings and formant voice, sometimes in two- or three-note chords (40 % of layers); drums "
    "(swept kicks, snares, hats in 16-step patterns at 80-170 BPM); saw/square basses through a resonant "
    "low-pass; detuned chord pads; noise, granular and FM textures. A clip mixes 1-3 layers; 40 % go "
    "through a small room (decaying-noise convolution), 60 % are band-limited like real files ({limits}); training crops peak "
    "between {peak_low:g} and {peak_high:g} dBFS. Train clips come from seed (seed, {train}), held-out from {heldout}."
)


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_args(argv)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = DefaultVAE(band_edge=cfg.band_edge, frozen_analysis=cfg.frozen_analysis)
    cfg.model = dict(model.config)
    parameters = sum(p.numel() for p in model.parameters())
    console.print(
        f"[bold]DefaultVAE[/bold] {parameters:,} parameters; {cfg.steps} steps, at most {cfg.minutes} min"
    )
    results: dict = {"seed": cfg.seed, "parameters": parameters, "config": cfg.model, "sample_rate": SAMPLE_RATE}
    results.update(train_on_corpus(cfg, model))
    return finish(cfg, model, results)


def finish(cfg: Config, model: DefaultVAE, results: dict) -> dict:
    """After training: fit the latent rotation, evaluate, export, measure and write the card."""
    model.eval()
    fit_latent_rotation(model, rotation_clips(cfg.seed, cfg.peak_db, cfg.band_limits))
    importance = order_by_effect(model)  # the first fader moves the sound most
    # Keep the weights even if export fails (TorchScript re-reads the source files at export time).
    torch.save(model.state_dict(), cfg.out.with_suffix(".state.pt"))
    results.update(evaluate(model, cfg))
    exported = export(model, cfg.out, importance)
    results["streaming_max_abs_diff"] = check_streaming(model, exported)
    limits = {"butterworth": "a 12th-order Butterworth low-pass at 10.8 kHz as a 22.05 kHz recording, 15.5 kHz as "
                             "a lossy codec, or anywhere in 3-20 kHz",
              "brickwall": "empty past the edge, as a resampled file is: 11,025 Hz as a 22.05 kHz recording, "
                           "16 kHz as a lossy codec, or anywhere in 3-20 kHz"}[cfg.band_limits]
    results["data"] = DATA.format(train=TRAIN_SEED, heldout=HELDOUT_SEED, peak_low=cfg.peak_db[0],
                                  peak_high=cfg.peak_db[1], limits=limits)
    results["training"] = (
        f"- Seed {cfg.seed}; {results['steps']} steps of batch {cfg.batch} x {cfg.clip_frames * LATENT_RATIO} "
        f"samples cropped from a pool of {cfg.pool} clips of {cfg.pool_seconds} s (one renewed per step); "
        f"Adam, lr {cfg.lr} with a cosine decay to 5 %; {results['train_seconds'] / 60:.1f} min on "
        f"{cfg.threads} CPU threads.\n"
        f"- Loss: multi-scale spectral distance (FFT 2048..128, normalised linear L1 + log L1 with a "
        f"magnitude floor of {cfg.log_floor:g}) + beta * KL, beta ramped 0 -> {cfg.beta} over {cfg.kl_warmup} steps.\n"
        f"- Final (EMA) spectral loss {results['final_spectral_loss']:.3f}, KL {results['final_kl']:.1f} nats per latent frame."
    )
    results["corpus_evaluation"] = (
        f"{cfg.eval_clips} held-out procedural clips of {cfg.eval_frames * LATENT_RATIO} samples "
        f"(`engine.dsp.spectral.multiscale_spectral_distance`): model {results['heldout_distance_model']:.3f}, "
        f"envelope-matched white noise {results['heldout_distance_envelope_noise']:.3f}, silence "
        f"{results['heldout_distance_silence']:.3f}."
    )
    training_json(cfg.out).write_text(json.dumps(results, indent=2) + "\n")
    results = report(cfg.out, cfg.music)

    table = Table(title=cfg.out.name)
    table.add_column("figure")
    table.add_column("value")
    for key in ("steps", "train_seconds", "music_score_mean", "seed_change_distance", "decode_rtf_median",
                "file_size_mb", "streaming_max_abs_diff"):
        value = results.get(key)
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    if (warning := collapse_warning(results)) is not None:
        console.print(warning, style="bold red", highlight=False, markup=False)
    if results["streaming_max_abs_diff"] >= 1e-4:
        raise SystemExit("streaming decode does not match offline decode")
    return results


if __name__ == "__main__":
    main()
