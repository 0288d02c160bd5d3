"""`run_engine.py render` end to end: files, determinism, references, other models, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, rms
from model_factories import make_rave_v1_model, make_rave_v2_model


def run_cli(*args: str, model: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--model", str(model)] if model else []
    return subprocess.run([sys.executable, "run_engine.py", *args, *extra], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "20"})  # no width to depend on


def test_same_arguments_and_seed_give_a_byte_identical_file(tmp_path, default_model_path):
    automation = tmp_path / "auto.toml"
    automation.write_text('[[event]]\ntime = 0.5\naddress = "/rave/chaos"\nvalue = 0.4\nramp = 1.0\n'
                          '[[event]]\ntime = 1.5\nscene = "Intense"\nramp = 1.0\n')
    args = ["render", "--seconds", "3", "--scene", "Chaotic", "--set", "/rave/energy=1.3",
            "--automation", str(automation), "--seed", "7"]
    first, second, other = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    for out, seed in ((first, "7"), (second, "7"), (other, "8")):
        done = run_cli(*args[:-1], seed, "--out", str(out), model=default_model_path)
        assert done.returncode == 0, done.stderr
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    audio, rate = sf.read(first, always_2d=True)
    assert audio.shape[0] == 3 * rate and rms(audio) > 1e-3
    assert done.stderr.splitlines()[0].startswith(f"wrote {other} (3.00 s, ")  # one line, however long


def test_reference_from_real_music(tmp_path, music_dir, default_model_path):
    out = tmp_path / "ref.wav"
    song = music_dir / "admiralbob77_-_Choice_-_Drum-bass.ogg"
    done = run_cli("render", "--seconds", "4", "--reference", str(song), "--out", str(out), model=default_model_path)
    assert done.returncode == 0, done.stderr
    audio, _ = sf.read(out)
    assert rms(audio) > 1e-3


def test_mp3_reference(tmp_path, default_model_path):
    sr = 44100
    t = np.arange(sr * 2) / sr
    mp3 = tmp_path / "tone.mp3"
    sf.write(mp3, (0.4 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr, format="MP3")
    out = tmp_path / "out.wav"
    done = run_cli("render", "--seconds", "2", "--reference", str(mp3), "--out", str(out), model=default_model_path)
    assert done.returncode == 0, done.stderr
    assert rms(sf.read(out)[0]) > 1e-3


def test_rave_v1_model_at_44k_resampled_to_48k(tmp_path):
    model = make_rave_v1_model(tmp_path, latent_size=6, sr=44100)
    out = tmp_path / "v1.wav"
    done = run_cli("render", "--seconds", "2.5", "--samplerate", "48000", "--set", "/rave/latent/5/bias=1",
                   "--out", str(out), model=model)
    assert done.returncode == 0, done.stderr
    audio, rate = sf.read(out)
    assert rate == 48000 and audio.shape[0] == 120000 and rms(audio) > 1e-3


def test_rave_v2_model_stochastic_decode_is_seeded(tmp_path):
    model = make_rave_v2_model(tmp_path, latent_size=4, full_latent_size=16)
    outs = [tmp_path / f"{i}.wav" for i in range(2)]
    for out in outs:
        done = run_cli("render", "--seconds", "1.5", "--seed", "3", "--out", str(out), model=model)
        assert done.returncode == 0, done.stderr
    assert outs[0].read_bytes() == outs[1].read_bytes()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--set", "/rave/nope=1"], "unknown address '/rave/nope'"),
        (["--set", "/rave/energy=nan"], "not a finite number"),
        (["--set", "/rave/energy"], "expected ADDRESS=VALUE"),
        (["--set", "/lfo/0/shape=wobble"], "is not one of"),
        (["--scene", "Nowhere"], "unknown scene 'Nowhere'"),
        (["--set", "/rave/source/b=ref2"], "that reference is not loaded"),
        (["--reference", "/nonexistent/song.ogg"], "no such audio file"),
        (["--model", "/nonexistent/model.ts"], "file not found"),
        (["--seconds", "-1"], "--seconds must be positive"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, fragment):
    out = tmp_path / "x.wav"
    base = ["render", "--seconds", "1", "--out", str(out)]
    if "--seconds" in args:
        base = ["render", "--out", str(out)]
    done = run_cli(*base, *args)
    assert done.returncode == 2
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_automation_names_file_and_event(tmp_path):
    automation = tmp_path / "bad.toml"
    automation.write_text('[[event]]\ntime = 1.0\naddress = "/rave/energy"\nvalue = "loud"\n')
    done = run_cli("render", "--seconds", "1", "--automation", str(automation), "--out", str(tmp_path / "x.wav"))
    assert done.returncode == 2
    assert "bad.toml" in done.stderr and "event[0]" in done.stderr and "not a number" in done.stderr
    automation.write_text('[[event]]\ntime = -1.0\naddress = "/rave/energy"\nvalue = 1\n')
    done = run_cli("render", "--seconds", "1", "--automation", str(automation), "--out", str(tmp_path / "x.wav"))
    assert done.returncode == 2 and "event.0.time" in done.stderr
