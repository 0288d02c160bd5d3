"""Frames from the node's frame buffer to further outputs (NDI, and whatever comes next).

A sink has `offer(frame, audio_time_s)` (uint8 RGB (height, width, 3); the timeline seconds of the
audio the frame shows) and `close()`. `offer` is called from the pump's own thread for each new
frame, so a slow sink slows only the pump (which then skips frames), never the generator.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import numpy as np

from engine.visual.frame_buffer import FrameBuffer

log = logging.getLogger(__name__)

POLL_SECONDS = 0.002
NDI_MODULE = "engine.visual.outputs.ndi_out"  # NdiOut(name, size, fps), built beside this (issue 13, item 3)


class FrameSink(Protocol):
    def offer(self, frame: np.ndarray, audio_time_s: float) -> None: ...

    def close(self) -> None: ...


class FramePump(threading.Thread):
    def __init__(self, frames: FrameBuffer, sinks: list[FrameSink]) -> None:
        super().__init__(name="frame-sinks", daemon=True)
        self.frames = frames
        self.sinks = sinks
        self._halt = threading.Event()
        self._pixels = np.empty((frames.height, frames.width, 3), dtype=np.uint8)
        self.offered = 0
        self.errors = 0

    def run(self) -> None:
        last = -1
        while not self._halt.wait(POLL_SECONDS):
            got = self.frames.read_newer(last, self._pixels)
            if got is None:
                continue
            last = got[0]
            for sink in self.sinks:
                try:
                    sink.offer(got[2], got[1])
                    self.offered += 1
                except Exception:  # one broken output must not take the others (or the node) down
                    self.errors += 1
                    if self.errors == 1:
                        log.exception("frame sink %s", type(sink).__name__)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=2)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("closing frame sink %s", type(sink).__name__)


def open_ndi(name: str, size: tuple[int, int], fps: float | None = None) -> FrameSink | None:
    """An NDI sender (`fps` None: every frame as it comes), or None with one clear line when NDI is not
    available here (the module, the ndi-python package or its runtime missing)."""
    import importlib

    from engine.errors import EngineError

    try:
        ndi_out = importlib.import_module(NDI_MODULE)
        return ndi_out.NdiOut(name, size, fps)  # type: ignore[no-any-return]
    except (ImportError, EngineError) as exc:
        log.warning("--ndi %s: NDI output is not available here (%s); the node runs without it", name, exc)
        return None
