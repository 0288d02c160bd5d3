"""Measure an exported model and write its model card: reconstruction, latent dimensions, runtime.

    .venv/bin/python -m training.model_report models/default.ts [--music DIR]   (a thin script over this)

Works on any of our exports (the default model, or one made by ``run_engine.py train``). It reads
``<model>.training.json`` beside the model for the training figures, adds what it measures, writes
the JSON back and renders ``MODEL_CARD.md`` (or ``<name>.card.md`` for other models).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from engine.dsp import sound_measures as sm
from engine.dsp.reconstruction import reconstruction_score
from engine.dsp.spectral import multiscale_spectral_distance
from engine.io.audio_files import audio_files, read_audio
from engine.models.resample import resample

MUSIC_DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "music"
WALK_FRAMES = 48


def reset_caches(module: torch.jit.ScriptModule) -> None:
    for name, buf in module.named_buffers():
        if name.endswith("cache"):
            buf.zero_()


def engine_walk(frames: int, seed: int, dims: int) -> np.ndarray:
    """Normalised latent like the engine's walk: smooth AR(1), unit variance per dimension, (dims, frames)."""
    rng = np.random.default_rng(seed)
    z = np.empty((dims, frames))
    z[:, 0] = rng.standard_normal(dims)
    for t in range(1, frames):
        z[:, t] = 0.9 * z[:, t - 1] + math.sqrt(1 - 0.81) * rng.standard_normal(dims)
    return z


