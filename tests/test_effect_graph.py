"""Audio methods of any nn~ model (`--method`, `/rave/method`), with the genuine nn~ demo models."""

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
import torch
from conftest import ROOT, SHARED, rms

from engine.errors import ParamError
from engine.models.nn_tilde import NNModel
from engine.render.effect_graph import (
    EffectGraph,
    choose_method,
    default_method,
    effect_frame_samples,
    method_validator,
)
from engine.render.offline import RenderRequest, prepare, render
from engine.session.effect_policy import load_effect

DEMO = SHARED / "fixtures" / "nn_tilde_demo"
RATE = 44100


@pytest.fixture(scope="module")
def demo() -> Path:
    if not DEMO.is_dir():
        pytest.skip(f"{DEMO} is not here (../shared beside the checkout holds the nn~ demo models)")
    return DEMO


@pytest.fixture(scope="module")
def stereo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """1.3 s (not a whole number of frames): 220 Hz left, 330 Hz right, different levels."""
    t = np.arange(int(1.3 * RATE)) / RATE
    audio = np.stack([0.6 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], 1).astype(np.float32)
    path = tmp_path_factory.mktemp("effects") / "stereo.wav"
    sf.write(path, audio, RATE, subtype="FLOAT")
    return path, audio


def _play(model: NNModel, path: Path, method: str | None, *sets: str) -> np.ndarray:
    result = render(RenderRequest(master=False, seconds=None, input=path, method=method, sets=list(sets)), model=model)
    assert result.rate == RATE  # a model that does not know its rate plays at the file's
    return result.audio


def test_saturate(demo: Path, stereo: tuple[Path, np.ndarray]) -> None:
    path, audio = stereo
    model = NNModel.load(demo / "src_models_effects.ts")
    model.set_attribute("gain_factor", 3.0)
    out = _play(model, path, "saturate")
    assert out.shape == (audio.shape[0], 1)  # one output channel, the input's length
    assert rms(out) > 0.1
    np.testing.assert_allclose(out[:, 0], np.tanh(3.0 * audio[:, 0]), atol=1e-5)  # left feeds the one inlet


def test_fractalize_sees_one_sample_in_512_and_holds_it(demo: Path, stereo: tuple[Path, np.ndarray]) -> None:
    path, audio = stereo
    out = _play(NNModel.load(demo / "src_models_effects.ts"), path, "fractalize")[:, 0]
    assert out.shape[0] == audio.shape[0] and rms(out) > 0.1
    blocks = out[: out.shape[0] // 512 * 512].reshape(-1, 512)
    assert np.all(blocks == blocks[:, :1])  # held for in_ratio = out_ratio = 512 samples
    # nn~ hands the method the last sample of each group of 512
    np.testing.assert_allclose(blocks[:, 0], audio[511: blocks.shape[0] * 512: 512, 0], atol=1e-6)
    assert rms(out - audio[:, 0]) > 0.1


def test_midside_takes_both_channels_and_gives_two(demo: Path, stereo: tuple[Path, np.ndarray]) -> None:
    path, audio = stereo
    out = _play(NNModel.load(demo / "src_models_effects.ts"), path, "midside")
    assert out.shape == (audio.shape[0], 2)
    np.testing.assert_allclose(out[:, 0], (audio[:, 0] + audio[:, 1]) / 2, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], (audio[:, 0] - audio[:, 1]) / 2, atol=1e-6)


def test_wavetable_forward(demo: Path, stereo: tuple[Path, np.ndarray]) -> None:
    path, audio = stereo
    model = NNModel.load(demo / "src_models_wavetable.ts")
    assert default_method(model) == "forward"
    model.set_attribute("wavetable", torch.sin(torch.linspace(0, 2 * np.pi, 257)[:-1]))  # ships all zeros
    out = _play(model, path, None)
    assert out.shape == (audio.shape[0], 1) and rms(out) > 0.1
    assert rms(out[:, 0] - audio[:, 0]) > 0.1


