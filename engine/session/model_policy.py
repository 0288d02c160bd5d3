"""Which models the session plays and how far ahead it renders them: decode timing at load,
the real-time refusal, and the lookahead that rides out a slow decode."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import ModelLoadError
from engine.models.nn_tilde import ASSUMED_SAMPLE_RATE, NNModel

MAX_REALTIME_FACTOR = 0.7  # a model slower than this on one thread cannot hold real time with headroom
MIN_LOOKAHEAD_SECONDS = 0.04


@dataclass(frozen=True)
class ModelTiming:
    decode_ms_median: float
    decode_ms_max: float
    realtime_factor: float


def measure_decode(model: NNModel, frames: int = 12) -> ModelTiming:
    """Decode time per latent frame after warm-up, on the thread count already set (one by default)."""
    model.warm_up()
    z = torch.zeros(1, model.latent_size or 1, 1)
    times = []
    for _ in range(frames):
        started = time.perf_counter()
        model.decode(z)
        times.append((time.perf_counter() - started) * 1000)
    model.reset()
    rate = model.sample_rate or ASSUMED_SAMPLE_RATE
    median = statistics.median(times)
    return ModelTiming(median, max(times), median / 1000 / (model.decode_ratio / rate))


def load_playable(path: Path) -> tuple[NNModel, ModelTiming]:
    """Load, warm up and time a model; refuse one too slow for real time, naming its real-time factor."""
    model = NNModel.load(path)
    model.require("decode")
    timing = measure_decode(model)
    if timing.realtime_factor > MAX_REALTIME_FACTOR:
        raise ModelLoadError(f"{path}: decode real-time factor {timing.realtime_factor:.2f} on one thread "
                             f"({timing.decode_ms_median:.1f} ms per {model.decode_ratio} samples) is too slow "
                             f"for real time (needs at most {MAX_REALTIME_FACTOR})")
    return model, timing


def auto_lookahead(timing: ModelTiming, blocksize: int, samplerate: float) -> int:
    """Enough queued audio to ride out a slow decode: three times the worst seen plus 5 ms, and never
    less than MIN_LOOKAHEAD_SECONDS, which covers the scheduling stalls of a busy machine (a 10-minute
    soak under a hostile neighbour saw single decodes of 17-28 ms from a model that takes 0.8 ms)."""
    needed = max((3 * timing.decode_ms_max + 5.0) / 1000, MIN_LOOKAHEAD_SECONDS) * samplerate
    return max(2, math.ceil(needed / blocksize))
