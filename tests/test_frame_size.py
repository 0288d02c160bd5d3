"""One frame-size rule: the command line, the generators, the recorder and `visuals render` agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import build_parser
from engine.errors import FrameSizeError, ParamError, VisualError
from engine.visual.frame_size import MAX_SIDE, MIN_SIDE, check_frame_size
from engine.visual.generators.base import create_generator
from engine.visual.offline_render import VisualRenderRequest, render_visuals
from engine.visual.recorder import VideoRecorder

BAD = [(100, 64), (8, 8), (64, 0), (MAX_SIDE + 8, 64), (64, 8192), (63, 64)]


def parse_size(text: str) -> tuple[int, int]:
    args = build_parser().parse_args(["visuals", "render", "--audio", "a.wav", "--out", "a.mp4", "--size", text])
    return args.size


@pytest.mark.parametrize(("width", "height"), BAD)
def test_every_stage_refuses_the_same_sizes(width: int, height: int, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    message = f"multiple of 8 from {MIN_SIDE} to {MAX_SIDE}"
    with pytest.raises(SystemExit):
        parse_size(f"{width}x{height}")
    assert message in capsys.readouterr().err
    with pytest.raises(FrameSizeError, match=message):
        create_generator("cppn", width, height)
    with pytest.raises(FrameSizeError, match=message):
        VideoRecorder(tmp_path / "x.mp4", width, height, 30.0)
    with pytest.raises(FrameSizeError, match=message):  # before any analysis or model work
        render_visuals(VisualRenderRequest(audio=tmp_path / "unread.wav", out=None, width=width, height=height))


def test_the_bounds_themselves_are_accepted() -> None:
    assert parse_size(f"{MIN_SIDE}x{MAX_SIDE}") == (MIN_SIDE, MAX_SIDE) == check_frame_size(MIN_SIDE, MAX_SIDE)


def test_a_bad_size_is_a_parameter_error_and_a_visual_error() -> None:
    with pytest.raises(ParamError):
        check_frame_size(12, 64)
    with pytest.raises(VisualError, match="width must be an integer"):
        check_frame_size(64.0, 64)
