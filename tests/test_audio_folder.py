"""A folder of recordings as training material: formats, recursion, mono, resampling, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from training_fixtures import TINY, run_cli, tone, tone_folder

from engine.errors import TrainingDataError
from engine.training.audio_folder import FolderCrops, read_folder


def test_every_format_is_read_recursively_as_mono_at_the_model_rate(tmp_path: Path) -> None:
    written = tone_folder(tmp_path, seconds_each=7.0)
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "sub" / "broken.wav").write_bytes(b"RIFF....WAVEfmt nothing else")
    audio = read_folder(tmp_path, 48000)
    assert sorted(p.suffix for p in audio.files) == sorted(p.suffix for p in written)  # mp3 where libsndfile has it
    assert [p.name for p, _ in audio.skipped] == ["broken.wav"]
    for clip in audio.clips:
        assert clip.ndim == 1 and clip.dtype == np.float32
        assert abs(len(clip) - 7.0 * 48000) < 0.02 * 48000  # resampled from 22.05 kHz (mp3 pads a little)
        assert float(np.max(np.abs(clip))) > 0.1
    assert audio.seconds == pytest.approx(7.0 * len(written), rel=0.02)


def test_a_folder_with_no_audio_is_refused(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    (tmp_path / "bad.flac").write_bytes(b"fLaC garbage")
    with pytest.raises(TrainingDataError, match=r"no readable audio files \(1 unreadable\)"):
        read_folder(tmp_path, 48000)


def test_too_little_audio_is_refused_with_one_line_and_status_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "short.wav", tone(12.0, 44100, 220.0), 44100)
    done = run_cli("train", "--data", str(data), "--out", str(tmp_path / "m.ts"), "--steps", "2",
                   "--model-config", json.dumps(TINY))
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "12.0 s of audio in 1 files" in lines[0] and "at least 30 s" in lines[0], lines
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "m.ts").exists()


def test_crops_cover_every_file_in_proportion_to_its_length() -> None:
    clips = [np.full(1000, 1.0, np.float32), np.full(3000, 2.0, np.float32)]
    crops = FolderCrops(clips, 100)
    rng = np.random.default_rng(0)
    values = [float(crops(rng)[0]) for _ in range(400)]
    share = values.count(2.0) / len(values)
    assert 0.65 < share < 0.85  # 3/4 of the material
    assert all(len(crops(rng)) == 100 for _ in range(10))


def test_short_clips_are_strung_together_not_padded_with_silence() -> None:
    hits = [np.full(30, float(i + 1), np.float32) for i in range(5)]
    excerpt = FolderCrops(hits, 100)(np.random.default_rng(0))
    assert len(excerpt) == 100 and np.all(excerpt > 0)
