"""The engine's beat grid: which beat plays at any time of the render timeline.

Two sources. The engine's own grid counts beats from `/tempo/bpm` frame by frame on the render
timeline, so offline render and live play land on the same beats. When the session joins Ableton Link
(engine/control/link_session.py), the Link thread publishes Link's timeline already mapped onto render
seconds as an immutable `ExternalTimeline`, swapped in by one reference assignment: the render thread
reads it without a lock and never calls into Link.

Bars are four beats (Link's quantum 4). `/transport/play` going from 0 to 1 restarts the own grid on
a bar line at that frame; under Link, Link decides where the beat is when play starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from engine.params.table import QUANTIZE_BEATS

BEATS_PER_BAR = 4
__all__ = ["QUANTIZE_BEATS", "BEATS_PER_BAR", "BeatGrid", "GridPoint", "next_boundary"]


@dataclass(frozen=True, slots=True)
class GridPoint:
    """The beat at one render time and the tempo from there on: beat(t) = beat + (t - seconds) * bpm / 60."""

    seconds: float
    beat: float
    bpm: float

    def beat_at(self, seconds: float) -> float:
        return self.beat + (seconds - self.seconds) * self.bpm / 60.0

    def seconds_at(self, beat: float) -> float:
        return self.seconds + (beat - self.beat) * 60.0 / self.bpm

    @property
    def phase(self) -> float:
        """Where in the bar (0..1) this point's beat falls."""
        return (self.beat / BEATS_PER_BAR) % 1.0


ExternalTimeline = GridPoint  # an outside clock's grid, already on render seconds (Link's)


def next_boundary(beat: float, quantum_beats: float) -> float:
    """The first grid line at or after `beat` (a hair of float rounding counts as on it)."""
    return math.ceil(beat / quantum_beats - 1e-9) * quantum_beats


class BeatGrid:
    def __init__(self, bpm: float = 120.0) -> None:
        # Set by a live session joined to Link: returns Link's timeline (None while it has none).
        self.external: Callable[[], ExternalTimeline | None] | None = None
        self.point = GridPoint(0.0, 0.0, bpm)  # replaced whole each frame: any thread may read it
        self._playing = True

    @property
    def linked(self) -> bool:
        return self.external is not None and self.external() is not None

    def advance(self, now: float, bpm: float, playing: bool = True) -> GridPoint:
        """Once per latent frame, on the render thread: the beat at render time `now`."""
        outside = self.external() if self.external is not None else None
        if outside is not None:
            point = GridPoint(now, outside.beat_at(now), outside.bpm)
        else:
            beat = self.point.beat_at(now)
            if playing and not self._playing:  # transport start: bar one begins here
                beat = 0.0
            point = GridPoint(now, beat, bpm)
        self._playing = playing
        self.point = point
        return point

    def beat_at(self, seconds: float) -> float:
        """Any thread: the beat at render time `seconds`, extrapolated from the last frame's point."""
        return self.point.beat_at(seconds)
