"""Fit a generator frame to an output: its own size and the pixel format its sink takes, in one
swscale pass (PyAV, native code, the GIL released), on the sender's thread, never the generator's."""

from __future__ import annotations

import numpy as np

from engine.errors import VisualError

PIXEL_FORMATS = {"rgb24": 3, "rgba": 4}  # what sinks take; rgba's alpha is opaque


class FrameFitter:
    """Scales uint8 RGB (height, width, 3) frames to `size` in `pixel_format`; keeps its scaler."""

    def __init__(self, size: tuple[int, int], pixel_format: str) -> None:
        if pixel_format not in PIXEL_FORMATS:
            raise VisualError(f"pixel format must be one of {', '.join(PIXEL_FORMATS)}, got {pixel_format!r}")
        try:
            import av
            from av.video.reformatter import VideoReformatter
        except ImportError:
            raise VisualError("video outputs need PyAV (pip install av)") from None
        self._av = av
        self._scaler = VideoReformatter()
        self.width, self.height = size
        self.pixel_format = pixel_format

    def fit(self, rgb: np.ndarray) -> np.ndarray:
        """A new (height, width, channels) uint8 array: the frame scaled (bilinear) and converted."""
        if rgb.shape[:2] == (self.height, self.width) and self.pixel_format == "rgb24":
            return np.ascontiguousarray(rgb)
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        out = self._scaler.reformat(frame, width=self.width, height=self.height, format=self.pixel_format,
                                    interpolation="BILINEAR", threads=1)  # one core: the rest is the audio's
        return out.to_ndarray()
