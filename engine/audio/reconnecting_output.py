"""An output that outlives its device: a sound card unplugged mid-set, a driver reset, a JACK
server that dies and comes back.

A watch thread looks ten times a second. When the device stops taking blocks (the stream went
inactive, or no callback for `stall_seconds`) the output is lost: it is aborted, never stopped
(PortAudio's orderly stop waits for a callback that will never come), and the watch retries with
growing back-off: rescan PortAudio, find the device by its name (or a fallback the user named),
open and start it again on the same ring. The decoder keeps the ring full meanwhile and waits, the
control path and the visuals carry on, and every call that touches a possibly dead stream runs on
a helper thread with a time limit, so nothing else can hang on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from engine.audio.devices import device_identity, find_device, forget_portaudio, rescan_devices
from engine.audio.output import STATS_INTERVAL_S, Output

log = logging.getLogger(__name__)

WATCH_SECONDS = 0.1
STALL_SECONDS = 2 * STATS_INTERVAL_S + 0.1  # the block count updates at that interval: two missed and a margin
CALL_TIMEOUT_SECONDS = 3.0  # stop, rescan: a dead driver gets this long, then it is left behind
ABORT_TIMEOUT_SECONDS = 2.0  # PortAudio's JACK host API gives up waiting after 1 s when it can
TIMED_OUT = "did not return within"
BACKOFF_SECONDS = (0.25, 0.5, 1.0, 2.0, 4.0)

OpenOutput = Callable[[int | str | None], Output]
StateListener = Callable[[str, str], None]  # (state, message)


@dataclass
class Outage:
    started: float  # time.monotonic()
    reason: str
    ended: float | None = None

    def seconds(self, now: float) -> float:
        return (self.ended or now) - self.started


def call_with_timeout(function: Callable[[], object], seconds: float, name: str) -> str | None:
    """Run `function` on a daemon thread; None when it returned in time, else what went wrong."""
    outcome: list[str | None] = []

    def run() -> None:
        try:
            function()
            outcome.append(None)
        except Exception as exc:  # a dead stream may raise anything PortAudio says
            outcome.append(str(exc) or type(exc).__name__)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else f"{name} {TIMED_OUT} {seconds:g} s"


class ReconnectingOutput:
    """The `Output` contract over whichever device stream is open now; counters add up across streams."""

    def __init__(self, open_output: OpenOutput, device: int | str | None, *, fallback: str | None = None,
                 on_state: StateListener | None = None, stall_seconds: float = STALL_SECONDS) -> None:
        self._open = open_output
        self.name, self.hostapi = device_identity(device)
        self.fallback = fallback
        self._on_state = on_state
        self.stall_seconds = stall_seconds
        self.current: Output | None = open_output(device)
        self.samplerate = self.current.samplerate
        self.blocksize = self.current.blocksize
        self.channels = self.current.channels
        self.state = "stopped"
        self._latency = 0.0  # the last device's, kept through an outage
        self.last_error: str | None = None
        self.outages: list[Outage] = []
        self._wedged = False  # a stream could not be aborted: rescan with a fresh PortAudio
        self._closed_counts = [0, 0, 0]  # callbacks, underruns, input overflows of streams gone before
        self._guard = threading.Lock()  # the watch holds it while it swaps streams; poll never waits on it
        self._halt = threading.Event()
        self._watch = threading.Thread(target=self._watch_loop, name="device-watch", daemon=True)

    # --- the Output contract ---------------------------------------------------------------
    def start(self) -> None:
        assert self.current is not None
        self.current.start()
        self.state = "playing"
        self._watch.start()

    def poll(self) -> None:
        if not self._guard.acquire(blocking=False):
            return  # the watch is replacing the stream: nothing to poll this time
        try:
            if self.state == "playing" and self.current is not None:
                self.current.poll()
        finally:
            self._guard.release()

    def stop(self) -> None:
        self._halt.set()
        if self._watch.is_alive():
            self._watch.join(timeout=CALL_TIMEOUT_SECONDS)
        with self._guard:
            current, self.current = self.current, None
            if current is not None:
                stopped = self.state == "playing" and call_with_timeout(current.stop, CALL_TIMEOUT_SECONDS,
                                                                        "output-stop") is None
                if not stopped:
                    self._abort(current)
                self._retire(current)
            if self.outages and self.outages[-1].ended is None:
                self.outages[-1].ended = time.monotonic()
            self.state = "stopped"

    def _abort(self, current: Output) -> None:
        """Abort on a helper thread. A stream that its host API already shut down (a dead JACK
        server: aborting it waits forever, and leaves libjack unable to open a client again), or
        whose abort never returns, is abandoned, and the PortAudio instance that holds it is never
        called again, not even at exit."""
        if current.active:
            problem = call_with_timeout(current.abort, ABORT_TIMEOUT_SECONDS, "output-abort")
            if problem is None or TIMED_OUT not in problem:
                return
        current.abandon()
        forget_portaudio()
        self._wedged = True

    def abort(self) -> None:
        self.stop()

    @property
    def callbacks(self) -> int:
        return self._closed_counts[0] + (self.current.callbacks if self.current else 0)

    @property
    def underruns(self) -> int:
        return self._closed_counts[1] + (self.current.underruns if self.current else 0)

    @property
    def input_overflows(self) -> int:
        return self._closed_counts[2] + (self.current.input_overflows if self.current else 0)

    @property
    def cpu_load(self) -> float:
        if not self._guard.acquire(blocking=False):
            return 0.0  # the stream is being replaced: never read one that may be closed
        try:
            current = self.current
            return current.cpu_load if self.state == "playing" and current is not None else 0.0
        finally:
            self._guard.release()

    @property
    def device_latency(self) -> float:
        current = self.current
        if current is not None:
            self._latency = current.device_latency
        return self._latency

    @property
    def active(self) -> bool:
        return self.state == "playing"

    # --- status -----------------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        now = time.monotonic()
        return {"state": self.state, "device": self.name, "host_api": self.hostapi, "outages": len(self.outages),
                "outage_seconds": round(sum(o.seconds(now) for o in self.outages), 3),
                "last_error": self.last_error}

    # --- the watch ----------------------------------------------------------------------------
    def _retire(self, output: Output) -> None:
        self._closed_counts[0] += output.callbacks
        self._closed_counts[1] += output.underruns
        self._closed_counts[2] += output.input_overflows

    def _say(self, state: str, message: str) -> None:
        self.state = state
        if state != "playing":
            self.last_error = message
        if self._on_state is not None:
            try:
                self._on_state(state, message)
            except Exception:
                log.exception("device state listener failed")

    def _watch_loop(self) -> None:
        seen, seen_at = -1, time.monotonic()
        while not self._halt.wait(WATCH_SECONDS):
            current = self.current
            if current is None:
                continue
            now = time.monotonic()
            count = current.callbacks
            if count != seen:
                seen, seen_at = count, now
            if current.active and now - seen_at < self.stall_seconds:
                continue
            reason = "the stream stopped" if not current.active else \
                f"no audio callback for {now - seen_at:.1f} s"
            self._lose(current, reason)
            if self._reconnect():
                seen, seen_at = -1, time.monotonic()

    def _lose(self, current: Output, reason: str) -> None:
        with self._guard:
            self.outages.append(Outage(time.monotonic(), reason))
            self._retire(current)
            self.current = None
            self._say("lost", f"audio device lost: {self.name} ({reason}); retrying")
            self._abort(current)

    def _reconnect(self) -> bool:
        """Retry with back-off until a device plays again or the output is stopped."""
        attempt = 0
        while not self._halt.wait(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]):
            attempt += 1
            self.state = "reconnecting"
            fresh = self._wedged
            problem = call_with_timeout(partial(rescan_devices, fresh), CALL_TIMEOUT_SECONDS, "portaudio-rescan")
            if fresh and problem is None:
                self._wedged = False
            if problem is not None:
                self.last_error = f"{self.name} is not back: {problem} (attempt {attempt})"
                continue
            index = find_device(self.name, self.hostapi)
            name = self.name
            if index is None and self.fallback:
                index, name = find_device(self.fallback), self.fallback
            if index is None:
                self.last_error = f"{self.name} is not there (attempt {attempt})"
                continue
            try:
                output = self._open(index)
                output.start()
            except Exception as exc:  # PortAudio says why in its own words
                self.last_error = f"{name} would not open: {exc}"
                continue
            with self._guard:
                self.current = output
                outage = self.outages[-1]
                outage.ended = time.monotonic()
                self._say("playing", f"audio device back: {name} after {outage.seconds(outage.ended):.1f} s")
            return True
        return False
