"""Live play of a model's audio method (`live --input --method NAME`): load, time and refuse like
decode models (engine/session/model_policy.py), and the check on live `/rave/method` writes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from engine.errors import ModelLoadError, ParamError
from engine.models.nn_tilde import NNModel
from engine.params.param import Value
from engine.render.effect_graph import choose_method, effect_frame_samples
from engine.session.model_policy import MAX_REALTIME_FACTOR, ModelTiming

DEFAULT_RATE = 48000


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
    timing = ModelTiming(median, max(times), median / 1000 / (samples / (model.sample_rate or DEFAULT_RATE)))
    if timing.realtime_factor > MAX_REALTIME_FACTOR:
        raise ModelLoadError(f"{path}: '{spec.name}' real-time factor {timing.realtime_factor:.2f} on one thread "
                             f"({median:.1f} ms per {samples} samples) is too slow for real time")
    return model, timing


def method_validator(model: Callable[[], NNModel], decode_session: bool) -> Callable[[Value], None]:
    """The store's check on `/rave/method`: a method of the playing model; a session that plays decode
    cannot switch to an audio method (the graph differs) without a restart."""
    def check(value: Value) -> None:
        name = str(value)
        if not name:
            return
        playing = model()
        if name not in playing.methods:
            raise ParamError(f"/rave/method: {playing.path.name} has no method {name!r} "
                             f"(it has: {', '.join(playing.methods)})")
        if decode_session and name != "decode":
            raise ParamError(f"/rave/method: this session plays decode; restart with --input --method {name}")
        if not decode_session and name == "decode":
            raise ParamError("/rave/method: this session plays an audio method; restart without --method to decode")
    return check