def held_apart(decode: Callable[[np.ndarray], np.ndarray], walk: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The decodes of `walk` with dimension `dim` held at -2 and at +2 standard deviations: how the
    card and `order_by_effect` (engine/training/export.py) measure what one dimension does."""
    low, high = walk.copy(), walk.copy()
    low[dim], high[dim] = -2.0, 2.0
    return decode(low), decode(high)


class Exported:
    """A loaded export with the decode helpers the measurements share (seeded noise, reset state)."""

    def __init__(self, module: torch.jit.ScriptModule) -> None:
        self.module = module
        self.rate = int(module.get_sample_rate())
        self.ratio = int(module.decode_params[1])
        self.mean = module.latent_mean.numpy().astype(np.float64)[:, None]
        self.std = module.latent_std.numpy().astype(np.float64)[:, None]
        self.dims = self.mean.shape[0]

    @torch.inference_mode()
    def decode(self, normalised: np.ndarray, seed: int = 0) -> np.ndarray:
        reset_caches(self.module)
        torch.manual_seed(seed)
        z = torch.from_numpy((self.mean + self.std * normalised).astype(np.float32))[None]
        out = self.module.decode(z)[0, 0].numpy()
        reset_caches(self.module)
        return out

    @torch.inference_mode()
    def reconstruct(self, clip: np.ndarray) -> np.ndarray:
        reset_caches(self.module)
        torch.manual_seed(0)
        x = torch.from_numpy(clip.astype(np.float32))[None, None]
        out = self.module.decode(self.module.encode(x))[0, 0].numpy()
        reset_caches(self.module)
        return out


def music_pairs(model: Exported, music: Path, seconds: float = 15.0) -> Iterator[tuple[Path, int, np.ndarray, np.ndarray]]:
    """(file, its sample rate, clip, decode(encode(clip))) for the first ``seconds`` of each recording
    (mono, at the model's rate)."""
    for path in audio_files(music):
        audio, rate = read_audio(path)
        clip = resample(audio.mean(axis=1)[: int(seconds * rate)], rate, model.rate)
        clip = clip[: len(clip) // model.ratio * model.ratio]
        yield path, rate, clip, model.reconstruct(clip)


def music_scores(pairs: Iterable[tuple[Path, int, np.ndarray, np.ndarray]]) -> dict[str, object]:
    """Reconstruction score per file and their mean, from `music_pairs` ({} when there are none)."""
    scores = {path.name: reconstruction_score(clip, rec) for path, _, clip, rec in pairs}
    if not scores:
        return {}
    return {"music_score_mean": float(np.mean(list(scores.values()))), "music_scores": scores}


def music_reconstruction(model: Exported, music: Path, seconds: float = 15.0) -> dict[str, object]:
    """Reconstruction score on the first ``seconds`` of each recording (mono, at the model's rate)."""
    return music_scores(music_pairs(model, music, seconds))


def dimension_effects(model: Exported, first: int = 4, bases: int = 4) -> dict[str, object]:
    """Each of the first dimensions held at -2 and +2 standard deviations on ``bases`` walks.

    Per dimension: median multi-scale spectral distance between the two decodes, and the median
    change (+2 minus -2) of short-term loudness (LU), spectral centroid (Hz) and flatness. Against it:
    the median distance between walks of two different seeds.
    """
    walks = [engine_walk(WALK_FRAMES, 100 + b, model.dims) for b in range(bases + 1)]
    decoded = [model.decode(w) for w in walks]
    seed_change = statistics.median(multiscale_spectral_distance(decoded[b], decoded[b + 1]) for b in range(bases))
    seed_both = statistics.median(both_ways(decoded[b], decoded[b + 1]) for b in range(bases))
    dims = []
    for d in range(min(first, model.dims)):
        dist, back, d_lufs, d_centroid, d_flat = [], [], [], [], []
        for b in range(bases):
            a, c = held_apart(model.decode, walks[b], d)
            dist.append(multiscale_spectral_distance(a, c))
            back.append(multiscale_spectral_distance(c, a))
            d_lufs.append(sm.median_loudness(c, model.rate) - sm.median_loudness(a, model.rate))
            d_centroid.append(sm.median_centroid_hz(c, model.rate) - sm.median_centroid_hz(a, model.rate))
            d_flat.append(float(np.median(sm.flatness(sm.frame_power(c, 2048))))
                          - float(np.median(sm.flatness(sm.frame_power(a, 2048)))))
        dims.append({
            "dim": d,
            "distance": statistics.median(dist),
            "distance_back": statistics.median(back),
            "distance_both_ways": statistics.median((x + y) / 2 for x, y in zip(dist, back, strict=True)),
            "loudness_lu": statistics.median(d_lufs),
            "centroid_hz": statistics.median(d_centroid),
            "flatness": statistics.median(d_flat),
        })
    return {"seed_change_distance": seed_change, "seed_change_both_ways": seed_both, "dimensions": dims}


def both_ways(a: np.ndarray, b: np.ndarray) -> float:
    """The spectral distance measured from each side, averaged: it takes its first sound as the
    reference, so a loudness axis reads small from its loud end and large from its quiet end."""
    return (multiscale_spectral_distance(a, b) + multiscale_spectral_distance(b, a)) / 2


def decode_cost(model: Exported, repeats: int = 200) -> dict[str, float]:
    """One-frame decode time on one torch thread (median, p95) and the real-time factor."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    z = torch.zeros(1, model.dims, 1)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 20):
            t0 = time.perf_counter()
            model.module.decode(z)
            if i >= 20:
                times.append(time.perf_counter() - t0)
    reset_caches(model.module)
    torch.set_num_threads(threads)
    median = statistics.median(times)
    return {
        "decode_ms_median": median * 1e3,
        "decode_ms_p95": float(np.percentile(times, 95)) * 1e3,
        "decode_rtf_median": median / (model.ratio / model.rate),
    }


def describe(d: dict[str, float]) -> str:
    parts = [f"{d['loudness_lu']:+.1f} LU", f"centroid {d['centroid_hz']:+.0f} Hz", f"flatness {d['flatness']:+.3f}"]
    return ", ".join(parts)


def measure(path: Path, music: Path | None) -> dict[str, object]:
    model = Exported(torch.jit.load(str(path)).eval())
    figures: dict[str, object] = {"latent_size": model.dims, "latent_std": [round(float(s), 4) for s in model.std[:, 0]]}
    if music is not None and music.is_dir():
        figures.update(music_reconstruction(model, music))
    figures.update(dimension_effects(model))
    figures.update(decode_cost(model))
    figures["file_size_mb"] = path.stat().st_size / 2**20
    figures["latent_collapsed"] = collapse_warning(figures) is not None
    return figures


# Two engine-like walks of different seeds decoded this close (multi-scale spectral distance) mean the
# decoder ignores its latent: every control would be a stub. A working model measures 0.1 or more
# (the shipped default: two walks 1.3 apart); a collapsed run of the default's v2 trainer measured 1e-5.
COLLAPSED_BELOW = 0.01


def collapse_warning(figures: dict) -> str | None:
    """One line for a model whose latent changes nothing, or None."""
    moved = float(figures.get("seed_change_distance", 1.0))
    if moved >= COLLAPSED_BELOW:
        return None
    return (f"warning: the latent collapsed (two random walks decode {moved:.1e} apart, a working model "
            f"measures 0.1 or more): latent controls would change nothing; retrain with a lower --beta")


def training_json(path: Path) -> Path:
    return path.with_suffix(".training.json")


def card_path(path: Path) -> Path:
    return path.parent / ("MODEL_CARD.md" if path.stem == "default" else f"{path.stem}.card.md")


def write_card(path: Path, r: dict) -> Path:
    dims = "\n".join(
        f"| {d['dim']} | {d['distance']:.3f} | {d.get('distance_back', math.nan):.3f} | "
        f"{d.get('distance_both_ways', math.nan):.3f} | {d['loudness_lu']:+.1f} | {d['centroid_hz']:+.0f} | {d['flatness']:+.3f} |"
        for d in r["dimensions"]
    )
    music = ""
    if "music_scores" in r:
        rows = "\n".join(f"| {name} | {score:.3f} |" for name, score in r["music_scores"].items())
        music = f"""
### Real music it never saw
Reconstruction score (`engine/dsp/reconstruction.py`: multi-scale log-spectral L1 between a clip and
decode(encode(clip)) at equal RMS, divided by the same distance for envelope-matched white noise;
0 is perfect, 1 is no better than noise), first 15 s of each recording in `{r.get("music_dir", "../shared/fixtures/music")}`:

| recording | score |
|---|---|
{rows}
| **mean** | **{r["music_score_mean"]:.3f}** |
"""
    synthesis = ("learned overlap-add synthesis basis (conv-transpose, kernel 512, stride 256) + filtered noise "
                 "(mel-spaced band gains on random-phase rFFT frames, Hann overlap-add)")
    if r.get("config", {}).get("band_edge"):
        synthesis = ("learned spectra (a 1x1 conv to 257 complex rFFT bins per hop, inverse FFT, Hann overlap-add) "
                     "+ filtered noise (mel-spaced band gains on random-phase rFFT frames), both low-passed per hop at "
                     "a band edge the decoder reads off the latent (sigmoid mask, -87 dB 1.5 kHz past the edge)")
    analysis = "learned analysis filter pairs (kernel 512, hop 256, initialised as a windowed log-frequency STFT)"
    if r.get("config", {}).get("frozen_analysis"):
        analysis = ("analysis filter pairs fixed at a windowed log-frequency STFT (kernel 512, hop 256, 40 Hz to 21.6 kHz; "
                    "trained, they drift below 4 kHz and the encoder stops hearing the upper band)")
    text = f"""# Model card: `{path.name}`

Trained by `{r.get("trainer", "training/train_default_model.py")}` (our own code; no third-party model code or weights).

## Interface (nn~ format)
- {r.get("sample_rate", 48000)} Hz mono; `encode` (B,1,T) -> (B,{r["latent_size"]},T/2048); `decode` (B,{r["latent_size"]},L) -> (B,1,L*2048); `forward` = decode(encode(x)).
- Streaming export: causal convolutions with in-place `*.cache` buffers (max batch 8); chunked calls equal one long call (max difference {r.get("streaming_max_abs_diff", float("nan")):.1e}).
- `decode` adds a filtered-noise branch with random phases from torch's global generator: seed it for reproducible calls (the engine swaps in each voice's own seeded stream).
- Latents are PCA-rotated (`latent_pca`, `latent_center` buffers), the axes in order of their measured effect on the sound (`engine/training/export.py`, `order_by_effect`): dimension 0 changes it most, so the first faders matter most. `latent_mean`/`latent_std` hold the rotated posterior-mean statistics the engine scales its controls by (std per dimension: {", ".join(f"{s:.2f}" for s in r["latent_std"])}).

## Architecture
- Encoder: {analysis} -> log magnitude -> 1x1 conv -> 3 causal stride-2 convs -> mean / log-variance.
- Decoder: causal conv -> 3 x (nearest x2 upsample + causal conv, 2 dilated residual units) -> at hop 256: {synthesis}.
- Config: `{json.dumps(r.get("config", {}))}`; parameters: {r.get("parameters", 0):,}; file size: {r["file_size_mb"]:.2f} MB.

## Data
{r.get("data", "")}

## Training
{r.get("training", "")}

## Evaluation
{r.get("corpus_evaluation", "")}
{music}
### What the first dimensions do
Each dimension held at -2 and at +2 standard deviations over 4 engine-like random walks of {WALK_FRAMES} frames (other
dimensions walking); medians of the change from -2 to +2. For scale: two walks of different seeds are
{r["seed_change_distance"]:.3f} apart (multi-scale spectral distance, `engine/dsp/spectral.py`), {r.get("seed_change_both_ways", math.nan):.3f}
measured both ways. The distance takes its first sound as the reference, so an axis that mostly
changes loudness reads small from its loud end and large from its quiet end: both are shown, and
their mean, which does not depend on which end a fader calls -2.

| dim | distance -2 vs +2 | +2 vs -2 | both ways | loudness (LU) | centroid (Hz) | flatness |
|---|---|---|---|---|---|---|
{dims}

## Runtime
- Decode of one latent frame (2048 samples) on 1 torch thread: median {r["decode_ms_median"]:.3f} ms, p95 {r["decode_ms_p95"]:.3f} ms, real-time factor {r["decode_rtf_median"]:.4f}.
"""
    out = card_path(path)
    out.write_text(text)
    return out


def report(path: Path, music: Path | None = MUSIC_DEFAULT, extra: dict | None = None) -> dict:
    """Measure ``path``, merge with its training JSON (and ``extra``), write both JSON and card."""
    jpath = training_json(path)
    results = json.loads(jpath.read_text()) if jpath.exists() else {}
    results.update(extra or {})
    results.update(measure(path, music))
    if music is not None and music.is_dir():
        results["music_dir"] = "../shared/fixtures/music" if music == MUSIC_DEFAULT else str(music)
    jpath.write_text(json.dumps(results, indent=2) + "\n")
    write_card(path, results)
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--music", type=Path, default=MUSIC_DEFAULT)
    a = p.parse_args(argv)
    r = report(a.model, a.music)
    print(json.dumps({k: v for k, v in r.items() if k in ("music_score_mean", "seed_change_distance", "dimensions", "decode_rtf_median")}, indent=1))


if __name__ == "__main__":
    main()
