"""Decode cost per latent frame of one model against two (`/rave/model/b`): what a second model adds.

Times `RenderGraph.next_frame()` (the whole frame as the live render thread makes it: controls, decode,
tilt, mix, master) on one torch thread, with the playing model alone and with each second model beside
it at /rave/model_mix 0.5, in interleaved turns of 10 frames (a busy neighbour then weighs on each
alike); and each model's bare decode of one frame. Medians and 95th percentiles, one JSON object.

.venv/bin/python bench/bench_two_models.py [--model PATH] [--second PATH ...] [--frames N] [--json-out FILE]
(without --second: the default model again and an untrained RAVE-shaped decoder of latent size 16 at 44.1 kHz;
and a stand-in costing --costly-ms per frame, 8 by default)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.costly_model import build as build_costly  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.params.store import ParamStore  # noqa: E402
from engine.params.table import build_param_table  # noqa: E402
from engine.render.graph import RenderGraph  # noqa: E402
from engine.render.second_model import SecondModel  # noqa: E402
from engine.session.decode_choice import HEADROOM_FACTOR  # noqa: E402
from tests.model_factories import make_random_decoder_model  # noqa: E402

WARMUP_FRAMES = 10
ROUND = 10  # frames timed in a row per graph before the next graph's turn
OUTPUT_RATE = 48000


def _stats(seconds: list[float], frame_seconds: float) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    median = statistics.median(ms)
    return {"ms_median": round(median, 3), "ms_p95": round(float(np.percentile(ms, 95)), 3),
            "realtime_factor": round(median / 1000.0 / frame_seconds, 4)}


def _graph(model_path: Path, second: Path | None) -> RenderGraph:
    model = NNModel.load(model_path)
    store = ParamStore(build_param_table(model.latent_size or 1))
    store.set("/rave/model_mix", 0.5)
    graph = RenderGraph(model, store, seed=0, output_rate=OUTPUT_RATE)
    if second is not None:
        graph.second.offer(SecondModel(NNModel.load(second), seed=0), fade=False)
    return graph


def _decoder(model_path: Path) -> tuple[Callable[[], object], float]:
    model = NNModel.load(model_path)
    z = torch.randn(1, model.latent_size or 1, 1)

    def decode() -> object:
        with torch.inference_mode():
            return model.module.decode(z)

    return decode, model.decode_ratio / (model.sample_rate or OUTPUT_RATE)


def interleaved(calls: dict[str, Callable[[], object]], frames: int) -> dict[str, list[float]]:
    """Time every callable in turns of ROUND calls, so a neighbour's load falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(WARMUP_FRAMES):
            call()
    for _ in range(max(1, frames // ROUND)):
        for name, call in calls.items():
            for _ in range(ROUND):
                started = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--second", type=Path, action="append", default=[])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--costly-ms", type=float, default=8.0,
                        help="also a stand-in second model whose decode costs about this (bench/costly_model.py; 0: none)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        seconds = args.second or [args.model, make_random_decoder_model(Path(tmp), latent_size=16, sr=44100)]
        if args.costly_ms > 0:
            seconds.append(build_costly(Path(tmp) / f"costly_{args.costly_ms:g}ms.ts", args.costly_ms)[0])
        graphs = {"one": _graph(args.model, None)}
        graphs.update((f"two:{i}", _graph(args.model, path)) for i, path in enumerate(seconds))
        frame_times = interleaved({name: g.next_frame for name, g in graphs.items()}, args.frames)
        decoders = {"a": _decoder(args.model), **{f"b:{i}": _decoder(p) for i, p in enumerate(seconds)}}
        decode_times = interleaved({name: d[0] for name, d in decoders.items()}, args.frames)
        frame_seconds = graphs["one"].frame_seconds
        one = _stats(frame_times["one"], frame_seconds)
        result: dict[str, object] = {
            "model": args.model.name, "frames": args.frames, "threads": 1, "live_budget": HEADROOM_FACTOR,
            "one_model": {"frame": one, "decode": _stats(decode_times["a"], decoders["a"][1])},
            "two_models": [],
        }
        for i, second in enumerate(seconds):
            two = _stats(frame_times[f"two:{i}"], frame_seconds)
            result["two_models"].append({  # type: ignore[union-attr]
                "second": second.name, "frame": two,
                "decode": _stats(decode_times[f"b:{i}"], decoders[f"b:{i}"][1]),
                "added_ms_median": round(two["ms_median"] - one["ms_median"], 3),
                "cost_ratio": round(two["ms_median"] / one["ms_median"], 3),
                # the live load check sums the two decodes' factors against this
                "within_live_budget": two["realtime_factor"] <= HEADROOM_FACTOR})
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
