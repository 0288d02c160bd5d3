"""Decode real-time factor of a TorchScript nn~-style model on one torch thread.

.venv/bin/python bench/bench_decode_rtf.py [--model models/default.ts] [--json-out FILE]
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

FRAME_SAMPLES = 2048
TARGET_RTF = 0.05


def model_sample_rate(model: torch.jit.ScriptModule) -> int:
    if hasattr(model, "get_sample_rate"):
        return int(model.get_sample_rate())
    return int(model.sr)


def latent_channels(model: torch.jit.ScriptModule) -> int:
    return int(model.decode_params[0])


def bench(path: Path, repeats: int = 200, warmup: int = 20) -> dict[str, object]:
    torch.set_num_threads(1)
    model = torch.jit.load(str(path))
    model.eval()
    sr = model_sample_rate(model)
    z = torch.randn(1, latent_channels(model), 1)
    times: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            model.decode(z)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.decode(z)
            times.append(time.perf_counter() - t0)
    frame_seconds = FRAME_SAMPLES / sr
    median = statistics.median(times)
    rtf = median / frame_seconds
    return {
        "model": str(path),
        "sample_rate": sr,
        "frame_samples": FRAME_SAMPLES,
        "decode_ms_median": median * 1e3,
        "decode_ms_p95": float(np.percentile(times, 95)) * 1e3,
        "decode_ms_max": max(times) * 1e3,
        "rtf_median": rtf,
        "target_rtf": TARGET_RTF,
        "pass": bool(rtf <= TARGET_RTF),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/default.ts"))
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = bench(args.model, args.repeats)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
