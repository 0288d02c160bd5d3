"""Syphon out (macOS): the frames as a Syphon server that Resolume, MadMapper, VDMX or TouchDesigner
on the same Mac pick up from the GPU. Through `syphon-python` (its Metal server).

UNTESTED on the development machine (Linux, no Syphon): written against syphon-python's documented
example (a SyphonMetalServer, an RGBA8 Metal texture filled from numpy, published each frame).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import VisualError
from engine.visual.frame_size import check_frame_size
from engine.visual.outputs.sender import FrameSender, check_output_fps, check_output_name


class SyphonSink:
    pixel_format = "rgba"

    def __init__(self, name: str, size: tuple[int, int]) -> None:
        if sys.platform != "darwin":
            raise VisualError("Syphon output is off: Syphon is macOS only (use --ndi on this system)")
        try:
            import syphon
            from syphon.utils.numpy import copy_image_to_mtl_texture
            from syphon.utils.raw import create_mtl_texture
        except ImportError as exc:
            raise VisualError("Syphon output is off: the syphon-python package is not installed "
                              "(pip install syphon-python)") from exc
        self.label = f"Syphon server {name!r}"
        self._server: Any = syphon.SyphonMetalServer(name)
        self._texture = create_mtl_texture(self._server.device, *size)
        self._copy = copy_image_to_mtl_texture

    def send(self, pixels: np.ndarray, audio_time_s: float) -> None:
        self._copy(pixels, self._texture)  # Syphon has no timecode: the frame is shown now
        self._server.publish_frame_texture(self._texture)

    def stats(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


class SyphonOut(FrameSender):
    """A Syphon server named `name` showing the frames offered, at `size`."""

    def __init__(self, name: str, size: tuple[int, int] = (512, 512), fps: float | None = None, *,
                 on_error: Callable[[str], None] | None = None) -> None:
        size, fps = check_frame_size(*size), check_output_fps(fps)
        sink = SyphonSink(check_output_name(name, "a Syphon server name"), size)
        try:
            super().__init__(sink, size, fps, on_error=on_error)
        except Exception:
            sink.close()
            raise
