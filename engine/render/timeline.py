"""Timed parameter changes applied at latent-frame boundaries: automation, ramps and scene morphs.

The decoder advances the timeline once per frame, so a change lands on the same frame in
offline render and live play. Other threads only append requests (deque appends are atomic).
The timeline also carries the beat grid (beat_grid.py) and the quantised launches waiting for it
(launch_queue.py): a graph taking over after a model swap carries on the same beats and launches.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from engine.params.param import Value
from engine.params.store import ParamStore
from engine.render.beat_grid import BeatGrid
from engine.render.launch_queue import LaunchQueue


@dataclass
class _Ramp:
    address: str
    start_time: float
    duration: float
    end: float
    start: float | None = None  # captured when the ramp begins, so it starts from the live value


class Timeline:
    def __init__(self, store: ParamStore) -> None:
        self._store = store
        self._queue: list[tuple[float, int, Mapping[str, Value], float]] = []
        self._counter = itertools.count()
        self._ramps: dict[str, _Ramp] = {}
        self._incoming: deque[tuple[Mapping[str, Value], float]] = deque()
        self.now = 0.0
        self.grid = BeatGrid(float(store.get("/tempo/bpm")))
        self.launches = LaunchQueue()

    def schedule(self, time: float, values: Mapping[str, Value], ramp_seconds: float = 0.0) -> None:
        """At `time`, set `values`: continuous ones glide over `ramp_seconds`, others switch at once."""
        heapq.heappush(self._queue, (time, next(self._counter), dict(values), ramp_seconds))

    def morph_now(self, values: Mapping[str, Value], seconds: float) -> None:
        """Thread-safe: start a morph towards `values` at the next frame."""
        self._incoming.append((dict(values), seconds))

    @property
    def busy(self) -> bool:
        return bool(self._queue or self._ramps or self._incoming)

    def advance(self, now: float, frame_seconds: float = 0.0) -> None:
        """Apply everything due at `now` (seconds since the render started): quantised launches whose grid
        line this frame (of `frame_seconds`) is nearest first, then timed changes and ramps."""
        self.now = now
        values = self._store.snapshot().values
        point = self.grid.advance(now, float(values["/tempo/bpm"]), bool(values["/transport/play"]))
        self.launches.release(point, frame_seconds)
        while self._incoming:
            values, seconds = self._incoming.popleft()
            self._start(now, values, seconds)
        while self._queue and self._queue[0][0] <= now + 1e-9:
            time, _, values, ramp = heapq.heappop(self._queue)
            self._start(time, values, ramp)
        if not self._ramps:
            return
        writes: dict[str, Value] = {}
        for address, ramp in list(self._ramps.items()):
            if address not in self._store:  # its model's latent dimension went with a model swap
                del self._ramps[address]
                continue
            if ramp.start is None:
                ramp.start = float(self._store.get(address))
            progress = 1.0 if ramp.duration <= 0 else min(1.0, (now - ramp.start_time) / ramp.duration)
            writes[address] = ramp.start + (ramp.end - ramp.start) * progress
            if progress >= 1.0:
                del self._ramps[address]
        self._store.set_many(writes)

    def _start(self, time: float, values: Mapping[str, Value], seconds: float) -> None:
        immediate: dict[str, Value] = {}
        for address, value in values.items():
            if address not in self._store:  # scheduled for a latent dimension a model swap took away
                continue
            if seconds > 0 and self._store.param(address).continuous:
                self._ramps[address] = _Ramp(address, time, seconds, float(value))
            else:
                self._ramps.pop(address, None)  # a direct set wins over a running ramp
                immediate[address] = value
        if immediate:
            self._store.set_many(immediate)
