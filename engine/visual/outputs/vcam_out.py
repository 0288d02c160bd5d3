"""A virtual camera: frames as a webcam that OBS, browsers, Zoom or any capture software opens.

Through `pyvirtualcam`: on Linux a v4l2loopback device (`sudo modprobe v4l2loopback`), on Windows and
macOS the OBS virtual camera (or Unity Capture on Windows). A camera has no timecode; frames go out as
RGB at `size`. Reusable like NdiOut: `VirtualCamOut(size, fps, device)`, `.offer`, `.stats`, `.close`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import VisualError
from engine.visual.frame_size import check_frame_size
from engine.visual.outputs.sender import FrameSender, check_output_fps

VCAM_MISSING = "the pyvirtualcam package is not installed (pip install 'rave-engine[video]' or pip install pyvirtualcam)"


class VirtualCamSink:
    pixel_format = "rgb24"

    def __init__(self, size: tuple[int, int], nominal_fps: float, device: str | None) -> None:
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise VisualError(f"virtual camera is off: {VCAM_MISSING}") from exc
        width, height = size
        try:
            self._camera: Any = pyvirtualcam.Camera(width, height, nominal_fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                                    device=device)
        except Exception as exc:  # no loopback device, no OBS: pyvirtualcam says which and how to fix it
            raise VisualError(f"virtual camera is off: {exc}") from exc
        self.device = str(self._camera.device)
        self.label = f"virtual camera {self.device}"

    def send(self, pixels: np.ndarray, audio_time_s: float) -> None:
        self._camera.send(pixels)  # a camera has no timecode; the frame goes out now

    def stats(self) -> dict[str, object]:
        return {"device": self.device}

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None


class VirtualCamOut(FrameSender):
    """A virtual camera (`device` None: the first free one) showing the frames offered at `size`."""

    def __init__(self, size: tuple[int, int] = (512, 512), fps: float | None = None, *, device: str | None = None,
                 nominal_fps: float = 30.0, on_error: Callable[[str], None] | None = None) -> None:
        size, fps = check_frame_size(*size), check_output_fps(fps)
        sink = VirtualCamSink(size, fps or nominal_fps, device)
        try:
            super().__init__(sink, size, fps, on_error=on_error)
        except Exception:
            sink.close()
            raise
