"""Which models the session plays and how: decode timing at load over frames per call x threads,
the real-time refusal, and the lookahead that rides out a slow decode."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from engine.models.nn_tilde import NNModel
from engine.session.decode_choice import (
    FRAMES_PER_CALL,
    THREADS,
    DecodeCost,
    choose,
    lookahead_seconds,
    measure_grid,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelTiming:
    """The chosen setting's decode cost per call (not per frame), and every setting tried."""
    decode_ms_median: float
    decode_ms_max: float
    realtime_factor: float
    frames_per_call: int = 1
    threads: int = 1
    tried: tuple[DecodeCost, ...] = field(default=())
    note: str = ""  # set when the choice holds real time only without headroom


def load_playable(path: Path, *, frames_per_call: int | None = None, threads: int | None = None) -> tuple[
        NNModel, ModelTiming]:
    """Load, warm up and time a model over the decode settings (or only the ones forced by
    `frames_per_call` / `threads`), and choose one; refuse a model no setting plays in real time."""
    model = NNModel.load(path)
    model.require("decode")
    model.warm_up()
    costs = measure_grid(model, (frames_per_call,) if frames_per_call else FRAMES_PER_CALL,
                         (threads,) if threads else THREADS)
    frame_seconds = model.decode_ratio / (model.sample_rate or 48000)
    best, note = choose(costs, frame_seconds, str(path))
    if note:
        log.warning(note)
    return model, ModelTiming(best.call_ms_median, best.call_ms_max, best.realtime_factor, best.frames_per_call,
                              best.threads, tuple(costs), note)


def auto_lookahead(timing: ModelTiming, blocksize: int, samplerate: float) -> int:
    """Blocks of queued audio that ride out the chosen setting's slowest decode call."""
    return max(2, math.ceil(lookahead_seconds(timing.decode_ms_max) * samplerate / blocksize))
