"""Does a model know where its input's band ends? The diagnosis behind the reconstruction score.

.venv/bin/python bench/bench_band_edge.py [--model PATH] [--clips 160] [--json-out FILE]

Real files rarely fill the band: a 22.05 kHz recording holds nothing above 11,025 Hz, a lossy codec
little above 16 kHz. Both music fixtures are such files, and most of the default model's
reconstruction distance lies above their edge (`bench_reconstruction.py --where`). Here each of
`--clips` full-band procedural clips (training/corpus.py, 2.048 s) is brick-walled at 24 (none), 16,
11.025 and 8 kHz, as a resampled file is, and encoded. Two measures:

- the latent: a classifier (multinomial logistic regression, and a two-layer MLP) learns the edge
  from one latent frame (posterior mean) on three quarters of the clips and names it on the rest;
  chance is 25 %. A latent that carries the edge lets a decoder reproduce it. For scale, the same
  classifiers on the input itself (its log power from 8.1 to 10.9, 11.1 to 15.9 and 16.1 to 24 kHz,
  per frame): some clips hold little above 8 kHz even whole, so not even the input tells every edge;
- the output: how much of decode(encode(x)) lies above the edge, in dB of its power (one
  Hann-windowed FFT of the clip), against the input's (nothing: a brick wall leaves float rounding).

For a model of our architecture it also says where the encoder listens: the peak frequency of each
of its learned analysis filter pairs (they start on a log grid from 40 Hz to 21.6 kHz), so a
latent that cannot know the edge because no filter hears that high shows as such.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.dsp.spectral import power_above_db  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.training.report import Exported, reset_caches  # noqa: E402
from training.corpus import make_clip  # noqa: E402

EDGES_HZ = (24000.0, 16000.0, 11025.0, 8000.0)
CLIP_SECONDS = 2.048
SKIP_FRAMES = 2  # the encoder's causal warm-up


def brick_wall(x: np.ndarray, edge_hz: float, rate: int) -> np.ndarray:
    """Nothing at or above `edge_hz` (zero phase), as a file recorded at twice that rate holds."""
    if edge_hz >= rate / 2:
        return x
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(x.size, 1.0 / rate) >= edge_hz] = 0.0
    return np.fft.irfft(spectrum, x.size).astype(np.float32)


def band_powers(x: np.ndarray, frame: int, rate: int) -> np.ndarray:
    """Per frame, log10 power in the three bands between the edges (the classifiers' reference)."""
    power = np.abs(np.fft.rfft(x[: x.size // frame * frame].reshape(-1, frame), axis=1)) ** 2
    hz = np.fft.rfftfreq(frame, 1.0 / rate)
    bands = ((8100.0, 10900.0), (11100.0, 15900.0), (16100.0, 24000.0))
    return np.stack([np.log10(power[:, (hz > lo) & (hz < hi)].sum(axis=1) + 1e-12) for lo, hi in bands], axis=1)


@torch.inference_mode()
def encode(model: Exported, x: np.ndarray) -> np.ndarray:
    reset_caches(model.module)
    z = model.module.encode(torch.from_numpy(x)[None, None])[0].numpy().T  # (frames, dims)
    reset_caches(model.module)
    return z


def analysis_peaks_hz(module: torch.jit.ScriptModule, rate: int) -> np.ndarray | None:
    """Peak frequency of each learned analysis filter pair (cos + sin power), or None if the model
    has no such front end."""
    try:
        weight = module.encoder.analysis.conv.weight.detach().numpy()[:, 0]
    except AttributeError:
        return None
    pairs = weight.shape[0] // 2
    n_fft = 8192
    power = np.abs(np.fft.rfft(weight[:pairs], n_fft)) ** 2 + np.abs(np.fft.rfft(weight[pairs:], n_fft)) ** 2
    return np.sort(np.argmax(power, axis=1) * rate / n_fft)


def classify(z: np.ndarray, label: np.ndarray, train: np.ndarray, hidden: int) -> tuple[float, list[list[int]]]:
    """Held-out accuracy and confusion (rows: true edge, columns: named edge) of a classifier."""
    x = torch.tensor(z, dtype=torch.float32)
    x = (x - x[train].mean(0)) / (x[train].std(0) + 1e-6)
    y = torch.tensor(label)
    torch.manual_seed(0)
    classes = len(EDGES_HZ)
    net = torch.nn.Linear(x.shape[1], classes) if hidden == 0 else torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, classes))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    tr = torch.tensor(train)
    for _ in range(1500):
        loss = torch.nn.functional.cross_entropy(net(x[tr]), y[tr])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        named = net(x[~tr]).argmax(1).numpy()
    truth = label[~train]
    confusion = [[int(np.sum((truth == a) & (named == b))) for b in range(classes)] for a in range(classes)]
    return float(np.mean(named == truth)), confusion


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--clips", type=int, default=160)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--json-out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(1)
    model = Exported(torch.jit.load(str(a.model)).eval())
    rng = np.random.default_rng(a.seed)
    latents, inputs, labels, clip_of = [], [], [], []
    above: dict[float, list[float]] = {edge: [] for edge in EDGES_HZ[1:]}
    for clip_index in range(a.clips):
        clip = make_clip(rng, CLIP_SECONDS, model.rate, peak_db=(-14.0, -10.0), band_limit=False)
        for k, edge in enumerate(EDGES_HZ):
            x = brick_wall(clip, edge, model.rate)
            z = encode(model, x)[SKIP_FRAMES:]
            latents.append(z)
            inputs.append(band_powers(x, model.ratio, model.rate)[SKIP_FRAMES:SKIP_FRAMES + len(z)])
            labels += [k] * len(z)
            clip_of += [clip_index] * len(z)
            if edge in above:
                above[edge].append(power_above_db(model.reconstruct(x), edge, model.rate))
    z_all, label = np.concatenate(latents), np.array(labels)
    train = np.array(clip_of) < int(0.75 * a.clips)  # held out by clip, not by frame
    result: dict[str, object] = {"model": str(a.model), "clips": a.clips, "edges_hz": list(EDGES_HZ),
                                 "chance": round(1 / len(EDGES_HZ), 3)}
    for source, features in (("latent", z_all), ("input", np.concatenate(inputs))):
        for name, hidden in (("logistic", 0), ("mlp", 64)):
            accuracy, confusion = classify(features, label, train, hidden)
            result[f"{source}_{name}"] = {"accuracy": round(accuracy, 3), "confusion": confusion}
            what = "one latent frame" if source == "latent" else "the input's band powers"
            print(f"{name:<9} names the edge from {what}: {accuracy:.1%} right (chance 25%)")
    result["output_above_edge_db"] = {f"{edge:.0f}": round(statistics.median(v), 1) for edge, v in above.items()}
    for edge, v in above.items():
        print(f"input brick-walled at {edge:>6.0f} Hz: its reconstruction puts {statistics.median(v):6.1f} dB of its "
              "power above the edge (median; the input: nothing)")
    peaks = analysis_peaks_hz(model.module, model.rate)
    if peaks is not None:
        result["analysis_filters"] = {"count": int(peaks.size), "highest_peak_hz": round(float(peaks[-1])),
                                      **{f"above_{k}k": int(np.sum(peaks > k * 1000)) for k in (4, 8, 11)}}
        print(f"the encoder's {peaks.size} analysis filters peak at most at {peaks[-1]:.0f} Hz; above 4, 8 and "
              f"11 kHz: {np.sum(peaks > 4000)}, {np.sum(peaks > 8000)}, {np.sum(peaks > 11000)}")
    if a.json_out:
        a.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
