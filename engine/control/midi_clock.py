"""MIDI clock: follow an external tempo (clock in) and send ours (clock out), 24 pulses per quarter note.

Clock in: tick timestamps come from the port's own timestamps (JACK frame time), not from when
Python read them. JACK hands events over once per period, so single intervals jitter by a period
(5.3 ms at 256/48 kHz, a third of a tick at 140 BPM); the estimate is therefore the mean interval
over a sliding window of ticks, after dropping intervals far from the window's median (a dropped or
doubled tick). It is written to `/tempo/bpm` at most 10 times a second, with a short glide.

Clock out: a thread sends ticks at `/tempo/bpm`, each one scheduled at an absolute time on
time.perf_counter (next = previous + one tick at the current tempo), so sleep overshoot never
accumulates into drift. Joined to Ableton Link (`beat_now`), each tick is scheduled on the session's
beat instead (tick n at beat n / 24), so the clock follows Link's phase, not only its tempo.
`/transport/play` sends Stop and Start, and no ticks while stopped.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

from engine.control.hub import ControlHub

PPQN = 24
WINDOW_TICKS = 96  # four beats: averages period jitter down to ~0.5 % within a second at 140 BPM
MIN_TICKS = 24  # a beat's worth before the first estimate
OUTLIER = 0.5  # intervals beyond ±50 % of the median are dropped or doubled ticks
GAP_SECONDS = 1.0  # a longer silence restarts the estimate (clock stopped, cable pulled)
WRITE_INTERVAL_S = 0.1
GLIDE_S = 0.1
MIN_CHANGE_BPM = 0.01
LATE_RESYNC_S = 0.25
START, STOP, TICK = 0xFA, 0xFC, 0xF8


class ClockIn:
    def __init__(self, hub: ControlHub, address: str = "/tempo/bpm") -> None:
        self.hub = hub
        self.address = address
        self.running = False
        self.ticks = 0  # since the last start
        self.bpm: float | None = None
        self._intervals: deque[float] = deque(maxlen=WINDOW_TICKS)
        self._last_tick: float | None = None
        self._last_write = -1e9
        self._written: float | None = None

    def handle(self, kind: str, timestamp: float) -> None:
        """`timestamp`: seconds on the port's clock (monotonic, any origin)."""
        if kind == "clock":
            self._tick(timestamp)
        elif kind in ("start", "continue"):
            self.running = True
            if kind == "start":
                self.ticks = 0
            self.hub.fire_beat(f"clock_{kind}")
        elif kind == "stop":
            self.running = False
            self.hub.fire_beat("clock_stop")

    def _tick(self, timestamp: float) -> None:
        if self._last_tick is not None:
            interval = timestamp - self._last_tick
            if interval > GAP_SECONDS or interval < 0:
                self._intervals.clear()
            else:
                self._intervals.append(interval)
        self._last_tick = timestamp
        if self.running:
            if self.ticks % PPQN == 0:
                self.hub.fire_beat("clock_beat")
            self.ticks += 1
        if len(self._intervals) < MIN_TICKS:
            return
        median = statistics.median(self._intervals)
        kept = [i for i in self._intervals if abs(i - median) <= OUTLIER * median]
        self.bpm = 60.0 / (PPQN * (sum(kept) / len(kept)))
        if timestamp - self._last_write >= WRITE_INTERVAL_S and (
                self._written is None or abs(self.bpm - self._written) >= MIN_CHANGE_BPM):
            self._last_write = timestamp
            self._written = self.bpm
            self.hub.glide(self.address, self.bpm, GLIDE_S)


def next_tick(last: int | None, beat: float, bpm: float) -> tuple[int, float]:
    """On an outside beat clock: the tick (24ths of a beat) to send next and the seconds to wait for it.
    The one after `last` while the clock is within two ticks of it (jitter never sends a tick twice or
    skips one; a late thread catches up one tick at a time), else the next one on the clock (a jump)."""
    ticks = beat * PPQN
    target = last + 1 if last is not None and abs(last + 1 - ticks) < 2.0 else math.ceil(ticks)
    return target, max(0.0, (target - ticks) * 60.0 / (bpm * PPQN))


class ClockOut(threading.Thread):
    """Sends 24 ppqn at the store's `/tempo/bpm` through `send` (thread-safe), with start/stop."""

    def __init__(self, hub: ControlHub, send: Callable[[list[int]], None], address: str = "/tempo/bpm",
                 transport: bool = True, beat_now: Callable[[], tuple[float, float] | None] | None = None) -> None:
        """`beat_now()`: (beat, bpm) of an outside beat clock (Link) now, None while it has none."""
        super().__init__(name="midi-clock-out", daemon=True)
        self.hub = hub
        self.send = send
        self.address = address
        self.transport = transport  # send Start first and Stop at the end
        self.beat_now = beat_now
        self._tick_index: int | None = None  # on an outside clock: the 24th of a beat last sent
        self.ticks_sent = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        playing = bool(self.hub.store.get("/transport/play"))
        if self.transport and playing:
            self.send([START])
        next_time = time.perf_counter()
        while not self._stop_event.is_set():
            if self.beat_now is not None and (beat := self.beat_now()) is not None:
                self._tick_index, wait = next_tick(self._tick_index, *beat)
                next_time = time.perf_counter() + wait
            now = time.perf_counter()
            if next_time > now and self._stop_event.wait(next_time - now):
                break
            play = bool(self.hub.store.get("/transport/play"))
            if play != playing:
                playing = play
                if self.transport:
                    self.send([START if play else STOP])
            if playing:
                self.send([TICK])
                self.ticks_sent += 1
            next_time += 60.0 / (float(self.hub.store.get(self.address)) * PPQN)
            if time.perf_counter() - next_time > LATE_RESYNC_S:  # suspended or starved: do not burst
                next_time = time.perf_counter()  # the missed ticks out, restart the grid from now
        if self.transport:
            self.send([STOP])

    def stop(self, timeout: float = 1.0) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
