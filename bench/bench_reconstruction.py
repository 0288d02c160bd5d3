"""How well a model reproduces real music it never saw (the model card's reconstruction score).

.venv/bin/python bench/bench_reconstruction.py [--model PATH] [--music DIR] [--seconds 15] [--json-out FILE]

For each recording in DIR (default ../shared/fixtures/music): the first 15 s, mixed to mono and
resampled to the model's rate, then decode(encode(clip)) (engine.training.report.music_reconstruction,
the same code the model card uses). Score per file = engine.dsp.reconstruction.reconstruction_score
(log-spectral L1 against envelope-matched noise; 1.0 = no better than noise). Prints a table and
the mean; --json-out writes the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.training.report import Exported, music_reconstruction  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--music", type=Path, default=ROOT.parent / "shared" / "fixtures" / "music")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--json-out", type=Path)
    a = p.parse_args()
    if not a.music.is_dir():
        raise SystemExit(f"{a.music}: no such folder (put ../shared beside the checkout or pass --music)")
    torch.set_num_threads(2)
    scores = music_reconstruction(Exported(torch.jit.load(str(a.model)).eval()), a.music, a.seconds)
    if not scores:
        raise SystemExit(f"{a.music}: no audio files")
    files = [{"file": name, "score": round(score, 4)} for name, score in scores["music_scores"].items()]
    result = {"model": str(a.model), "seconds": a.seconds, "files": files,
              "mean_score": round(scores["music_score_mean"], 4)}
    for row in files:
        print(f"{row['file']:<50} {row['score']:.4f}")
    print(f"{'mean':<50} {result['mean_score']:.4f}")
    if a.json_out:
        a.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
