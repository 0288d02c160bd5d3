"""Decode cost per setting (frames per decode call x torch threads): ms per call, ms per frame and
real-time factor, for the default model and a stand-in the size of a full RAVE v2 export, and the
setting the live engine would choose from these figures.

The stand-in (tests/model_factories.py `make_conv_decoder_model`, 44.1 kHz, latent 64, ratio 2048,
~31 M random weights in 48 wide cached convolutions at the latent rate) is batch-friendly as the
real export is: one frame per call is a matrix-vector product per layer, so batching frames costs
little more per call. Figures depend on what else the machine runs; this prints what it measured.

.venv/bin/python bench/bench_decode_cost.py [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from model_factories import make_conv_decoder_model  # noqa: E402

from engine.errors import ModelLoadError  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.session.decode_choice import choose, latency_seconds, measure_grid  # noqa: E402


def table(path: Path, name: str) -> dict[str, object]:
    model = NNModel.load(path)
    model.warm_up()
    costs = measure_grid(model, prune=False)
    frame_seconds = model.decode_ratio / (model.sample_rate or 48000)
    rows = [{**c.as_dict(), "latency_ms": round(latency_seconds(c, frame_seconds) * 1000, 1)} for c in costs]
    try:
        best, note = choose(costs, frame_seconds, name)
        chosen: dict[str, object] = {"frames_per_call": best.frames_per_call, "threads": best.threads, "note": note}
    except ModelLoadError as exc:
        chosen = {"refused": str(exc)}
    return {"model": name, "sample_rate": model.sample_rate, "frame_ms": round(frame_seconds * 1000, 2),
            "rows": rows, "chosen": chosen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        standin = make_conv_decoder_model(Path(tmp), latent_size=64, width=464, layers=48, sr=44100)
        weights = sum(p.numel() for p in NNModel.load(standin).module.parameters())
        result = {"default": table(DEFAULT_MODEL, "models/default.ts"),
                  "rave_v2_standin": {**table(standin, "RAVE-v2-sized stand-in"), "weights": weights}}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
