"""Spout out (Windows): the frames as a Spout sender that Resolume, TouchDesigner or OBS (with the
Spout plugin) on the same PC pick up from the GPU. Through `SpoutGL`, which makes its own OpenGL
context on the thread that first sends, so the sender thread is the only one that touches it.

UNTESTED on the development machine (Linux, no Spout): written against SpoutGL's image sender example
(setSenderName, sendImage of RGBA bytes, setFrameSync).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import VisualError
from engine.visual.frame_size import check_frame_size
from engine.visual.outputs.sender import FrameSender, check_output_fps, check_output_name

GL_RGBA = 0x1908  # OpenGL's constant, spelled out so PyOpenGL is not needed for it


class SpoutSink:
    pixel_format = "rgba"

    def __init__(self, name: str) -> None:
        if sys.platform != "win32":
            raise VisualError("Spout output is off: Spout is Windows only (use --ndi on this system)")
        try:
            import SpoutGL
        except ImportError as exc:
            raise VisualError("Spout output is off: the SpoutGL package is not installed (pip install SpoutGL)") from exc
        self.name = name
        self.label = f"Spout sender {name!r}"
        self._sender: Any = SpoutGL.SpoutSender()
        self._sender.setSenderName(name)

    def send(self, pixels: np.ndarray, audio_time_s: float) -> None:
        height, width = pixels.shape[:2]
        if not self._sender.sendImage(pixels, width, height, GL_RGBA, False, 0):
            raise OSError("Spout did not take the frame")
        self._sender.setFrameSync(self.name)

    def stats(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        if self._sender is not None:
            self._sender.releaseSender()
            self._sender = None


class SpoutOut(FrameSender):
    """A Spout sender named `name` showing the frames offered, at `size`."""

    def __init__(self, name: str, size: tuple[int, int] = (512, 512), fps: float | None = None, *,
                 on_error: Callable[[str], None] | None = None) -> None:
        size, fps = check_frame_size(*size), check_output_fps(fps)
        sink = SpoutSink(check_output_name(name, "a Spout sender name"))
        try:
            super().__init__(sink, size, fps, on_error=on_error)
        except Exception:
            sink.close()
            raise
