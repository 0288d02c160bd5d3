"""NDI out: frames as an NDI source that Resolume, TouchDesigner, OBS or vMix receive over the network.

Through `ndi-python` (import `NDIlib`), whose wheel carries the NDI runtime. Frames go out as RGBX
(NDI compresses them to SpeedHQ itself), with the NDI timecode (100 ns units) set from the engine's
audio clock: the moment the frame's audio is heard, so a receiver that lines up NDI streams by
timecode lines the picture up with the sound. The sender is created unclocked: our own thread paces
it (engine/visual/outputs/sender.py), so a send never sleeps to keep a rate.

Reusable anywhere frames are made: `NdiOut(name, size, fps)`, `.offer(frame, audio_time_s)` (never
blocks), `.stats()`, `.close()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from engine.errors import VisualError
from engine.visual.frame_size import check_frame_size
from engine.visual.outputs.sender import FrameSender, check_output_fps, check_output_name

log = logging.getLogger(__name__)

TIMECODE_UNITS_PER_SECOND = 10_000_000  # NDI timecodes count 100 ns
NDI_MISSING = "the ndi-python package is not installed (pip install 'rave-engine[video]' or pip install ndi-python)"


def check_ndi_name(name: object) -> str:
    return check_output_name(name, "an NDI source name")


def import_ndi() -> Any:
    """The NDIlib module with its runtime started, or VisualError saying what is missing."""
    try:
        import NDIlib
    except ImportError as exc:
        raise VisualError(f"NDI output is off: {NDI_MISSING}") from exc
    except OSError as exc:  # the bundled libndi.so could not be loaded
        raise VisualError(f"NDI output is off: the NDI runtime did not load ({exc})") from exc
    if not NDIlib.initialize():
        why = "" if NDIlib.is_supported_CPU() else " (this CPU lacks what NDI needs: SSE4.2)"
        raise VisualError(f"NDI output is off: the NDI runtime did not start{why}")
    return NDIlib


def timecode(audio_time_s: float) -> int:
    """NDI timecode (100 ns units) of a moment on the engine's audio clock."""
    return round(audio_time_s * TIMECODE_UNITS_PER_SECOND)


class NdiSink:
    """One NDI sender. `send` runs on the FrameSender's thread."""

    pixel_format = "rgba"

    def __init__(self, name: str, size: tuple[int, int], nominal_fps: float) -> None:
        self.name = check_ndi_name(name)
        self.label = f"NDI source {self.name!r}"
        ndi = import_ndi()
        self._ndi = ndi
        self._sender = ndi.send_create(ndi.SendCreate(self.name, None, False, False))  # unclocked: we pace
        if self._sender is None:
            raise VisualError(f"NDI output is off: could not create the NDI source {self.name!r}")
        rate = Fraction(nominal_fps).limit_denominator(1001)
        width, height = size
        self._frame = ndi.VideoFrameV2(width, height, ndi.FOURCC_VIDEO_TYPE_RGBX, rate.numerator, rate.denominator)
        self._frame.line_stride_in_bytes = width * 4
        source = ndi.send_get_source_name(self._sender)
        self.source_name = str(source.ndi_name) if source is not None else self.name  # "HOST (name)"
        log.info("NDI source %s is on the network", self.source_name)

    def send(self, pixels: np.ndarray, audio_time_s: float) -> None:
        self._frame.data = pixels
        self._frame.timecode = timecode(audio_time_s)
        self._ndi.send_send_video_v2(self._sender, self._frame)  # synchronous: done with `pixels` on return

    def connections(self) -> int:
        return int(self._ndi.send_get_no_connections(self._sender, 0))

    def stats(self) -> dict[str, object]:
        return {"source": self.source_name, "connections": self.connections() if self._sender else 0}

    def close(self) -> None:
        if self._sender is not None:
            self._ndi.send_destroy(self._sender)
            self._sender = None


class NdiOut(FrameSender):
    """An NDI source named `name` sending the frames offered to it at `size`; `fps` None: every frame
    as offered (the receiver is told `nominal_fps`), a number: paced at that rate."""

    def __init__(self, name: str, size: tuple[int, int] = (512, 512), fps: float | None = None, *,
                 nominal_fps: float = 30.0, on_error: Callable[[str], None] | None = None) -> None:
        size, fps = check_frame_size(*size), check_output_fps(fps)
        if check_output_fps(nominal_fps) is None:
            raise VisualError("nominal_fps must be a number")
        sink = NdiSink(name, size, fps or nominal_fps)
        try:
            super().__init__(sink, size, fps, on_error=on_error)
        except Exception:
            sink.close()
            raise

    @property
    def source_name(self) -> str:
        """The name receivers list: "HOST (name)"."""
        return self.sink.source_name  # type: ignore[attr-defined]
