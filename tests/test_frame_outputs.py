"""Video outputs without a network: a blocked sink never blocks the frame source, frames are fitted
to the output's size, a paced output repeats its last frame, the fan-out offers each new frame of
the shared buffer once, and a missing package is one clear error."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from waiting import wait_until

from engine.errors import VisualError
from engine.session.config import SessionConfig
from engine.session.video_outputs import open_video_outputs
from engine.visual.frame_buffer import FrameBuffer
from engine.visual.outputs.fanout import FrameFanout
from engine.visual.outputs.mailbox import NewestOnly
from engine.visual.outputs.sender import FrameSender, check_output_fps


class RecordingSink:
    """Keeps what it is sent; `gate`, when given, holds each send until it is set."""

    label = "test sink"

    def __init__(self, pixel_format: str = "rgb24", gate: threading.Event | None = None,
                 fail: bool = False) -> None:
        self.pixel_format = pixel_format
        self.gate = gate
        self.fail = fail
        self.entered = threading.Event()
        self.received: list[tuple[np.ndarray, float]] = []
        self.closed = False

    def send(self, pixels: np.ndarray, audio_time_s: float) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait()
        if self.fail:
            raise OSError("receiver went away")
        self.received.append((pixels.copy(), audio_time_s))

    def stats(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        self.closed = True


def frame(value: int, size: int = 32) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


def test_the_mailbox_keeps_only_the_newest() -> None:
    box: NewestOnly[int] = NewestOnly()
    assert box.take(0) is None
    for i in range(5):
        box.put(i)
    assert box.take(0) == 4
    assert box.take(0) is None
    assert (box.put_count, box.dropped) == (5, 4)


def test_a_blocked_sink_never_blocks_the_source() -> None:
    gate = threading.Event()
    sink = RecordingSink(gate=gate)
    sender = FrameSender(sink, (32, 32))
    try:
        sender.offer(frame(0), 0.0)
        assert sink.entered.wait(10), "the sender never took the first frame"
        for i in range(1, 50):  # the sink is stuck inside send: every offer still returns
            sender.offer(frame(i), float(i))
        assert sender.offered == 50
        assert sender.dropped == 48  # 1..48 replaced unsent; 49 waits in the mailbox
        gate.set()
        assert wait_until(lambda: len(sink.received) == 2, 10)
    finally:
        gate.set()
        sender.close()
    assert [t for _, t in sink.received] == [0.0, 49.0]  # the frame in flight, then the newest
    assert sink.received[1][0][0, 0, 0] == 49
    assert sink.closed and sender.sent == 2


def test_an_offered_frame_is_copied_unless_handed_over() -> None:
    gate = threading.Event()
    sink = RecordingSink(gate=gate)
    sender = FrameSender(sink, (32, 32))
    try:
        pixels = frame(7)
        sender.offer(pixels, 1.0)
        pixels[:] = 200  # the caller reuses its buffer at once
        gate.set()
        assert wait_until(lambda: len(sink.received) == 1, 10)
    finally:
        gate.set()
        sender.close()
    assert sink.received[0][0][0, 0, 0] == 7


def test_frames_are_fitted_to_the_output_size_and_pixel_format() -> None:
    sink = RecordingSink(pixel_format="rgba")
    sender = FrameSender(sink, (96, 64))
    try:
        rgb = np.zeros((32, 32, 3), dtype=np.uint8)
        rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 30
        sender.offer(rgb, 2.5)
        assert wait_until(lambda: len(sink.received) == 1, 10)
    finally:
        sender.close()
    pixels, seconds = sink.received[0]
    assert pixels.shape == (64, 96, 4) and pixels.dtype == np.uint8
    assert np.abs(pixels[32, 48, :3].astype(int) - [200, 100, 30]).max() <= 2
    assert (pixels[..., 3] == 255).all()
    assert seconds == 2.5


def test_a_paced_output_repeats_the_last_frame_with_its_time_moved_on() -> None:
    sink = RecordingSink()
    sender = FrameSender(sink, (32, 32), fps=200.0)
    try:
        sender.offer(frame(9), 10.0)
        assert wait_until(lambda: len(sink.received) >= 5, 10)
    finally:
        sender.close()
    times = [t for _, t in sink.received]
    assert times[0] == 10.0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert all(p[0, 0, 0] == 9 for p, _ in sink.received)
    assert sender.repeated >= 4 and sender.offered == 1


def test_a_failing_sink_is_reported_once_and_the_sender_carries_on() -> None:
    lines: list[str] = []
    sink = RecordingSink(fail=True)
    sender = FrameSender(sink, (32, 32), on_error=lines.append)
    try:
        for i in range(3):
            sink.entered.clear()
            sender.offer(frame(i), float(i))
            assert sink.entered.wait(10)
            assert wait_until(lambda i=i: sender.errors == i + 1, 10)
    finally:
        sender.close()
    assert lines == ["test sink: receiver went away"]
    assert sender.sent == 0


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8), [[0]]])
def test_a_frame_that_is_not_rgb_uint8_is_refused(bad: object) -> None:
    sender = FrameSender(RecordingSink(), (32, 32))
    try:
        with pytest.raises(VisualError, match="uint8 RGB"):
            sender.offer(bad, 0.0)  # type: ignore[arg-type]
    finally:
        sender.close()


@pytest.mark.parametrize("fps", [0, -1, float("nan"), 1000, True])
def test_output_fps_out_of_range_is_refused(fps: object) -> None:
    with pytest.raises(VisualError, match="output fps"):
        check_output_fps(fps)  # type: ignore[arg-type]


def test_the_fanout_offers_each_new_frame_of_the_shared_buffer_once() -> None:
    frames = FrameBuffer.create(32, 32)
    sinks = [RecordingSink(), RecordingSink(pixel_format="rgba")]
    senders = [FrameSender(sinks[0], (32, 32)), FrameSender(sinks[1], (16, 16))]
    fanout = FrameFanout(frames, senders)  # polled by hand: no thread
    try:
        assert not fanout.poll()  # nothing written yet
        frames.write(frame(40), 0, 1.25)
        assert fanout.poll() and not fanout.poll()  # the same frame is not offered twice
        assert wait_until(lambda: all(len(s.received) == 1 for s in sinks), 10)
        frames.write(frame(80), 1, 1.5)
        assert fanout.poll()
        assert wait_until(lambda: all(len(s.received) == 2 for s in sinks), 10)
    finally:
        fanout.stop()
        frames.close()
    assert [t for _, t in sinks[0].received] == [1.25, 1.5]
    assert sinks[0].received[1][0][0, 0, 0] == 80
    assert sinks[1].received[1][0].shape == (16, 16, 4)
    assert all(s.closed for s in sinks) and fanout.frames_read == 2


def test_an_output_that_cannot_open_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "NDIlib", None)  # import NDIlib now raises ImportError
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    monkeypatch.setattr(sys, "platform", "linux")
    frames = FrameBuffer.create(32, 32)
    reported: list[tuple[str, str]] = []
    try:
        config = SessionConfig(ndi="stage", vcam=True, syphon="stage", spout="stage")
        assert config.wants_visuals
        assert open_video_outputs(config, frames, 30.0, lambda flag, line: reported.append((flag, line))) is None
    finally:
        frames.close()
    assert [flag for flag, _ in reported] == ["--ndi", "--vcam", "--syphon", "--spout"]
    assert all("\n" not in line for _, line in reported)
    assert "ndi-python package is not installed" in reported[0][1]
    assert "pyvirtualcam package is not installed" in reported[1][1]
    assert "Syphon is macOS only" in reported[2][1] and "Spout is Windows only" in reported[3][1]


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 101])
@pytest.mark.parametrize(("flag", "what"), [("ndi", "NDI source"), ("syphon", "Syphon server"), ("spout", "Spout sender")])
def test_a_bad_source_name_is_refused_by_its_flag(name: str, flag: str, what: str) -> None:
    from engine.errors import ParamError

    with pytest.raises(ParamError, match=f"--{flag}: .*{what} name must be"):
        SessionConfig.checked(**{flag: name})
