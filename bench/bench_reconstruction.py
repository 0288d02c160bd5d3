"""How well a model reproduces real music it never saw (the model card's reconstruction score).

.venv/bin/python bench/bench_reconstruction.py [--model PATH] [--music DIR] [--seconds 15] [--where] [--full-band N]
    [--json-out FILE]

For each recording in DIR (default ../shared/fixtures/music): the first 15 s, mixed to mono and
resampled to the model's rate, then decode(encode(clip)) (engine.training.report.music_pairs, the
same code the model card's music_reconstruction uses, scored by its music_scores). Score per file =
engine.dsp.reconstruction.reconstruction_score (log-spectral L1 against envelope-matched noise; 1.0 =
no better than noise). Prints a table and the mean; --json-out writes the same.

--where says where in the spectrum the distance lies, per file: the mean error (nats per bin, over the
four FFT sizes) of the model and of the noise below 2 kHz, from 2 kHz to the file's band edge (half
its sample rate, when that is under the model's) and above the edge, each band's share of the score,
and the score the model would get with nothing above the edge (its output brick-walled there, zero
phase: an oracle, not a model).

--full-band N scores N full-band procedural clips (training/corpus.py, not band-limited, 4.096 s,
seed 11) the same way, with the median share of power above 11.5 kHz in the clips and in their
reconstructions: both fixtures are 22.05 kHz files, so a model that never sounds above 11 kHz scores
well on them and badly here.
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

from engine.dsp.reconstruction import bin_errors, envelope_noise, reconstruction_score  # noqa: E402
from engine.dsp.spectral import power_above_db  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.training.report import Exported, music_pairs, music_scores  # noqa: E402
from training.corpus import make_clip  # noqa: E402

LOW_BAND_HZ = 2000.0
HIGH_BAND_HZ = 11500.0


def full_band(model: Exported, count: int) -> dict[str, float]:
    """Scores on full-band procedural clips, and how much of clip and reconstruction lies up high."""
    rng = np.random.default_rng(11)
    scores, clip_above, rec_above = [], [], []
    for _ in range(count):
        clip = make_clip(rng, 4.096, model.rate, peak_db=(-14.0, -10.0), band_limit=False)
        rec = model.reconstruct(clip)
        scores.append(reconstruction_score(clip, rec))
        clip_above.append(power_above_db(clip, HIGH_BAND_HZ, model.rate))
        rec_above.append(power_above_db(rec, HIGH_BAND_HZ, model.rate))
    return {"clips": count, "mean_score": round(float(np.mean(scores)), 4),
            "clip_above_db_median": round(float(np.median(clip_above)), 1),
            "reconstruction_above_db_median": round(float(np.median(rec_above)), 1)}


def band_breakdown(clip: np.ndarray, rec: np.ndarray, rate: int, edge_hz: float) -> dict[str, object]:
    """Where the distance lies: per band, nats per bin and share of the distance, model and noise."""
    bands = {"below_2k": (0.0, LOW_BAND_HZ), "2k_to_edge": (LOW_BAND_HZ, edge_hz), "above_edge": (edge_hz, rate)}
    noise = envelope_noise(clip, np.random.default_rng(0))  # the score's own baseline (seed 0)
    out: dict[str, object] = {"edge_hz": edge_hz}
    for name, other in (("model", rec), ("noise", noise)):
        errors = bin_errors(clip, other)
        total = np.mean([e.mean() for e in errors.values()])
        rows = {}
        for band, (lo, hi) in bands.items():
            per_bin, share = [], []
            for n_fft, e in errors.items():
                hz = np.arange(e.size) * rate / n_fft
                inside = (hz >= lo) & (hz < hi)
                per_bin.append(e[inside].mean() if inside.any() else 0.0)
                share.append(e[inside].sum() / e.size)
            rows[band] = {"nats_per_bin": round(float(np.mean(per_bin)), 3),
                          "share": round(float(np.mean(share) / total), 3)}
        out[name] = rows
    spectrum = np.fft.rfft(rec)
    spectrum[np.fft.rfftfreq(rec.size, 1.0 / rate) >= edge_hz] = 0.0
    out["score_with_nothing_above_edge"] = round(reconstruction_score(clip, np.fft.irfft(spectrum, rec.size)), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--music", type=Path, default=ROOT.parent / "shared" / "fixtures" / "music")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--where", action="store_true", help="where in the spectrum the distance lies (see above)")
    p.add_argument("--full-band", type=int, default=0, metavar="N", help="also score N full-band procedural clips")
    p.add_argument("--json-out", type=Path)
    a = p.parse_args()
    if not a.music.is_dir():
        raise SystemExit(f"{a.music}: no such folder (put ../shared beside the checkout or pass --music)")
    torch.set_num_threads(2)
    model = Exported(torch.jit.load(str(a.model)).eval())
    pairs = list(music_pairs(model, a.music, a.seconds))  # each recording read and reconstructed once
    if not pairs:
        raise SystemExit(f"{a.music}: no audio files")
    scores = music_scores(pairs)  # the model card's figures, from the same pairs
    files = [{"file": name, "score": round(score, 4)} for name, score in scores["music_scores"].items()]
    result = {"model": str(a.model), "seconds": a.seconds, "files": files,
              "mean_score": round(scores["music_score_mean"], 4)}
    for row in files:
        print(f"{row['file']:<50} {row['score']:.4f}")
    print(f"{'mean':<50} {result['mean_score']:.4f}")
    if a.where:
        where = {}
        for path, file_rate, clip, rec in pairs:
            where[path.name] = band_breakdown(clip, rec, model.rate, min(file_rate, model.rate) / 2)
            w = where[path.name]
            print(f"{path.name}: band edge {w['edge_hz']:.0f} Hz; with nothing above it the score would be "
                  f"{w['score_with_nothing_above_edge']:.4f}")
            for band in ("below_2k", "2k_to_edge", "above_edge"):
                m, n = w["model"][band], w["noise"][band]
                print(f"  {band:<11} model {m['nats_per_bin']:6.3f} nats/bin ({m['share']:.0%} of its distance)"
                      f"   noise {n['nats_per_bin']:6.3f} ({n['share']:.0%})")
        result["where"] = where
    if a.full_band:
        result["full_band"] = full_band(model, a.full_band)
        fb = result["full_band"]
        print(f"{a.full_band} full-band procedural clips: mean score {fb['mean_score']:.4f}; power above "
              f"{HIGH_BAND_HZ:.0f} Hz: clips {fb['clip_above_db_median']:.1f} dB, reconstructions "
              f"{fb['reconstruction_above_db_median']:.1f} dB (medians)")
    if a.json_out:
        a.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
