"""The frame fan-out: new frames of the shared triple buffer go to every video output.

A thread beside the frame buffer's other readers (the window, the recorder) that looks for a new
frame every `poll_seconds`, copies it once, and offers that copy, read-only, to each output (each
sender takes it from its own one-slot mailbox). It runs in the process that owns the frame buffer,
not in the visual process: a generator switch or a crashed visual process restarts the generator,
never the outputs, so an NDI receiver on stage keeps its source and sees the last frame hold.
The frame carries the timeline time of the analysis row it shows, which is when its audio is heard.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import numpy as np

from engine.visual.frame_buffer import FrameBuffer

log = logging.getLogger(__name__)

POLL_SECONDS = 0.002  # at most 2 ms between a frame's arrival and its offer


class FrameOutput(Protocol):
    def offer(self, frame: np.ndarray, audio_time_s: float, *, copy: bool = True) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, object]: ...


class FrameFanout(threading.Thread):
    def __init__(self, frames: FrameBuffer, outputs: list[FrameOutput], poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__(name="frame-fanout", daemon=True)
        self.frames = frames
        self.outputs = list(outputs)
        self.poll_seconds = poll_seconds
        self.frames_read = 0
        self.errors = 0
        self._halt = threading.Event()
        self._last_index = -1

    def run(self) -> None:
        while not self._halt.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:  # a torn read or a bad frame must not end the outputs for the night
                self.errors += 1
                if self.errors == 1:
                    log.exception("frame fan-out")

    def poll(self) -> bool:
        """Offer the newest frame if it is new; whether it was."""
        got = self.frames.read_newer(self._last_index)  # a fresh array: the outputs share it, read-only
        if got is None:
            return False
        index, audio_time_s, pixels = got
        self._last_index = index
        pixels.flags.writeable = False
        for output in self.outputs:
            output.offer(pixels, audio_time_s, copy=False)
        self.frames_read += 1
        return True

    def stop(self) -> None:
        """Stop offering and close every output (the frame buffer stays the caller's)."""
        self._halt.set()
        if self.is_alive():
            self.join(timeout=2)
        for output in self.outputs:
            output.close()

    def stats(self) -> list[dict[str, object]]:
        return [output.stats() for output in self.outputs]
