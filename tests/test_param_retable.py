"""The parameter table following a model of another latent size: values that carry over, values that are
reported lost, and the readers (a graph fading out, the timeline, the slots) that must not break."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from model_factories import make_new_style_model

from engine.control.hub import ControlHub
from engine.control.midi_feedback import MidiFeedback
from engine.control.osc_routes import OscRoutes
from engine.control.slots import SlotBank
from engine.models.nn_tilde import NNModel
from engine.params.store import FrozenStore, ParamStore
from engine.params.table import build_param_table
from engine.presets.controller_maps import load_controller_map
from engine.render.graph import RenderGraph
from engine.render.timeline import Timeline
from engine.session.live_models import LiveModels
from engine.session.table_change import TableChange, commit_table


def test_retable_carries_shared_values_and_returns_the_rest() -> None:
    store = ParamStore(build_param_table(8))
    store.set_many({"/rave/latent/1/bias": 0.5, "/rave/latent/6/scale": 2.0, "/rave/energy": 1.5,
                    "/lfo/0/target": "/rave/latent/7/bias", "/mod/1/target": "/rave/latent/2/scale"})
    version = store.snapshot().version
    lost = store.retable(build_param_table(4))
    assert store.snapshot().version == version + 1
    assert store.get("/rave/latent/1/bias") == 0.5 and store.get("/rave/energy") == 1.5
    assert store.get("/mod/1/target") == "/rave/latent/2/scale"  # still there
    assert store.get("/lfo/0/target") == ""  # its address went: reset, and reported
    assert lost["/lfo/0/target"] == "/rave/latent/7/bias"
    assert lost["/rave/latent/6/scale"] == 2.0 and lost["/rave/latent/5/bias"] == 0.0
    assert "/rave/latent/4/bias" not in store and len(store.snapshot().continuous) == len(store.continuous_addresses)
    store.retable(build_param_table(16))
    assert store.get("/rave/latent/12/scale") == 1.0 and store.get("/rave/latent/1/bias") == 0.5


def test_frozen_store_holds_one_snapshot() -> None:
    store = ParamStore(build_param_table(2))
    frozen = FrozenStore(store.snapshot())
    store.set("/rave/energy", 1.7)
    assert frozen.get("/rave/energy") == 1.0 and frozen.snapshot().version == 0


def test_timeline_drops_changes_to_vanished_addresses() -> None:
    store = ParamStore(build_param_table(8))
    timeline = Timeline(store)
    timeline.schedule(0.5, {"/rave/latent/7/bias": 1.0, "/rave/energy": 1.4})
    timeline.morph_now({"/rave/latent/6/bias": 2.0}, 2.0)
    timeline.advance(0.0)
    store.retable(build_param_table(4))
    timeline.advance(0.6)  # would raise for the unknown addresses
    assert store.get("/rave/energy") == 1.4
    assert not timeline.busy


def test_slots_follow_the_table_and_report_what_they_lose(tmp_path: Path) -> None:
    store = ParamStore(build_param_table(8))
    slots = SlotBank(store, tmp_path)
    store.set_many({"/rave/latent/7/bias": 1.5, "/rave/latent/0/bias": -1.0})
    slots.save(3)
    assert slots.values_lost({"/rave/latent/7/bias", "/rave/latent/6/bias"}) == {3: ["/rave/latent/7/bias"]}
    store.retable(build_param_table(4))
    assert len(slots.addresses) == 8
    store.set("/rave/latent/0/bias", 0.0)
    assert "/rave/latent/7/bias" not in slots.recall(3)  # saved with the larger model: left out
    assert store.get("/rave/latent/0/bias") == -1.0


def test_commit_table_lets_the_playing_graph_fade_out(tmp_path: Path) -> None:
    """The playing graph keeps rendering from a frozen snapshot of its own table while the incoming
    one, built on a staging store, reads the live store with the new table."""
    store = ParamStore(build_param_table(8))
    store.set_many({"/rave/latent/7/bias": 2.0, "/rave/latent/1/bias": 0.5})
    playing = RenderGraph(NNModel.load(make_new_style_model(tmp_path, latent_size=8)), store, output_rate=48000)
    playing.next_frame()
    incoming = RenderGraph(NNModel.load(make_new_style_model(tmp_path, latent_size=3, sr=44100)),
                           ParamStore(build_param_table(3)), output_rate=48000, timeline=playing.timeline,
                           start_seconds=playing.handed_out_seconds, analysis=playing.analysis, live_swap=True)
    change = commit_table(store, playing, incoming)
    assert change.old_size == 8 and change.new_size == 3 and change.params == len(store.addresses)
    assert ("/rave/latent/7/bias", "value 2.0") in change.lost
    assert all(a != "/rave/latent/6/bias" for a, _ in change.lost)  # at its default: nothing lost
    store.set("/rave/latent/1/bias", -1.0)
    for _ in range(3):
        old, new = playing.next_frame(), incoming.next_frame()
        assert np.isfinite(old).all() and np.isfinite(new).all()
    assert playing.shaper.latent_size == 8 and incoming.store is store
    assert change.summary().startswith("latent size 8 -> 3") and "/rave/latent/7/bias" in change.summary()


def test_a_table_change_reports_controller_rows_and_slots(tmp_path: Path) -> None:
    """What a smaller model leaves controllers and slots without is listed, sent and logged."""
    store = ParamStore(build_param_table(8))
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "wide.toml").write_text('name = "wide"\n[params]\n"/rave/latent/5/scale" = 2.0\n')
    hub = ControlHub(store, slots_dir=tmp_path / "slots", scenes_dir=tmp_path / "scenes")
    hub.recall_scene("wide")
    store.set("/rave/latent/6/bias", 1.0)
    hub.slots.save(2)
    sent: list[tuple[object, ...]] = []
    feedback = SimpleNamespace(notice=lambda *args: sent.append(args))
    cmap = load_controller_map("generic16", addresses=store.addresses)
    session = SimpleNamespace(hub=hub, midi=SimpleNamespace(router=SimpleNamespace(cmap=cmap)),
                              osc=SimpleNamespace(routes=OscRoutes.load("touchosc", store), feedback=feedback))
    models = object.__new__(LiveModels)  # only the reporting is under test
    models.session, models.table_changes = session, []  # type: ignore[assignment]
    vanished = frozenset(f"/rave/latent/{d}/{k}" for d in range(4, 8) for k in ("bias", "scale"))
    store.retable(build_param_table(4))
    models.table_changed(TableChange(8, 4, len(store.addresses), vanished,
                                     (("/rave/latent/6/bias", "value 1.0"),)))
    lost = [args[1:] for args in sent if args[0] == "/engine/params_lost"]
    assert ("/rave/latent/6/bias", "value 1.0") in lost and ("/rave/latent/6/bias", "slot 2") in lost
    assert any(what.startswith("MIDI cc") and address == "/rave/latent/7/bias" for address, what in lost)
    assert any(what.startswith("OSC map /1/") for _, what in lost)
    assert ("/rave/latent/5/scale", "scene wide") in lost
    assert sent[0] == ("/engine/params_changed", 4, len(store.addresses), len(lost))


def test_controller_feedback_skips_vanished_addresses(tmp_path: Path) -> None:
    """MIDI motor faders and OSC xy pads mapped to a dimension a swap took away show nothing for it,
    and the feedback keeps going for the rest."""
    store = ParamStore(build_param_table(8))
    hub = ControlHub(store, slots_dir=tmp_path)
    cmap = load_controller_map("generic16", addresses=store.addresses)
    sent: list[list[int]] = []
    feedback = MidiFeedback(SimpleNamespace(hub=hub, cmap=cmap, last_raw={}), sent.append)  # type: ignore[arg-type]
    routes = OscRoutes.load("touchosc", store)
    store.retable(build_param_table(2))
    store.set("/rave/latent/1/bias", 2.0)
    feedback.update(now=100.0)
    assert sent  # the controls that still have a parameter were sent
    changed = dict(store.snapshot().values)
    assert routes.feedback(changed, store)