def test_three_channel_method_at_ratio_2048(demo: Path, stereo: tuple[Path, np.ndarray]) -> None:
    path, audio = stereo
    model = NNModel.load(demo / "src_models_demo_mc.ts")
    out = _play(model, path, "identity")
    assert out.shape == (audio.shape[0], 3)  # every output channel is written
    held = out[: 2048 * (out.shape[0] // 2048)].reshape(-1, 2048, 3)
    assert np.all(held == held[:, :1])  # one value per 2048 samples, held
    np.testing.assert_allclose(out[:2048, 2], audio[2047, 0], atol=1e-6)  # inlet 3 wraps to the left channel


def test_method_with_an_output_ratio(demo: Path, stereo: tuple[Path, np.ndarray]) -> None:
    path, audio = stereo
    model = NNModel.load(demo / "src_models_features.ts")  # rms: [1, 1, 1, 1024], at 44.1 kHz
    out = _play(model, path, "rms")
    assert out.shape == (audio.shape[0], 1) and rms(out) > 0
    assert np.all(out[:1024] == out[0])


def test_method_switches_live_and_drywet_mixes(demo: Path, stereo: tuple[Path, np.ndarray]) -> None:
    path, audio = stereo
    model = NNModel.load(demo / "src_models_effects.ts")
    graph = prepare(RenderRequest(master=False, seconds=None, input=path, method="thru"), model=model)
    assert isinstance(graph, EffectGraph) and graph.frame_samples == effect_frame_samples(model) == 1024
    n = graph.frame_samples
    graph.push_input(audio[: 3 * n])
    np.testing.assert_allclose(graph.next_frame()[:, 0], audio[:n, 0], atol=1e-6)
    graph.store.set("/rave/method", "invert")
    ramp = np.arange(n) / n  # the switch glides from thru to invert over one frame
    x = audio[n: 2 * n, 0]
    np.testing.assert_allclose(graph.next_frame()[:, 0], x * (1 - ramp) - x * ramp, atol=1e-5)
    graph.push_input(audio[3 * n: 4 * n])
    np.testing.assert_allclose(graph.next_frame()[:, 0], -audio[2 * n: 3 * n, 0], atol=1e-6)
    assert graph.method_switches == 1
    dry = prepare(RenderRequest(master=False, seconds=None, input=path, method="invert", sets=["/rave/drywet=0"]), model=model)
    dry.push_input(audio[:n])
    np.testing.assert_allclose(dry.next_frame()[:, 0], audio[:n, 0], atol=1e-6)  # the dry input, aligned


def test_unknown_method_is_one_clear_error(demo: Path) -> None:
    model = NNModel.load(demo / "src_models_effects.ts")
    with pytest.raises(Exception, match="has no such method .*saturate"):
        choose_method(model, "nope")


def test_effect_model_without_input_says_what_is_missing(demo: Path) -> None:
    with pytest.raises(Exception, match="plays audio input: give --input FILE"):
        render(RenderRequest(master=False, seconds=1.0, model=demo / "src_models_effects.ts", method="saturate"))


def test_cli_plays_a_method(demo: Path, stereo: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, audio = stereo
    out = tmp_path / "ms.wav"
    done = subprocess.run([sys.executable, "run_engine.py", "render", "--input", str(path), "--method", "midside",
                           "--model", str(demo / "scripting_effects.ts"), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "20"})
    assert done.returncode == 0, done.stderr
    written, rate = sf.read(out, always_2d=True)
    assert rate == RATE and written.shape == (audio.shape[0], 2) and rms(written) > 0.05


def test_live_method_checks(demo: Path) -> None:
    model = NNModel.load(demo / "src_models_effects.ts")
    effect_session = method_validator(lambda: model, decode_session=False)
    effect_session("invert")
    effect_session("")
    with pytest.raises(ParamError, match="has no method 'nope'"):
        effect_session("nope")
    with pytest.raises(ParamError, match="start with --input --method saturate"):
        method_validator(lambda: model, decode_session=True)("saturate")
    loaded, timing = load_effect(demo / "src_models_effects.ts", "saturate")
    assert "saturate" in loaded.methods and 0 < timing.realtime_factor < 0.7
    with pytest.raises(ParamError, match="--method nope"):
        load_effect(demo / "src_models_effects.ts", "nope")


def test_render_refuses_a_method_switch_it_cannot_play(demo: Path, stereo: tuple[Path, np.ndarray],
                                                      tmp_path: Path) -> None:
    path, audio = stereo
    automation = tmp_path / "switch.toml"
    automation.write_text('[[event]]\ntime = 0.5\naddress = "/rave/method"\nvalue = "midside"\n')
    request = RenderRequest(master=False, seconds=None, input=path, method="saturate", automation=automation,
                            model=demo / "src_models_effects.ts")
    with pytest.raises(ParamError, match="'midside' gives 2 channels, the render has 1"):
        render(request)
    automation.write_text('[[event]]\ntime = 0.5\naddress = "/rave/method"\nvalue = "invert"\n')
    out = render(request).audio[:, 0]
    switch = -(-int(0.5 * RATE) // 1024) * 1024  # the first frame starting at 0.5 s or later glides
    np.testing.assert_allclose(out[:switch], np.tanh(audio[:switch, 0]), atol=1e-5)
    np.testing.assert_allclose(out[switch + 1024:], -audio[switch + 1024:, 0], atol=1e-5)


def test_params_lists_a_model_without_decode(demo: Path) -> None:
    done = subprocess.run([sys.executable, "run_engine.py", "params", "--model", str(demo / "src_models_effects.ts")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "/rave/method" in done.stdout and "/rave/drywet" in done.stdout
