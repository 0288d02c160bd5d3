"""The node's jitter buffer: each row waits for the moment its audio is heard, plus a small playout delay.

Rows carry the engine's wall-clock time at which their audio is heard. With the clock offset from
`ClockSync` the node knows that moment on its own clock; a row is due then (plus the playout delay),
and the newest due row is what the visual process gets, exactly as the local visual process gets the
newest row the audio clock has reached. Rows usually arrive early (the engine sends them when
rendered, a lookahead ahead of the speaker); the playout delay is for the network that is slower
than that lookahead: it follows the median of how late rows arrive, between a floor and a
ceiling, so a steady late network costs a steady small delay instead of a stutter. A row that
arrives after a newer one was shown is dropped (its beat and onset counts ride on every later row,
so nothing but that row's freshness is lost); nothing ever waits for a missing row.
"""

from __future__ import annotations

import bisect
from collections import deque

import numpy as np

from engine.remote.protocol import FrameRow

CAPACITY = 512  # rows: about 6 s at 86 a second
LATENESS_WINDOW = 256  # rows: about 3 s
LATENESS_QUANTILE = 0.5  # the median: a late network costs its typical lateness, not its worst
MAX_DELAY_SECONDS = 0.25
REESTIMATE_EVERY = 16  # rows between two estimates of the playout delay


class PlayoutBuffer:
    def __init__(self, floor_seconds: float = 0.0, max_seconds: float = MAX_DELAY_SECONDS) -> None:
        self.floor = floor_seconds
        self.max = max(max_seconds, floor_seconds)
        self._rows: list[tuple[float, int, FrameRow]] = []  # sorted by (heard_at, seq)
        self._lateness: deque[float] = deque(maxlen=LATENESS_WINDOW)
        self._added = 0
        self.delay = floor_seconds
        self._shown = -np.inf  # heard_at of the newest row handed out
        self.late = 0  # arrived after a newer row was shown: dropped
        self.overflow = 0  # the buffer was full: the oldest went

    def clear(self) -> None:
        self._rows.clear()
        self._lateness.clear()
        self._shown = -np.inf
        self.delay = self.floor

    def add(self, row: FrameRow, now: float | None) -> bool:
        """`now`: the engine's clock at arrival (None while the clocks are not synced yet)."""
        if now is not None:
            self._lateness.append(now - row.heard_at)
            self._added += 1
            if self._added % REESTIMATE_EVERY == 0:
                late = float(np.quantile(np.asarray(self._lateness), LATENESS_QUANTILE))
                self.delay = min(self.max, max(self.floor, late))
        if row.heard_at <= self._shown:
            self.late += 1
            return False
        bisect.insort(self._rows, (row.heard_at, row.seq, row))
        if len(self._rows) > CAPACITY:
            del self._rows[0]
            self.overflow += 1
        return True

    def due(self, now: float | None) -> FrameRow | None:
        """The newest row whose moment (plus the delay) has come, dropping the older due ones; `now`
        None (not synced): the newest row there is, at once."""
        if not self._rows:
            return None
        cut = len(self._rows) if now is None else bisect.bisect_right(self._rows, (now - self.delay, np.inf))
        if cut == 0:
            return None
        row = self._rows[cut - 1][2]
        del self._rows[:cut]
        self._shown = row.heard_at
        return row

    def seconds_to_next(self, now: float | None) -> float | None:
        """How long until the oldest waiting row is due; None when none waits."""
        if not self._rows:
            return None
        return 0.0 if now is None else self._rows[0][0] + self.delay - now

    def __len__(self) -> int:
        return len(self._rows)

    def lateness_ms(self) -> dict[str, float]:
        if not self._lateness:
            return {}
        values = np.asarray(self._lateness) * 1000.0
        return {"median": round(float(np.median(values)), 2), "p90": round(float(np.quantile(values, 0.9)), 2)}
