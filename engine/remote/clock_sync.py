"""Network delay and clock offset between the node and the engine, NTP-style.

Each ping carries four timestamps: t1 the node sends, t2 the engine receives, t3 the engine answers,
t4 the node receives (t1, t4 on the node's clock; t2, t3 on the engine's). Then
    delay  = (t4 - t1) - (t3 - t2)          the round trip on the wire
    offset = ((t2 - t1) + (t3 - t4)) / 2    engine clock minus node clock
The offset is exact when both directions take equally long; queueing and jitter make them differ,
and always lengthen the trip. So of a sliding window of samples the one with the smallest delay is
the one to trust (NTP's clock filter does the same): its offset error is at most half its delay,
and usually far less.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW = 32  # samples: 8 s at four pings a second, short enough to follow a drifting clock


@dataclass(frozen=True)
class SyncSample:
    delay: float
    offset: float


class ClockSync:
    def __init__(self, window: int = WINDOW) -> None:
        self._samples: deque[SyncSample] = deque(maxlen=window)
        self._best: SyncSample | None = None

    def add(self, t1: float, t2: float, t3: float, t4: float) -> SyncSample | None:
        """One ping's four timestamps; a sample whose times do not add up (negative delay) is ignored."""
        delay = (t4 - t1) - (t3 - t2)
        if delay < 0 or t3 < t2:
            return None
        sample = SyncSample(delay, ((t2 - t1) + (t3 - t4)) / 2.0)
        self._samples.append(sample)
        self._best = min(self._samples, key=lambda s: s.delay)
        return sample

    def reset(self) -> None:
        self._samples.clear()
        self._best = None

    @property
    def synced(self) -> bool:
        return self._best is not None

    @property
    def offset(self) -> float:
        """Engine clock minus node clock, seconds (0 before the first sample)."""
        return self._best.offset if self._best is not None else 0.0

    @property
    def delay(self) -> float:
        """The trusted sample's round trip, seconds (0 before the first sample)."""
        return self._best.delay if self._best is not None else 0.0

    def __len__(self) -> int:
        return len(self._samples)
