"""Timed changes: immediate sets, ramps, morphs requested from another thread."""

import pytest

from engine.params import ParamStore, build_param_table
from engine.render.timeline import Timeline


@pytest.fixture
def store() -> ParamStore:
    return ParamStore(build_param_table(8))


def test_set_lands_at_its_time(store):
    timeline = Timeline(store)
    timeline.schedule(1.0, {"/rave/chaos": 0.5, "/lfo/0/shape": "saw"})
    timeline.advance(0.9)
    assert store.get("/rave/chaos") == 0.0
    timeline.advance(1.0)
    assert store.get("/rave/chaos") == 0.5 and store.get("/lfo/0/shape") == "saw"


def test_ramp_glides_linearly_from_the_live_value(store):
    timeline = Timeline(store)
    store.set("/rave/energy", 0.5)
    timeline.schedule(1.0, {"/rave/energy": 1.5}, ramp_seconds=2.0)
    seen = {}
    for t in (1.0, 2.0, 3.0, 4.0):
        timeline.advance(t)
        seen[t] = store.get("/rave/energy")
    assert seen == pytest.approx({1.0: 0.5, 2.0: 1.0, 3.0: 1.5, 4.0: 1.5})
    assert not timeline.busy


def test_discrete_values_switch_at_the_start_of_a_morph(store):
    timeline = Timeline(store)
    timeline.morph_now({"/lfo/0/shape": "square", "/rave/texture": 0.9}, seconds=1.0)
    timeline.advance(0.0)
    assert store.get("/lfo/0/shape") == "square"
    assert store.get("/rave/texture") == pytest.approx(0.3)
    timeline.advance(0.5)
    assert store.get("/rave/texture") == pytest.approx(0.6)


def test_direct_set_cancels_running_ramp(store):
    timeline = Timeline(store)
    timeline.schedule(0.0, {"/rave/energy": 2.0}, ramp_seconds=10.0)
    timeline.advance(0.0)
    timeline.schedule(1.0, {"/rave/energy": 0.4})
    timeline.advance(1.0)
    timeline.advance(2.0)
    assert store.get("/rave/energy") == 0.4
