"""Audio-reactive controls: analysis features modulate audio parameters, the same offline every time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import rms

from engine.analysis.features import INDEX
from engine.errors import ParamError
from engine.params.store import ParamStore
from engine.params.table import VISUAL_MODULATED, build_param_table
from engine.render.offline import RenderRequest, prepare, render


def test_a_feature_moves_its_target(default_model_path: Path) -> None:
    sets = ["/mod/0/source=level", "/mod/0/target=/rave/energy", "/mod/0/depth=1", "/rave/energy=0.3"]
    graph = prepare(RenderRequest(seconds=4.0, model=default_model_path, sets=sets, scene="Intense"))
    energy_i = graph.store.continuous_index["/rave/energy"]
    seen = []
    original = graph.mods.apply

    def spy(snapshot, controls, features):  # noqa: ANN001, ANN202
        out = original(snapshot, controls, features)
        seen.append((float(features[INDEX["level"]]), float(out[energy_i]), float(controls[energy_i])))
        return out

    graph.mods.apply = spy  # type: ignore[method-assign]
    for _ in range(60):
        graph.next_frame()
    levels = np.array([s[0] for s in seen])
    modulated = np.array([s[1] for s in seen])
    base = np.array([s[2] for s in seen])
    assert levels[10:].max() > 0.05  # the analysis hears the model
    np.testing.assert_allclose(modulated - base, np.minimum(levels * 1.7, 2.0 - base), atol=1e-9)


def test_modulated_render_differs_and_is_reproducible(default_model_path: Path) -> None:
    plain = render(RenderRequest(seconds=3.0, model=default_model_path, scene="Intense", seed=3)).audio
    sets = ["/mod/1/source=level", "/mod/1/target=/rave/latent/2/bias", "/mod/1/depth=-0.8"]
    one = render(RenderRequest(seconds=3.0, model=default_model_path, scene="Intense", seed=3, sets=sets)).audio
    two = render(RenderRequest(seconds=3.0, model=default_model_path, scene="Intense", seed=3, sets=sets)).audio
    assert rms(one) > 1e-3
    np.testing.assert_array_equal(one, two)
    assert rms(one - plain) > 0.05 * rms(plain)


def test_mod_slots_refuse_bad_sources_and_targets() -> None:
    store = ParamStore(build_param_table(8))
    with pytest.raises(ParamError, match="not one of"):
        store.set("/mod/0/source", "loudness")
    with pytest.raises(ParamError, match="not the address of a continuous parameter"):
        store.set("/mod/0/target", "/rave/source/a")
    store.set("/visual/reset", 1)
    store.set("/visual/reset", 1)
    assert store.get("/visual/reset") == 2  # a trigger counts writes, whatever value comes with them


def test_lfos_and_mods_reach_the_visual_controls(default_model_path: Path) -> None:
    sets = ["/lfo/0/target=/visual/zoom", "/lfo/0/depth=1", "/lfo/0/rate=2",
            "/mod/0/source=level", "/mod/0/target=/visual/warp", "/mod/0/depth=1", "/visual/warp=0"]
    graph = prepare(RenderRequest(seconds=3.0, model=default_model_path, sets=sets, scene="Intense"))
    for _ in range(40):
        graph.next_frame()
    controls = np.array([c for _, _, c in graph.latents_pending])
    zoom = controls[:, VISUAL_MODULATED.index("/visual/zoom")]
    warp = controls[:, VISUAL_MODULATED.index("/visual/warp")]
    assert zoom.max() - zoom.min() > 0.5  # the LFO sweeps the zoom the visual process will get
    assert warp[5:].max() > 0.1  # the level lifts the warp from 0
    assert graph.store.get("/visual/zoom") == 0.5  # the parameter itself is untouched
