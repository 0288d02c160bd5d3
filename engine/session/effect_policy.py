"""Live play of a model's audio method (`live --input --method NAME`): load, time and refuse like
decode models (engine/session/model_policy.py)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from engine.errors import ModelLoadError
from engine.models.nn_tilde import ASSUMED_SAMPLE_RATE, NNModel
from engine.render.effect_graph import choose_method, effect_frame_samples
from engine.session.decode_choice import HEADROOM_FACTOR
from engine.session.model_policy import ModelTiming


def plays_decode(method: str | None) -> bool:
    return method in (None, "", "decode")


def load_effect(path: Path, method: str, frames: int = 12) -> tuple[NNModel, ModelTiming]:
    """Load a model, check `method` and time one call per frame; refuse one too slow for real time."""
    model = NNModel.load(path)
    spec = model.require(choose_method(model, method))
    samples = effect_frame_samples(model)
    x = torch.zeros(1, spec.in_channels, samples // spec.in_ratio)
    for _ in range(3):  # TorchScript profiles the first calls per shape
        model.run(spec.name, x)
    times = []
    for _ in range(frames):
        started = time.perf_counter()
        model.run(spec.name, x)
        times.append((time.perf_counter() - started) * 1000)
    model.reset()
    median = statistics.median(times)
    timing = ModelTiming(median, max(times), median / 1000 / (samples / (model.sample_rate or ASSUMED_SAMPLE_RATE)))
    if timing.realtime_factor > HEADROOM_FACTOR:
        raise ModelLoadError(f"{path}: '{spec.name}' real-time factor {timing.realtime_factor:.2f} on one thread "
                             f"({median:.1f} ms per {samples} samples) is too slow for real time")
    return model, timing
