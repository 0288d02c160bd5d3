"""Tap tempo: the median interval of the last taps as beats per minute: OSC/MIDI `/tempo/tap` (the hub) and
the console's tap button both count with it."""

from __future__ import annotations

import statistics
import time
from collections import deque

MAX_TAPS = 8
RESET_SECONDS = 2.5  # a pause longer than this starts a new count
TAP_ADDRESS = "/tempo/tap"


class TapTempo:
    def __init__(self, clock=time.monotonic) -> None:  # noqa: ANN001 - a zero-argument callable
        self._clock = clock
        self._taps: deque[float] = deque(maxlen=MAX_TAPS)

    def tap(self) -> float | None:
        """Register a tap; the tempo once two taps are in, else None."""
        now = self._clock()
        if self._taps and now - self._taps[-1] > RESET_SECONDS:
            self._taps.clear()
        self._taps.append(now)
        if len(self._taps) < 2:
            return None
        intervals = [b - a for a, b in zip(self._taps, list(self._taps)[1:], strict=False)]
        return 60.0 / statistics.median(intervals)
