"""The session's video outputs (`live --ndi NAME`, `--vcam`): opened beside the visual process, fed
from its shared frame buffer. An output that cannot open (package missing, no NDI runtime, no
loopback device) is reported as one line and left out; the audio and the other outputs carry on."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import VisualError
from engine.session.config import SessionConfig
from engine.visual.frame_buffer import FrameBuffer
from engine.visual.outputs.fanout import FrameFanout, FrameOutput


def open_video_outputs(config: SessionConfig, frames: FrameBuffer, nominal_fps: float,
                       on_error: Callable[[str, str], None]) -> FrameFanout | None:
    """Start the outputs `config` asks for; None if it asks for none or none could open.
    `on_error(flag, line)` hears each one that could not, and each that fails later."""
    outputs: list[FrameOutput] = []
    if config.ndi is not None:
        try:
            from engine.visual.outputs.ndi_out import NdiOut

            outputs.append(NdiOut(config.ndi, config.ndi_size, config.ndi_fps, nominal_fps=nominal_fps,
                                  on_error=lambda line: on_error("--ndi", line)))
        except VisualError as exc:
            on_error("--ndi", str(exc))
    if config.vcam:
        try:
            from engine.visual.outputs.vcam_out import VirtualCamOut

            outputs.append(VirtualCamOut(config.vcam_size, config.vcam_fps, device=config.vcam_device,
                                         nominal_fps=nominal_fps, on_error=lambda line: on_error("--vcam", line)))
        except VisualError as exc:
            on_error("--vcam", str(exc))
    if not outputs:
        return None
    fanout = FrameFanout(frames, outputs)
    fanout.start()
    return fanout
