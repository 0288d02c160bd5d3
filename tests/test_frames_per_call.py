"""Several latent frames per decode call: same length, same control timeline, audible, and for a
streaming decoder the same samples as frame by frame (within float rounding)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import rms
from model_factories import make_conv_decoder_model, make_rave_v2_model

from engine.errors import ParamError
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph
from engine.render.offline import RenderRequest, render

AUTOMATION = """
[[event]]
time = 0.5
address = "/master/gain_db"
value = -30.0
"""


def test_frames_per_call_renders_the_same_length_and_is_not_silent(default_model_path: Path) -> None:
    one = render(RenderRequest(seconds=1.3, model=default_model_path, seed=2)).audio
    for n in (3, 8):  # 3 does not divide the render: the last call's extra frames are dropped
        audio = render(RenderRequest(seconds=1.3, model=default_model_path, seed=2, frames_per_call=n)).audio
        assert audio.shape == one.shape
        assert rms(audio) > 1e-3


def test_control_timeline_is_the_same_with_several_frames_per_call(tmp_path: Path, default_model_path: Path) -> None:
    automation = tmp_path / "gain.toml"
    automation.write_text(AUTOMATION)
    one = render(RenderRequest(seconds=1.5, model=default_model_path, seed=5, automation=automation)).audio
    four = render(RenderRequest(seconds=1.5, model=default_model_path, seed=5, automation=automation,
                                frames_per_call=4)).audio
    plain = render(RenderRequest(seconds=1.5, model=default_model_path, seed=5, frames_per_call=4)).audio
    # The gain step at 0.5 s lands on the same frame: -30 dB after it against the same render without
    # it (the model's own level may move meanwhile), and nothing changes before it.
    half = int(0.5 * 48000)
    assert rms(four[half + 9600:]) < 0.1 * rms(plain[half + 9600:])
    np.testing.assert_allclose(four[: half - 2048], plain[: half - 2048], atol=1e-6)
    # Our streaming decoder gives the same samples decoded 4 frames at a time (float rounding only).
    np.testing.assert_allclose(four, one, atol=1e-5)


def test_streaming_conv_decoder_same_samples_batched(tmp_path: Path) -> None:
    """A cached-padding export (the RAVE-shaped factory model) is exact under batching too."""
    path = make_conv_decoder_model(tmp_path, layers=4)
    outputs = []
    for n in (1, 4):
        model = NNModel.load(path)
        store = ParamStore(build_param_table(model.latent_size or 0))
        graph = RenderGraph(model, store, seed=1, frames_per_call=n)
        outputs.append(np.concatenate([graph.next_frame() for _ in range(8)]))
    assert rms(outputs[0]) > 1e-3
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)


def test_stochastic_decoder_draws_its_noise_in_another_order(tmp_path: Path) -> None:
    """RAVE v2 pads the latent with noise per call: batched calls draw it in another order, so the
    samples differ while the level stays alike (what N > 1 does to such a model)."""
    path = make_rave_v2_model(tmp_path)
    one = render(RenderRequest(seconds=1.0, model=path, seed=3)).audio
    four = render(RenderRequest(seconds=1.0, model=path, seed=3, frames_per_call=4)).audio
    assert one.shape == four.shape
    assert not np.allclose(one, four, atol=1e-4)
    assert 0.5 < rms(four) / rms(one) < 2.0


def test_frames_per_call_one_is_deterministic(default_model_path: Path) -> None:
    a = render(RenderRequest(seconds=0.5, model=default_model_path, seed=9, frames_per_call=1)).audio
    b = render(RenderRequest(seconds=0.5, model=default_model_path, seed=9)).audio
    assert a.tobytes() == b.tobytes()


def test_bad_frames_per_call_is_refused(default_model_path: Path) -> None:
    with pytest.raises(ParamError, match="--frames-per-call must be 1..16, got 0"):
        render(RenderRequest(seconds=0.5, model=default_model_path, frames_per_call=0))
