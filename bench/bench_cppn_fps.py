"""Frames per second of the `cppn` generator on one torch thread, per dtype / memory layout and for the auto choice.

Each option renders warm-up frames, then `--frames` timed frames fed with moving features, a 128-value
audio latent and a beat every 15 frames (the per-frame work of a show). Reported: median fps (from the
median frame time), the 90th-percentile frame time, and what auto picked. Targets: >= 30 fps at
256x256, >= 15 fps at 512x512. The machine's other core may be busy; medians keep that out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.analysis.features import INDEX, N_FEATURES  # noqa: E402
from engine.visual.frame_input import VisualFrame  # noqa: E402
from engine.visual.generators.cppn import CppnGenerator  # noqa: E402

TARGET_FPS = {256: 30.0, 512: 15.0}
OPTIONS: dict[str, dict[str, object]] = {
    "float32/contiguous": {"dtype": "float32", "channels_last": False, "scale": 1.0},
    "float32/channels_last": {"dtype": "float32", "channels_last": True, "scale": 1.0},
    "bfloat16/contiguous": {"dtype": "bfloat16", "channels_last": False, "scale": 1.0},
    "bfloat16/channels_last": {"dtype": "bfloat16", "channels_last": True, "scale": 1.0},
    "auto": {},
}


def frames(count: int, seed: int = 0) -> list[VisualFrame]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        row = np.clip(0.4 + 0.3 * np.sin(i / 9.0 + np.arange(N_FEATURES)) + 0.1 * rng.standard_normal(N_FEATURES),
                      0.0, 1.0).astype(np.float32)
        row[INDEX["beat"]] = float(i % 15 == 0)
        out.append(VisualFrame(index=i, features=row, latent=rng.standard_normal(128).astype(np.float32),
                               beat=i % 15 == 0, onset=i % 5 == 0))
    return out


def measure(size: int, options: dict[str, object], count: int, warmup: int) -> dict[str, object]:
    started = time.perf_counter()
    gen = CppnGenerator(size, size, seed=0, threads=1, **options)  # type: ignore[arg-type]
    construct_s = time.perf_counter() - started
    inputs = frames(warmup + count)
    times = []
    for k, frame in enumerate(inputs):
        t0 = time.perf_counter()
        gen.render(frame)
        if k >= warmup:
            times.append(time.perf_counter() - t0)
    info = gen.info()
    gen.close()
    median = statistics.median(times)
    return {
        "fps": round(1.0 / median, 1),
        "median_ms": round(median * 1000.0, 2),
        "p90_ms": round(float(np.percentile(times, 90)) * 1000.0, 2),
        "frames": count,
        "construct_s": round(construct_s, 2),
        "chosen": {key: info[key] for key in ("dtype", "channels_last", "scale", "internal_size")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--frames", type=int, default=90, help="timed frames per option (at least 60)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, object] = {
        "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": 1,
    }
    for size in args.sizes:
        per_size: dict[str, object] = {}
        for name, options in OPTIONS.items():
            per_size[name] = measure(size, options, max(60, args.frames), args.warmup)
        auto = per_size["auto"]
        assert isinstance(auto, dict)
        target = TARGET_FPS.get(size)
        per_size["target_fps"] = target
        per_size["auto_meets_target"] = None if target is None else auto["fps"] >= target
        results[f"{size}x{size}"] = per_size
    text = json.dumps(results, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
