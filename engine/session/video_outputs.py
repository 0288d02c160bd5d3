"""The session's video outputs (`live --ndi NAME`, `--vcam`, `--syphon NAME`, `--spout NAME`): opened
beside the visual process, fed from its shared frame buffer. An output that cannot open (package
missing, no NDI runtime, no loopback device, the wrong system) is reported as one line and left out;
the audio and the other outputs carry on."""

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
    for flag, wanted, make in _outputs(config, nominal_fps):
        if not wanted:
            continue
        try:
            outputs.append(make(lambda line, flag=flag: on_error(flag, line)))
        except VisualError as exc:
            on_error(flag, str(exc))
    if not outputs:
        return None
    fanout = FrameFanout(frames, outputs)
    fanout.start()
    return fanout


OutputFactory = Callable[[Callable[[str], None]], FrameOutput]


def _outputs(config: SessionConfig, nominal_fps: float) -> list[tuple[str, bool, OutputFactory]]:
    """(flag, asked for, factory taking the output's error callback); each module is imported only
    when its output is asked for."""
    def ndi(on_error: Callable[[str], None]) -> FrameOutput:
        from engine.visual.outputs.ndi_out import NdiOut

        assert config.ndi is not None
        return NdiOut(config.ndi, config.ndi_size, config.ndi_fps, nominal_fps=nominal_fps, on_error=on_error)

    def vcam(on_error: Callable[[str], None]) -> FrameOutput:
        from engine.visual.outputs.vcam_out import VirtualCamOut

        return VirtualCamOut(config.vcam_size, config.vcam_fps, device=config.vcam_device, nominal_fps=nominal_fps,
                             on_error=on_error)

    def syphon(on_error: Callable[[str], None]) -> FrameOutput:
        from engine.visual.outputs.syphon_out import SyphonOut

        assert config.syphon is not None
        return SyphonOut(config.syphon, config.visual_size, on_error=on_error)

    def spout(on_error: Callable[[str], None]) -> FrameOutput:
        from engine.visual.outputs.spout_out import SpoutOut

        assert config.spout is not None
        return SpoutOut(config.spout, config.visual_size, on_error=on_error)

    return [("--ndi", config.ndi is not None, ndi), ("--vcam", config.vcam, vcam),
            ("--syphon", config.syphon is not None, syphon), ("--spout", config.spout is not None, spout)]
