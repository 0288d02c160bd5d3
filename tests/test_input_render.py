"""`render --input` and `/rave/drywet`: the file plays as the live input, dry and wet line up."""

# The renders here leave the master stage out (`--no-master`): they test how the input and the methods
# come out, sample for sample, which levelling and limiting would change (tests/test_master_stage.py).

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, rms

from engine.models.nn_tilde import NNModel
from engine.render.drywet import DryWetMixer, drywet_gains
from engine.render.offline import RenderRequest, prepare, render


def _write_input(path: Path, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    signal = (0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)))
    sf.write(path, signal.astype(np.float32), rate, subtype="FLOAT")
    return signal.astype(np.float32)


def _render(model: NNModel, path: Path, *sets: str, **kwargs: object) -> np.ndarray:
    request = RenderRequest(master=False, seconds=None, input=path, sets=list(sets), seed=5, **kwargs)  # type: ignore[arg-type]
    return render(request, model=model).audio


def test_drywet_zero_is_the_input_sample_for_sample(tmp_path: Path, default_model: NNModel) -> None:
    rate = default_model.sample_rate or 48000
    dry = _write_input(tmp_path / "in.wav", rate, 1.1)  # not a whole number of latent frames
    out = _render(default_model, tmp_path / "in.wav", "/rave/drywet=0")
    assert out.shape == (dry.shape[0], 1)  # the input's length
    np.testing.assert_allclose(out[:, 0], dry, atol=1e-6)  # time-aligned: no frame of delay


def test_drywet_half_is_the_equal_power_sum_of_dry_and_wet(tmp_path: Path, default_model: NNModel) -> None:
    rate = default_model.sample_rate or 48000
    _write_input(tmp_path / "in.wav", rate, 1.0)
    dry = _render(default_model, tmp_path / "in.wav", "/rave/drywet=0")
    wet = _render(default_model, tmp_path / "in.wav", "/rave/drywet=1")
    half = _render(default_model, tmp_path / "in.wav", "/rave/drywet=0.5")
    assert rms(wet) > 1e-3 and rms(wet - dry) > 1e-3  # the model plays, and not the input
    g_dry, g_wet = drywet_gains(0.5)
    assert g_dry == pytest.approx(10 ** (-3.0103 / 20), abs=1e-4) == g_wet
    # The same wet frames under the same dry frames: alignment holds at every sample.
    np.testing.assert_allclose(half, g_dry * dry + g_wet * wet, atol=1e-5)


def test_the_input_drives_the_latent(tmp_path: Path, default_model: NNModel) -> None:
    rate = default_model.sample_rate or 48000
    _write_input(tmp_path / "a.wav", rate, 1.0)
    t = np.arange(rate) / rate
    sf.write(tmp_path / "b.wav", (0.3 * np.sign(np.sin(2 * np.pi * 90 * t))).astype(np.float32), rate)
    a, b = _render(default_model, tmp_path / "a.wav"), _render(default_model, tmp_path / "b.wav")
    assert rms(a) > 1e-3 and rms(b) > 1e-3
    assert rms(a - b) > 0.1 * rms(a)


def test_pushing_input_in_live_blocks_gives_the_offline_render(tmp_path: Path, default_model: NNModel) -> None:
    """The decoder thread pushes 256-frame blocks and renders ahead or behind the input; the pairs of
    latent and dry keep it aligned, so the audio is the offline render's, frame for frame."""
    rate = default_model.sample_rate or 48000
    signal = _write_input(tmp_path / "in.wav", rate, 1.0)
    offline = _render(default_model, tmp_path / "in.wav", "/rave/drywet=0.5")
    graph = prepare(RenderRequest(master=False, seconds=1.0, input=tmp_path / "in.wav", sets=["/rave/drywet=0.5"], seed=5),
                    model=default_model)
    frames: list[np.ndarray] = []
    padded = np.concatenate([signal, np.zeros(graph.frame_samples, np.float32)])
    for start in range(0, padded.shape[0] - 255, 256):
        graph.push_input(padded[start: start + 256, None])
        while len(graph.input_frames) >= 2:  # two in hand: render both, as a decoder catching up would
            frames.append(graph.next_frame())
    live = np.concatenate(frames)[: offline.shape[0]]
    assert graph.input_frames.starved == 0 and graph.input_frames.dropped == 0
    np.testing.assert_allclose(live, offline[: live.shape[0]], atol=1e-6)


def test_a_render_without_input_holds_and_counts(tmp_path: Path, default_model: NNModel) -> None:
    rate = default_model.sample_rate or 48000
    _write_input(tmp_path / "in.wav", rate, 0.5)
    graph = prepare(RenderRequest(master=False, seconds=0.5, input=tmp_path / "in.wav", sets=["/rave/drywet=0"]),
                    model=default_model)
    graph.push_input(np.full((graph.frame_samples, 1), 0.25, np.float32))
    assert np.allclose(graph.next_frame(), 0.25)  # the dry frame
    assert np.allclose(graph.next_frame(), 0.0)  # nothing pushed: silence, counted
    assert graph.input_frames.starved == 1


def test_mixer_ramps_a_step_without_a_click() -> None:
    mixer = DryWetMixer()
    wet, dry = np.ones((512, 1), np.float32), np.zeros(512, np.float32)
    mixer.mix(wet, dry, 1.0)
    out = mixer.mix(wet, dry, 0.0)[:, 0]
    assert out[0] == pytest.approx(1.0) and out[-1] < 0.01
    assert np.max(np.abs(np.diff(out))) < 0.01  # spread over the frame


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "run_engine.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "20"})


def test_cli_render_input_takes_the_input_length(tmp_path: Path, default_model: NNModel) -> None:
    _write_input(tmp_path / "in.wav", 44100, 1.5)  # another rate than the model's: resampled
    out = tmp_path / "out.wav"
    done = run_cli("render", "--input", str(tmp_path / "in.wav"), "--out", str(out), "--set", "/rave/drywet=0.7")
    assert done.returncode == 0, done.stderr
    audio, rate = sf.read(out, always_2d=True)
    assert rate == default_model.sample_rate and audio.shape[0] == round(1.5 * rate)
    assert rms(audio) > 1e-3
    short = tmp_path / "short.wav"
    done = run_cli("render", "--input", str(tmp_path / "in.wav"), "--seconds", "0.5", "--out", str(short))
    assert done.returncode == 0, done.stderr
    assert sf.info(short).frames == round(0.5 * rate)


@pytest.mark.parametrize(("args", "problem"), [
    (["render", "--out", "x.wav"], "--seconds is required"),
    (["render", "--input", "/nonexistent.wav", "--out", "x.wav"], "no such audio file"),
    (["render", "--seconds", "1", "--set", "/rave/source/a=input", "--out", "x.wav"], "render --input FILE"),
    (["render", "--input", "IN", "--method", "nope", "--out", "x.wav"], "has no such method"),
])
def test_cli_bad_input_gets_one_line(tmp_path: Path, args: list[str], problem: str) -> None:
    _write_input(tmp_path / "in.wav", 48000, 0.3)
    args = [str(tmp_path / "in.wav") if a == "IN" else str(tmp_path / a) if a == "x.wav" else a for a in args]
    done = run_cli(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0], done.stderr
