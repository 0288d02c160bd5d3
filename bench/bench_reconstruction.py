"""How well a model reproduces real music it never saw (the model card's reconstruction score).

.venv/bin/python bench/bench_reconstruction.py [--model PATH] [--music DIR] [--seconds 15] [--json-out FILE]

For each recording in DIR (default ../shared/fixtures/music): the first 15 s, mixed to mono and
resampled to the model's rate, then decode(encode(clip)) with the model's own ``forward``
path split into encode and decode. Score per file = engine.dsp.reconstruction.reconstruction_score
(log-spectral L1 against envelope-matched noise; 1.0 = no better than noise). Prints a table and
the mean; --json-out writes the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.dsp.reconstruction import reconstruction_score  # noqa: E402
from engine.io.audio_files import read_audio  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.models.resample import resample  # noqa: E402

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}


def clip_of(path: Path, rate: int, seconds: float) -> np.ndarray:
    audio, file_rate = read_audio(path)
    mono = audio.mean(axis=1)[: int(seconds * file_rate)]
    return resample(mono, file_rate, rate)


@torch.no_grad()
def reconstruct(model: NNModel, clip: np.ndarray) -> np.ndarray:
    """decode(encode(clip)), trimmed or padded to the clip's length (the model's streaming state reset first)."""
    ratio = model.decode_ratio
    usable = len(clip) // ratio * ratio
    model.reset()
    torch.manual_seed(0)
    z = model.encode(torch.from_numpy(clip[:usable].astype(np.float32))[None, None])
    y = model.decode(z)[0, 0].numpy()
    out = np.zeros(len(clip), dtype=np.float64)
    out[: min(len(y), len(clip))] = y[: len(clip)]
    return out


def score_model(model_path: Path, music: Path, seconds: float) -> dict[str, object]:
    model = NNModel.load(model_path, threads=2)
    rate = int(model.sample_rate or 48000)
    rows = []
    for path in sorted(p for p in music.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        clip = clip_of(path, rate, seconds)
        recon = reconstruct(model, clip)
        usable = len(clip) // model.decode_ratio * model.decode_ratio
        rows.append({"file": path.name, "score": round(reconstruction_score(clip[:usable], recon[:usable]), 4)})
    scores = [float(r["score"]) for r in rows]
    return {"model": str(model_path), "seconds": seconds, "files": rows, "mean_score": round(float(np.mean(scores)), 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--music", type=Path, default=ROOT.parent / "shared" / "fixtures" / "music")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--json-out", type=Path)
    a = p.parse_args()
    if not a.music.is_dir():
        raise SystemExit(f"{a.music}: no such folder (put ../shared beside the checkout or pass --music)")
    result = score_model(a.model, a.music, a.seconds)
    for row in result["files"]:
        print(f"{row['file']:<50} {row['score']:.4f}")
    print(f"{'mean':<50} {result['mean_score']:.4f}")
    if a.json_out:
        a.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
