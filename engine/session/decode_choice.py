"""How a model is decoded live: frames per decode call x torch threads, measured at load on this
machine as it is now, and the setting with the lowest latency that keeps real time with headroom.

Heavy exports (RAVE v2: ~28 ms per latent frame alone, ~7 ms per frame at 8 per call) spend most of
a call on per-call overhead, so decoding several frames per call is what lets them hold real time;
it costs latency (frames are built that much earlier), so one frame per call wins whenever it holds.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from engine.errors import ModelLoadError
from engine.models.nn_tilde import NNModel

FRAMES_PER_CALL = (1, 2, 4, 8)
THREADS = (1, 2)
MAX_FRAMES_PER_CALL = 16
MAX_DECODE_THREADS = 8
HEADROOM_FACTOR = 0.7  # real-time factor a setting must keep to count as holding real time with headroom
HOLD_FACTOR = 0.95  # beyond this a setting does not hold real time at all: the model is refused
MIN_LOOKAHEAD_SECONDS = 0.04
SECONDS_PER_SETTING = 0.4  # measuring budget per setting (at least MIN_CALLS calls)
MIN_CALLS = 4
MAX_CALLS = 12


@dataclass(frozen=True)
class DecodeCost:
    """One setting's measured cost: per call, and as a real-time factor (call time / audio it makes)."""
    frames_per_call: int
    threads: int
    call_ms_median: float
    call_ms_max: float
    realtime_factor: float

    @property
    def ms_per_frame(self) -> float:
        return self.call_ms_median / self.frames_per_call

    def label(self) -> str:
        return f"{self.frames_per_call}x{self.threads}t: RTF {self.realtime_factor:.2f}"

    def as_dict(self) -> dict[str, float]:
        return {"frames_per_call": self.frames_per_call, "threads": self.threads,
                "call_ms_median": round(self.call_ms_median, 3), "call_ms_max": round(self.call_ms_max, 3),
                "ms_per_frame": round(self.ms_per_frame, 3), "realtime_factor": round(self.realtime_factor, 4)}


def lookahead_seconds(call_ms_max: float) -> float:
    """Queued audio that rides out a slow call: three times the worst seen plus 5 ms, never less than
    MIN_LOOKAHEAD_SECONDS (a 10-minute soak under a hostile neighbour saw single decodes of 17-28 ms
    from a model that takes 0.8 ms)."""
    return max((3 * call_ms_max + 5.0) / 1000, MIN_LOOKAHEAD_SECONDS)


def latency_seconds(cost: DecodeCost, frame_seconds: float) -> float:
    """What a setting adds to control latency: the frames built together in one call (the last one
    waits that long) plus the lookahead its worst call needs."""
    return cost.frames_per_call * frame_seconds + lookahead_seconds(cost.call_ms_max)


def measure(model: NNModel, frames_per_call: int, threads: int) -> DecodeCost:
    """Time decode calls of `frames_per_call` frames on `threads` torch threads (this thread's
    setting, restored after), after a warm-up; the model's streaming state is reset afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    z = torch.zeros(1, model.latent_size or 1, frames_per_call)
    times: list[float] = []
    try:
        with torch.inference_mode():
            for _ in range(2):
                model.decode(z)
            budget_end = time.perf_counter() + SECONDS_PER_SETTING
            while len(times) < MAX_CALLS and (len(times) < MIN_CALLS or time.perf_counter() < budget_end):
                started = time.perf_counter()
                model.decode(z)
                times.append((time.perf_counter() - started) * 1000)
    finally:
        torch.set_num_threads(before)
        model.reset()
    audio_ms = frames_per_call * model.decode_ratio / (model.sample_rate or 48000) * 1000
    median = statistics.median(times)
    return DecodeCost(frames_per_call, threads, median, max(times), median / audio_ms)


def measure_grid(model: NNModel, frames_per_call: Sequence[int] = FRAMES_PER_CALL,
                 threads: Sequence[int] = THREADS, *, prune: bool = True) -> list[DecodeCost]:
    """Measure settings in order of frames per call; with `prune`, stop once no larger batch can have a
    lower latency than a setting already found with headroom (a light model stops after one frame)."""
    frame_seconds = model.decode_ratio / (model.sample_rate or 48000)
    costs: list[DecodeCost] = []
    for n in sorted(frames_per_call):
        roomy = [latency_seconds(c, frame_seconds) for c in costs if c.realtime_factor <= HEADROOM_FACTOR]
        if prune and roomy and min(roomy) <= n * frame_seconds + MIN_LOOKAHEAD_SECONDS:
            break
        costs.extend(measure(model, n, t) for t in threads)
    return costs


def choose(costs: Sequence[DecodeCost], frame_seconds: float, name: str) -> tuple[DecodeCost, str]:
    """The setting with the lowest latency among those with headroom; else the one with the lowest
    real-time factor that still holds real time (with a note saying so); else a ModelLoadError that
    lists every setting tried and the latency that would be needed."""
    if not costs:
        raise ValueError("no decode settings measured")
    roomy = [c for c in costs if c.realtime_factor <= HEADROOM_FACTOR]
    if roomy:
        return min(roomy, key=lambda c: (latency_seconds(c, frame_seconds), c.threads)), ""
    holding = [c for c in costs if c.realtime_factor <= HOLD_FACTOR]
    if holding:
        best = min(holding, key=lambda c: c.realtime_factor)
        return best, (f"{name}: no setting keeps real-time factor <= {HEADROOM_FACTOR}; playing {best.label()} "
                      f"without headroom: expect underruns under load")
    tried = ", ".join(c.label() for c in costs)
    raise ModelLoadError(f"{name}: too slow for real time on this machine now (tried frames per call x threads: "
                         f"{tried}); {needed_latency(costs, frame_seconds)}")


def needed_latency(costs: Sequence[DecodeCost], frame_seconds: float) -> str:
    """From a straight-line fit of call time against frames per call (per thread count): how many
    frames per call, and what latency, would reach the headroom factor, if any number would."""
    frame_ms = frame_seconds * 1000
    best: tuple[float, int, int] | None = None
    for threads in sorted({c.threads for c in costs}):
        points = [(c.frames_per_call, c.call_ms_median) for c in costs if c.threads == threads]
        if len(points) < 2:
            continue
        per_frame, overhead = _fit_line(points)
        room = HEADROOM_FACTOR * frame_ms - per_frame
        if room <= 0:
            continue
        frames = max(1, math.ceil(max(overhead, 0.0) / room))
        call_ms = overhead + per_frame * frames
        latency = frames * frame_seconds + lookahead_seconds(call_ms * 1.5)
        if best is None or latency < best[0]:
            best = (latency, frames, threads)
    if best is None:
        slowest_part = min(c.ms_per_frame for c in costs)
        return (f"no number of frames per call would do: even batched, a frame costs about {slowest_part:.1f} ms "
                f"of its {frame_ms:.1f} ms")
    latency, frames, threads = best
    beyond = f" (more than the {MAX_FRAMES_PER_CALL} allowed)" if frames > MAX_FRAMES_PER_CALL else ""
    return (f"it would need about {frames} frames per call{beyond} on {threads} thread(s), a latency of about "
            f"{latency * 1000:.0f} ms")


def _fit_line(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """Least squares call_ms = overhead + per_frame * frames; returns (per_frame, overhead)."""
    xs = [float(p[0]) for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    slope = max(slope, 0.0)
    return slope, my - slope * mx
