"""`render --input` speed: the default model played from a file (encode + decode per frame) at
drywet 1 and 0.5, and the nn~ demo effects' audio methods, as real-time factors on one torch thread.

.venv/bin/python bench/bench_input_render.py [--seconds 20] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.render.offline import RenderRequest, render  # noqa: E402

DEMO = ROOT.parent / "shared" / "fixtures" / "nn_tilde_demo"


def _input(path: Path, seconds: float, rate: int) -> None:
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t)))
    sf.write(path, signal.astype(np.float32), rate, subtype="FLOAT")


def _run(model: NNModel, path: Path, seconds: float, method: str | None, sets: list[str]) -> dict[str, float]:
    best = min((render(RenderRequest(seconds=None, input=path, method=method, sets=sets), model=model)
                for _ in range(3)), key=lambda r: r.wall_seconds)
    return {"realtime_factor": round(best.wall_seconds / seconds, 5), "wall_s": round(best.wall_seconds, 3),
            "rms": round(float(np.sqrt(np.mean(best.audio.astype(np.float64) ** 2))), 5)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, object] = {"seconds": args.seconds, "threads": 1}
    with tempfile.TemporaryDirectory() as tmp:
        model = NNModel.load(DEFAULT_MODEL)
        path = Path(tmp) / "in.wav"
        _input(path, args.seconds, model.sample_rate or 48000)
        results["default_decode_drywet_1"] = _run(model, path, args.seconds, None, [])
        results["default_decode_drywet_0.5"] = _run(model, path, args.seconds, None, ["/rave/drywet=0.5"])
        results["default_forward"] = _run(model, path, args.seconds, "forward", [])
        if DEMO.is_dir():
            effects = NNModel.load(DEMO / "src_models_effects.ts")
            effect_input = Path(tmp) / "in44.wav"
            _input(effect_input, args.seconds, 44100)
            for method in ("thru", "saturate", "fractalize", "midside"):
                results[f"demo_{method}"] = _run(effects, effect_input, args.seconds, method, [])
    text = json.dumps(results, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
