"""`visuals render`: an audio file to an MP4 whose images follow it, from the command line and the API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from engine.errors import VisualError
from engine.visual.offline_render import VisualRenderRequest, render_visuals

ROOT = Path(__file__).resolve().parents[1]
RATE = 48000


def drum_track(path: Path, seconds: float = 8.0, bpm: float = 120.0) -> Path:
    """Kicks on every beat, a quiet pad between them: the beats are the only events."""
    t = np.arange(int(seconds * RATE)) / RATE
    audio = 0.02 * np.sin(2 * np.pi * 220 * t)
    period = 60.0 / bpm
    kick_t = np.arange(int(0.15 * RATE)) / RATE
    kick = 0.8 * np.sin(2 * np.pi * (60 + 90 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 18)
    for start in np.arange(0.25, seconds - 0.2, period):
        i = int(start * RATE)
        audio[i:i + kick.size] += kick[: audio.size - i]
    sf.write(path, np.stack([audio, audio], axis=1).astype(np.float32), RATE)
    return path


def test_cli_renders_video_with_its_audio(tmp_path: Path) -> None:
    audio = drum_track(tmp_path / "drums.wav", seconds=4.0)
    out = tmp_path / "drums.mp4"
    done = subprocess.run([sys.executable, str(ROOT / "run_engine.py"), "visuals", "render", "--audio", str(audio),
                           "--out", str(out), "--size", "96x64", "--fps", "24", "--theme", "strobe"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "96 frames" in done.stderr
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (96, 64)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(out)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert len(frames) == 96
    assert abs(samples / RATE - 4.0) < 0.1
    assert np.std([f.mean() for f in frames]) > 0.5  # the picture moves


def test_cppn_changes_more_on_beats_than_between_them(tmp_path: Path) -> None:
    audio = drum_track(tmp_path / "drums.wav", seconds=10.0)
    result = render_visuals(VisualRenderRequest(audio=audio, out=None, width=64, height=64, fps=30, theme="nebula",
                                                progress=False))
    assert result.frames == 300
    settled = result.beat_frames[result.beat_frames > 90]  # the tracker has locked by 3 s
    assert len(settled) >= 10  # 120 BPM: a beat every 15 frames
    on_beat = np.zeros(result.frames, dtype=bool)
    on_beat[settled] = True
    on_beat[np.clip(settled + 1, 0, result.frames - 1)] = True  # a reaction may land a frame later
    between = ~on_beat
    between[:91] = False
    beat_change = result.frame_change[on_beat].mean()
    calm_change = np.median(result.frame_change[between])
    assert beat_change > 1.5 * calm_change, (beat_change, calm_change)


def test_bad_arguments_are_clear(tmp_path: Path) -> None:
    audio = drum_track(tmp_path / "drums.wav", seconds=1.0)
    with pytest.raises(Exception, match="cubist"):
        render_visuals(VisualRenderRequest(audio=audio, out=None, theme="cubist", progress=False))
    with pytest.raises(VisualError, match="--fps"):
        render_visuals(VisualRenderRequest(audio=audio, out=None, fps=0, progress=False))
    done = subprocess.run([sys.executable, str(ROOT / "run_engine.py"), "visuals", "render", "--audio",
                           str(tmp_path / "missing.wav"), "--out", str(tmp_path / "x.mp4")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "missing.wav" in done.stderr and "Traceback" not in done.stderr


def test_texture_generator_renders_through_real_tiny_vae_weights(tmp_path: Path) -> None:
    decoder = ROOT.parent / "shared" / "fixtures" / "taef2" / "taef2_decoder.pth"
    if not decoder.is_file():
        pytest.skip(f"{decoder} is not here (../shared beside the checkout)")
    audio = drum_track(tmp_path / "drums.wav", seconds=1.0)
    out = tmp_path / "texture.mp4"
    done = subprocess.run([sys.executable, str(ROOT / "run_engine.py"), "visuals", "render", "--audio", str(audio),
                           "--out", str(out), "--size", "64x64", "--fps", "8", "--generator", "texture",
                           "--visual-vae", str(decoder)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 8 and frames[-1].std() > 2.0
    missing = subprocess.run([sys.executable, str(ROOT / "run_engine.py"), "visuals", "render", "--audio", str(audio),
                              "--out", str(out), "--generator", "texture"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    assert missing.returncode == 2 and "--visual-vae" in missing.stderr
