"""A small preview of the visuals: frames straight from the engine's shared-memory frame buffer when the
console runs on the engine's machine (the engine names the buffer in `/engine/frames NAME`); nothing
when it is remote. Reading never blocks the visual process (the buffer is a seqlocked triple buffer)."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from engine.visual.frame_buffer import FrameBuffer

log = logging.getLogger(__name__)


def attach_frames(name: str) -> FrameBuffer:
    """Attach without adopting the segment: before Python 3.13 an attach registers it with this process's
    resource tracker, which would unlink the engine's buffer when the console exits."""
    frames = FrameBuffer.attach(name)
    if sys.version_info < (3, 13):
        from multiprocessing import resource_tracker

        resource_tracker.unregister(frames.shm._name, "shared_memory")  # type: ignore[attr-defined]
    return frames


class PreviewView(QtWidgets.QStackedWidget):
    def __init__(self, local: bool) -> None:
        super().__init__()
        self.local = local
        self.note = QtWidgets.QLabel("no preview: the engine is on another machine" if not local
                                     else "no visuals running (live --visuals)")
        self.note.setWordWrap(True)
        self.plot = pg.GraphicsLayoutWidget()
        box = self.plot.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        box.addItem(self.image)
        self.addWidget(self.note)
        self.addWidget(self.plot)
        self.setMinimumSize(160, 120)
        self.frames: FrameBuffer | None = None
        self.name = ""
        self.shown = -1
        self.frames_shown = 0

    def on_frames(self, _address: str, args: list[object]) -> None:
        name = str(args[0]) if args else ""
        if not self.local or not name or name == self.name:
            return
        self.close_frames()
        try:
            self.frames = attach_frames(name)
            self.name = name
            self.setCurrentWidget(self.plot)
        except (OSError, ValueError) as exc:  # gone already, or not ours to read
            log.info("console preview: cannot attach %s: %s", name, exc)

    def refresh(self) -> None:
        if self.frames is None or not self.isVisible():
            return
        got = self.frames.read_newer(self.shown)
        if got is not None:
            self.shown = got[0]
            self.image.setImage(np.ascontiguousarray(got[2]), autoLevels=False, levels=(0, 255))
            self.frames_shown += 1

    def close_frames(self) -> None:
        if self.frames is not None:
            self.image.clear()
            self.frames.close()
            self.frames = None
            self.name = ""
