"""Random state: a render graph uses only its own generators, its decoder's noise included (a stream it
swaps into torch's global generator for its decode calls), so nothing else in the process moves it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from conftest import rms
from model_factories import make_new_style_model, make_rave_v2_model

from engine.latent import energy
from engine.models.nn_tilde import NNModel
from engine.params import ParamStore, build_param_table
from engine.render.graph import RenderGraph
from engine.render.offline import RenderRequest, render
from engine.render.seeding import DecoderNoise


def graph(model: NNModel, seed: int) -> RenderGraph:
    store = ParamStore(build_param_table(model.latent_size or 0))
    store.set_many({"/rave/chaos": 0.5, "/lfo/0/target": "/rave/style", "/lfo/0/depth": 1.0,
                    "/lfo/0/shape": "sample_hold", "/lfo/0/rate": 20.0})
    return RenderGraph(model, store, seed=seed)


def test_building_and_rendering_a_graph_leaves_torchs_generator_alone(tmp_path: Path) -> None:
    model = NNModel.load(make_new_style_model(tmp_path))  # a deterministic decoder: it draws nothing
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    playing = graph(model, seed=5)
    for _ in range(10):
        playing.next_frame()
    graph(model, seed=6)  # as a model swap builds one while the other plays
    playing.next_frame()
    assert torch.equal(torch.get_rng_state(), before)


def test_same_seed_same_render_whatever_the_global_state_before(tmp_path: Path, default_model: NNModel) -> None:
    stochastic = NNModel.load(make_rave_v2_model(tmp_path))
    for model in (default_model, stochastic):  # both draw noise from torch's global generator
        one = render(RenderRequest(seconds=1.5, seed=3), model=model).audio
        torch.rand(1000)  # whatever else the process did in between
        two = render(RenderRequest(seconds=1.5, seed=3), model=model).audio
        other = render(RenderRequest(seconds=1.5, seed=4), model=model).audio
        assert np.array_equal(one, two)
        assert not np.array_equal(one, other)


def test_a_decoder_noise_stream_repeats_and_carries_on(tmp_path: Path) -> None:
    model = NNModel.load(make_rave_v2_model(tmp_path))  # stochastic
    z = torch.zeros(1, model.latent_size or 0, 2)
    runs = []
    for _ in range(2):
        model.reset()
        noise = DecoderNoise(7)
        with noise:
            first = model.decode(z)
        torch.manual_seed(99)  # another thread's use of the global generator between calls
        with noise:
            runs.append(torch.cat([first, model.decode(z)], dim=-1))
    assert torch.equal(runs[0], runs[1])
    half = runs[0].shape[-1] // 2
    assert not torch.equal(runs[0][..., :half], runs[0][..., half:])  # the second call went on, not back


def test_a_graphs_sound_ignores_other_threads_draws_and_rewinds(tmp_path: Path, default_model: NNModel) -> None:
    """A model charted on a loader thread draws from torch's global generator and rewinds it
    (fork_rng) while the decoder thread plays: the playing graph's frames must not change."""
    stochastic = NNModel.load(make_rave_v2_model(tmp_path))
    for model in (default_model, stochastic):
        runs = []
        for disturb in (False, True):
            playing = graph(model, seed=5)
            frames = []
            for k in range(8):
                frames.append(playing.next_frame())
                if disturb:
                    with torch.random.fork_rng(devices=[]):
                        torch.rand(1000 + k)
                    torch.rand(17 * k + 1)
            runs.append(np.concatenate(frames))
        assert rms(runs[0]) > 1e-4
        assert np.array_equal(runs[0], runs[1]), f"{model.path.name}: another thread's draws changed the sound"


def test_a_graph_built_for_a_live_swap_never_reseeds_torch(tmp_path: Path, monkeypatch) -> None:
    """A live model swap builds its graph (and charts the model for energy) while the render thread
    decodes the playing one: nothing on that thread may seed or rewind torch's global generator."""
    model = NNModel.load(make_rave_v2_model(tmp_path))  # stochastic
    monkeypatch.setenv(energy.CACHE_ENV, str(tmp_path / "empty_cache"))  # charted now, not read back
    monkeypatch.setattr(energy, "_memo", {})
    calls: list[str] = []
    monkeypatch.setattr(torch, "manual_seed", lambda *a: calls.append("manual_seed"))
    monkeypatch.setattr(torch, "set_rng_state", lambda *a: calls.append("set_rng_state"))
    monkeypatch.setattr(torch.random, "set_rng_state", lambda *a: calls.append("set_rng_state"))
    assert model.latent_size is not None
    graph = RenderGraph(model, ParamStore(build_param_table(model.latent_size)), seed=1, live_swap=True)
    assert calls == []  # (its own decode calls, on the decoder thread, swap its noise stream in and out)
    assert graph.energy_map is not None
