"""The MP4 recorder: frames and sound decode back as written, in sync, and survive a crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from engine.errors import VisualError  # noqa: E402
from engine.visual.recorder import VideoRecorder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RATE = 48000
FPS = 30
PALETTE = [(200, 30, 40), (20, 180, 60), (40, 60, 220), (230, 200, 40), (10, 10, 10), (120, 120, 120)]


def _colour(k: int) -> tuple[int, int, int]:
    return (255, 255, 255) if k == FPS else PALETTE[(k // 15) % len(PALETTE)]  # frame 30 (t = 1 s): the flash


def _decode_video(path: Path) -> tuple[list[float], np.ndarray]:
    with av.open(str(path)) as container:
        frames = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    return [t for t, _ in frames], np.stack([rgb for _, rgb in frames])


def _decode_audio(path: Path) -> tuple[float, np.ndarray]:
    """(time of the first sample, samples (channels, n))."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    return frames[0].time, np.concatenate([frame.to_ndarray() for frame in frames], axis=1)


@pytest.fixture(scope="module")
def three_seconds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VideoRecorder]:
    """3 s of 64x64 at 30 fps, colour blocks, a white flash and a click both at t = 1 s."""
    path = tmp_path_factory.mktemp("rec") / "three.mp4"
    hop = RATE // FPS
    rng = np.random.default_rng(0)
    with VideoRecorder(path, 64, 64, FPS, samplerate=RATE, channels=2) as recorder:
        for k in range(3 * FPS):
            recorder.write_frame(np.full((64, 64, 3), _colour(k), dtype=np.uint8))
            audio = (rng.standard_normal((hop, 2)) * 0.001).astype(np.float32)
            if k == FPS:
                audio[:48] = 0.9  # a 1 ms click at exactly 1.0 s
            # Uneven blocks, as an audio callback would hand them over.
            recorder.write_audio(audio[:333])
            recorder.write_audio(audio[333:])
    return path, recorder


def test_frames_colours_and_audio_length(three_seconds: tuple[Path, VideoRecorder]) -> None:
    path, recorder = three_seconds
    assert recorder.frames_written == 90 and recorder.frames_dropped == 0
    assert recorder.audio_seconds == pytest.approx(3.0)
    times, frames = _decode_video(path)
    assert len(frames) == 90
    assert np.all(np.diff(times) > 0)
    for k, rgb in enumerate(frames):
        centre = rgb[16:48, 16:48].reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - np.array(_colour(k))).max() < 6, (k, centre, _colour(k))
    start, samples = _decode_audio(path)
    assert samples.shape[0] == 2
    assert samples.shape[1] / RATE == pytest.approx(3.0, abs=0.05)
    assert start == pytest.approx(0.0, abs=1e-6)


def test_flash_and_click_line_up(three_seconds: tuple[Path, VideoRecorder]) -> None:
    path, recorder = three_seconds
    times, frames = _decode_video(path)
    flash = [t for t, rgb in zip(times, frames, strict=True) if rgb.mean() > 240]
    assert len(flash) == 1
    start, samples = _decode_audio(path)
    loud = np.flatnonzero(np.abs(samples[0]) > 0.45)
    click = start + loud[0] / RATE
    assert abs(flash[0] - click) < 1.0 / FPS, (flash[0], click)
    # Both sit at 1 s, delayed together by the encoder's priming (~21 ms for AAC).
    assert flash[0] == pytest.approx(1.0 + recorder.priming_seconds, abs=1e-3)
    assert 0 < recorder.priming_seconds < 0.05


