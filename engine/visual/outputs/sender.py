"""A frame sender: one sink (NDI, a virtual camera...), one mailbox, one thread.

`offer` is what the frame source calls: it checks the frame's shape, leaves it in a one-slot mailbox
and returns. The sender thread takes the newest frame, fits it to the output's size and pixel format
and hands it to the sink. A sink that takes longer than a frame (a slow receiver, a congested
network) only means frames are skipped, counted in `dropped`; the source never waits for it.

`fps` None sends every frame offered, at the source's rate. A number paces the output instead: at
each tick the newest frame goes out, and when none came since the last tick the last one is sent
again (capture software expects a steady stream), its audio time moved on by the time it waited.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.errors import VisualError
from engine.visual.frame_size import check_frame_size
from engine.visual.outputs.fit import FrameFitter
from engine.visual.outputs.mailbox import NewestOnly

log = logging.getLogger(__name__)

IDLE_WAKE_SECONDS = 0.25  # an unpaced sender with no frames looks at its stop flag this often
CLOSE_SECONDS = 2.0
MAX_FPS = 240.0
MAX_NAME_CHARS = 100


class FrameSink(Protocol):
    """Where fitted frames go. `send` runs on the sender's thread only; it may take its time."""

    label: str  # how messages name it, e.g. "NDI source 'stage'"
    pixel_format: str  # what `send` takes: "rgba" or "rgb24" (engine/visual/outputs/fit.py)

    def send(self, pixels: np.ndarray, audio_time_s: float) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class _Offer:
    rgb: np.ndarray
    audio_time_s: float
    offered_at: float  # time.monotonic()


class FrameSender:
    """Sends the frames offered to `sink` on a thread of its own (started here)."""

    def __init__(self, sink: FrameSink, size: tuple[int, int], fps: float | None = None, *,
                 on_error: Callable[[str], None] | None = None) -> None:
        """`on_error(line)`: told once when the sink starts failing (from the sender thread)."""
        self.size = check_frame_size(*size)
        self.fps = check_output_fps(fps)
        self.sink = sink
        self.on_error = on_error
        self._fitter = FrameFitter(self.size, sink.pixel_format)
        self._mailbox: NewestOnly[_Offer] = NewestOnly()
        self._halt = threading.Event()
        self.sent = 0
        self.repeated = 0  # paced sends of a frame sent before (no new one came in time)
        self.errors = 0
        self.last_error: str | None = None
        self.send_ms = 0.0  # fit + send of the last frame, wall time
        self.send_cpu_ms_total = 0.0  # this thread's CPU time in fit + send, all frames (load-independent)
        self._thread = threading.Thread(target=self._run, name=f"send {sink.label}", daemon=True)
        self._thread.start()

    # --- the source's side: never waits ------------------------------------------------------
    def offer(self, frame: np.ndarray, audio_time_s: float, *, copy: bool = True) -> None:
        """Leave `frame` (uint8 RGB, height x width x 3) for the sender; returns at once.

        `audio_time_s`: when the frame's audio is heard, on the engine's audio clock (timeline
        seconds). `copy=False` hands the array over: the caller must not write into it afterwards."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise VisualError(f"a frame must be a uint8 RGB array (height, width, 3), got "
                              f"{getattr(frame, 'dtype', type(frame).__name__)} {getattr(frame, 'shape', '')}")
        self._mailbox.put(_Offer(frame.copy() if copy else frame, float(audio_time_s), time.monotonic()))

    @property
    def offered(self) -> int:
        return self._mailbox.put_count

    @property
    def dropped(self) -> int:
        """Frames offered and never sent: the sender was busy with an older one."""
        return self._mailbox.dropped

    # --- the sender's thread -------------------------------------------------------------------
    def _run(self) -> None:
        period = None if self.fps is None else 1.0 / self.fps
        next_tick = time.monotonic()
        last: tuple[np.ndarray, _Offer] | None = None  # fitted pixels and the offer they came from
        while not self._halt.is_set():
            if period is None:
                offer = self._mailbox.take(IDLE_WAKE_SECONDS)
                if offer is None or self._halt.is_set():
                    continue
                self._send(offer, None)
                continue
            delay = next_tick - time.monotonic()
            if delay > 0 and self._halt.wait(delay):
                break
            next_tick = max(next_tick + period, time.monotonic())  # late: carry on from now, no burst
            offer = self._mailbox.take(0)
            if offer is not None:
                last = self._send(offer, None)
            elif last is not None:
                pixels, previous = last
                self._send(previous, pixels, moved_on=time.monotonic() - previous.offered_at)
                self.repeated += 1

    def _send(self, offer: _Offer, fitted: np.ndarray | None,
              moved_on: float = 0.0) -> tuple[np.ndarray, _Offer] | None:
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            pixels = self._fitter.fit(offer.rgb) if fitted is None else fitted
            self.sink.send(pixels, offer.audio_time_s + moved_on)
        except Exception as exc:  # a vanished device or a full network: skip this frame, say so once
            self.errors += 1
            self.last_error = f"{self.sink.label}: {exc}"
            if self.errors == 1:
                log.error("%s (frames keep being dropped until it recovers)", self.last_error)
                if self.on_error is not None:
                    self.on_error(self.last_error)
            return None
        self.sent += 1
        self.send_ms = (time.perf_counter() - started) * 1000.0
        self.send_cpu_ms_total += (time.thread_time() - cpu_started) * 1000.0
        return pixels, offer

    # --- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the thread and close the sink (left open if the thread is stuck inside it)."""
        self._halt.set()
        self._mailbox.wake()
        self._thread.join(timeout=CLOSE_SECONDS)
        if self._thread.is_alive():
            log.warning("%s: its sender did not stop within %.0f s; leaving it", self.sink.label, CLOSE_SECONDS)
            return
        self.sink.close()

    def stats(self) -> dict[str, object]:
        return {"output": self.sink.label, "size": f"{self.size[0]}x{self.size[1]}",
                "fps": self.fps, "offered": self.offered, "sent": self.sent, "repeated": self.repeated,
                "dropped": self.dropped, "errors": self.errors, "last_error": self.last_error,
                "send_ms": round(self.send_ms, 2),
                "send_cpu_ms_mean": round(self.send_cpu_ms_total / self.sent, 3) if self.sent else None,
                **self.sink.stats()}


def check_output_fps(fps: float | None) -> float | None:
    """None (the source's rate) or a rate above 0 and at most MAX_FPS."""
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
        raise VisualError(f"output fps must be above 0 and at most {MAX_FPS:g}, got {fps!r}")
    return float(fps)


def check_output_name(name: object, what: str) -> str:
    """A source name other software will list (NDI, Syphon, Spout): printable, 1 to MAX_NAME_CHARS."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise VisualError(f"{what} must be 1 to {MAX_NAME_CHARS} printable characters, got {name!r}")
    return name.strip()