def test_variable_frame_times_and_dropped_frames(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    given = [0.0, 0.04, 0.095, 0.095, 0.05, 0.2, 0.213, None]  # a repeat and a step back: both dropped
    frame = np.zeros((32, 48, 3), dtype=np.uint8)
    with VideoRecorder(path, 48, 32, FPS) as recorder:
        kept = [recorder.write_frame(frame, t) for t in given]
        recorder.write_audio(np.zeros(RATE // 2, dtype=np.float32))  # mono block into a stereo file
    assert kept == [True, True, True, False, False, True, True, True]
    assert recorder.frames_written == 6 and recorder.frames_dropped == 2
    expected = [0.0, 0.04, 0.095, 0.2, 0.213, 0.213 + 1 / FPS]  # untimed: one period after the last
    times, _ = _decode_video(path)
    assert times[0] == 0.0  # the first picture is held from the file's start
    assert np.allclose(np.array(times[1:]) - recorder.priming_seconds, expected[1:], atol=2e-5)


def test_a_recording_cut_short_by_a_crash_still_plays(tmp_path: Path) -> None:
    path = tmp_path / "crash.mp4"
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        import numpy as np
        from engine.visual.recorder import VideoRecorder
        recorder = VideoRecorder(Path({str(path)!r}), 64, 64, {FPS})
        for k in range(2 * {FPS}):
            recorder.write_frame(np.full((64, 64, 3), 4 * k, dtype=np.uint8))
            recorder.write_audio(np.zeros(({RATE // FPS}, 2), dtype=np.float32))
        os._exit(0)  # no close(): as if the process died
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    times, frames = _decode_video(path)
    assert len(frames) >= FPS, f"only {len(frames)} of {2 * FPS} frames survived"
    assert np.abs(frames[-1].mean() - 4 * (len(frames) - 1)) < 4  # in order, none missing before the cut
    start, samples = _decode_audio(path)
    assert samples.shape[1] / RATE > 0.75


def test_video_only(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    with VideoRecorder(path, 32, 32, 25, channels=0) as recorder:
        for _ in range(10):
            recorder.write_frame(np.zeros((32, 32, 3), dtype=np.uint8))
        with pytest.raises(VisualError, match="channels=0"):
            recorder.write_audio(np.zeros(10, dtype=np.float32))
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 0
        assert sum(1 for _ in container.decode(video=0)) == 10


def test_bad_input_raises_visual_error(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    for path, message in ((tmp_path / "missing" / "x.mp4", "does not exist"),
                          (tmp_path / "file.txt" / "x.mp4", "does not exist"),
                          (tmp_path, "is a folder"),
                          (tmp_path / "x.avi", "writes MP4")):
        with pytest.raises(VisualError, match=message):
            VideoRecorder(path, 64, 64, FPS)
    for kwargs, message in ((dict(width=63), "width must be a multiple of 8"), (dict(height=0), "height must be"),
                            (dict(fps=0.0), "fps must be"), (dict(crf=99), "crf must be"),
                            (dict(channels=3), "channels must be"), (dict(preset="warp"), "preset must be")):
        args: dict = dict(path=tmp_path / "y.mp4", width=64, height=64, fps=FPS) | kwargs
        with pytest.raises(VisualError, match=message):
            VideoRecorder(**args)

    recorder = VideoRecorder(tmp_path / "ok.mp4", 64, 64, FPS)
    with pytest.raises(VisualError, match=r"rgb must have shape \(64, 64, 3\)"):
        recorder.write_frame(np.zeros((64, 32, 3), dtype=np.uint8))
    with pytest.raises(VisualError, match="rgb must be a uint8"):
        recorder.write_frame(np.zeros((64, 64, 3), dtype=np.float32))
    with pytest.raises(VisualError, match="time_seconds must be"):
        recorder.write_frame(np.zeros((64, 64, 3), dtype=np.uint8), float("nan"))
    with pytest.raises(VisualError, match="samples must be a float32"):
        recorder.write_audio(np.zeros((10, 2), dtype=np.float64))
    with pytest.raises(VisualError, match=r"samples must have shape \(n, 2\)"):
        recorder.write_audio(np.zeros((10, 3), dtype=np.float32))
    recorder.close()
    recorder.close()  # idempotent
    with pytest.raises(VisualError, match="closed"):
        recorder.write_frame(np.zeros((64, 64, 3), dtype=np.uint8))
