"""Controller actions: one parser, one runner, and every kind fired from a MIDI map, an OSC map and OSC."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import get_args

import pytest
from osc_fixtures import Listener, make_hub

from engine.control.actions import BEAT_ACTIONS, Action, parse_action
from engine.control.hub import ControlHub
from engine.control.midi_decode import MidiDecoder, MidiEvent
from engine.control.midi_router import MidiRouter
from engine.control.osc_codec import encode_message
from engine.control.osc_routes import OscRoutes
from engine.control.osc_server import OscServer
from engine.control.slots import SlotBank
from engine.errors import ParamError
from engine.params.table import BEAT_ACTION_TRIGGERS
from engine.presets.controller_maps import ControllerMap, Mapping
from engine.visual.themes import BeatActionName

BIAS = "/rave/latent/2/bias"


def _prepare_recall(hub: ControlHub) -> None:
    hub.store.set(BIAS, 1.5)
    hub.slots.save(5)
    hub.store.set(BIAS, -1.0)


def _saved(hub: ControlHub) -> bool:
    if not (hub.slots.directory / "slot_6.toml").is_file():
        return False
    return SlotBank(hub.store, hub.slots.directory).get(6)[BIAS] == 0.75  # a fresh bank reads the file


# (action, setup before firing, what must be true after it ran)
CASES: dict[str, tuple[Callable[[ControlHub], None], Callable[[ControlHub], bool]]] = {
    "scene:calm": (lambda hub: None, lambda hub: hub.scene == "Calm" and hub.store.get("/rave/energy") == 0.55),
    "theme:ink": (lambda hub: None, lambda hub: hub.store.get("/visual/theme") == "ink"),
    "beat:pulse_noise": (lambda hub: None,
                         lambda hub: hub.beats["pulse_noise"] == 1 and hub.store.get("/visual/pulse") == 1),
    "slot:5": (_prepare_recall, lambda hub: hub.store.get(BIAS) == 1.5),
    "slot_save:6": (lambda hub: hub.store.set(BIAS, 0.75), _saved),
    "cluster:2": (lambda hub: hub.store.set("/explore/chunk", 5),
                  lambda hub: hub.store.get("/explore/cluster") == 2 and hub.store.get("/explore/chunk") == -1),
}


def test_parse_action_reads_every_kind() -> None:
    assert parse_action("scene:calm") == Action("scene", "calm")
    assert parse_action("slot_save:127").slot == 127
    assert str(parse_action("beat:prompt_cycle")) == "beat:prompt_cycle"
    assert parse_action("cluster:-1").slot == -1


@pytest.mark.parametrize(("text", "problem"), [
    ("dance:now", "unknown action 'dance' in 'dance:now' (actions: scene, slot, slot_save, beat, theme, cluster)"),
    ("cluster:256", "cluster '256' in 'cluster:256' must be a number -1..255"),
    ("cluster:x", "must be a number -1..255"),
    ("calm", "unknown action 'calm' in 'calm'"),
    ("theme:", "action 'theme:' names nothing after the colon"),
    ("slot:128", "slot '128' in 'slot:128' must be a number 0..127"),
    ("slot:-1", "slot '-1' in 'slot:-1' must be a number 0..127"),
    ("slot_save:²", "must be a number 0..127"),
    ("beat:kick", "unknown beat action 'kick' in 'beat:kick' (beat actions: cache_reset, pulse_noise"),
])
def test_parse_action_refuses_with_the_text(text: str, problem: str) -> None:
    with pytest.raises(ParamError) as info:
        parse_action(text)
    assert problem in str(info.value)


def test_beat_action_names_are_the_visuals_own() -> None:
    assert set(BEAT_ACTIONS) == set(get_args(BeatActionName))


@pytest.mark.parametrize("name", list(BEAT_ACTION_TRIGGERS))
def test_fire_beat_presses_the_trigger_and_counts_the_beat(tmp_path: Path, name: str) -> None:
    hub = make_hub(tmp_path)
    hub.run_action(f"beat:{name}")
    hub.fire_beat("clock_beat")  # MIDI clock beats are counted, and press nothing
    assert hub.store.get(BEAT_ACTION_TRIGGERS[name]) == 1
    assert hub.beats == Counter({name: 1, "clock_beat": 1})
    assert sum(int(hub.store.get(a)) for a in BEAT_ACTION_TRIGGERS.values()) == 1


# --- from a MIDI map ---------------------------------------------------------------------------

def _midi(hub: ControlHub, action: str) -> MidiRouter:
    cmap = ControllerMap("t", None, {("note", 1, 40): Mapping(action, None, None)}, {})
    return MidiRouter(hub, cmap, MidiDecoder())


@pytest.mark.parametrize("action", list(CASES))
def test_midi_map_fires_each_action(tmp_path: Path, action: str) -> None:
    hub = make_hub(tmp_path)
    prepare, done = CASES[action]
    prepare(hub)
    router = _midi(hub, action)
    assert not done(hub)
    router.handle(MidiEvent("note", 1, 40, 100))
    assert done(hub) and router.counts["actions"] == 1 and router.counts["errors"] == 0


@pytest.mark.parametrize(("action", "problem"), [("slot:9", "slot 9 is empty"),
                                                 ("scene:nowhere", "nowhere")])
def test_midi_action_errors_are_reported(tmp_path: Path, action: str, problem: str) -> None:
    hub = make_hub(tmp_path)
    reported: list[tuple[str, str, str]] = []
    hub.add_error_listener(lambda *error: reported.append(error))
    router = _midi(hub, action)
    router.handle(MidiEvent("note", 1, 40, 100))
    assert router.counts["errors"] == 1
    assert len(reported) == 1 and reported[0][0] == "midi" and action in reported[0][2]
    assert problem in reported[0][2]


# --- from an OSC map route and from OSC commands -----------------------------------------------

@pytest.fixture
def hub_and_server(tmp_path: Path) -> Iterator[tuple[ControlHub, OscServer]]:
    hub = make_hub(tmp_path)
    routes = OscRoutes.from_routes("t", {f"/pad/{i}": Mapping(action, None, None) for i, action in enumerate(CASES)}
                                   | {"/pad/empty": Mapping("slot:9", None, None)})
    with OscServer(hub, port=0, routes=routes) as server:
        yield hub, server


def _send(listener: Listener, server: OscServer, *messages: bytes) -> list[tuple[str, list[object]]]:
    listener.received.clear()
    for message in messages:
        listener.send(server.port, message)
    listener.send(server.port, encode_message("/sync", 7))
    return listener.wait_for(lambda r: ("/synced", [7]) in r)


@pytest.mark.parametrize("index", range(len(CASES)))
def test_osc_map_button_fires_each_action_on_press(hub_and_server: tuple[ControlHub, OscServer],
                                                   listener: Listener, index: int) -> None:
    hub, server = hub_and_server
    prepare, done = list(CASES.values())[index]
    prepare(hub)
    _send(listener, server, encode_message(f"/pad/{index}", 0.0))  # a release fires nothing
    assert not done(hub)
    _send(listener, server, encode_message(f"/pad/{index}", 1.0))
    assert done(hub) and server.stats["errors"] == 0


def test_osc_map_action_errors_are_reported(hub_and_server: tuple[ControlHub, OscServer],
                                            listener: Listener) -> None:
    hub, server = hub_and_server
    reported: list[str] = []
    hub.add_error_listener(lambda source, address, message: reported.append(message))
    _send(listener, server, encode_message("/pad/empty", 1.0))
    assert server.stats["errors"] == 1
    assert len(reported) == 1 and "/pad/empty -> slot:9: slot 9 is empty" in reported[0]


@pytest.mark.parametrize("action", list(CASES))
def test_engine_action_runs_each_action(hub_and_server: tuple[ControlHub, OscServer], listener: Listener,
                                        action: str) -> None:
    hub, server = hub_and_server
    prepare, done = CASES[action]
    prepare(hub)
    received = _send(listener, server, encode_message("/engine/action", action))
    assert ("/done", ["/engine/action", action]) in received
    assert done(hub)


@pytest.mark.parametrize(("args", "problem"), [
    (("beat:kick",), "unknown beat action 'kick'"),
    (("slot:9",), "slot 9 is empty"),
    (("scene:nowhere",), "nowhere"),
    ((3.0,), "usage: /engine/action"),
    ((), "usage: /engine/action"),
])
def test_engine_action_fails_with_the_reason(hub_and_server: tuple[ControlHub, OscServer], listener: Listener,
                                             args: tuple[object, ...], problem: str) -> None:
    hub, server = hub_and_server
    before = hub.store.snapshot().values
    fails = [m for a, m in _send(listener, server, encode_message("/engine/action", *args)) if a == "/fail"]
    assert len(fails) == 1 and fails[0][0] == "/engine/action" and problem in str(fails[0][1])
    assert hub.store.snapshot().values == before and server.stats["errors"] == 1


def test_slot_save_and_recall_over_osc(hub_and_server: tuple[ControlHub, OscServer], listener: Listener) -> None:
    hub, server = hub_and_server
    hub.store.set_many({BIAS: 1.25, "/rave/latent/0/scale": 1.5})
    received = _send(listener, server, encode_message("/slot/save", 3.0))  # Pd sends floats
    assert ("/done", ["/slot/save", 3]) in received
    assert (hub.slots.directory / "slot_3.toml").is_file()
    hub.store.set_many({BIAS: -2.0, "/rave/latent/0/scale": 0.5})
    received = _send(listener, server, encode_message("/slot/recall", 3))
    assert ("/done", ["/slot/recall", 3]) in received
    assert hub.store.get(BIAS) == 1.25 and hub.store.get("/rave/latent/0/scale") == 1.5


@pytest.mark.parametrize(("address", "args", "problem"), [
    ("/slot/save", (128,), "usage: /slot/save N (a slot 0..127), got 128"),
    ("/slot/save", (-1,), "got -1"),
    ("/slot/recall", (2.5,), "got 2.5"),
    ("/slot/recall", ("two",), "got 'two'"),
    ("/slot/recall", (), "got nothing"),
    ("/slot/recall", (9,), "slot 9 is empty"),
])
def test_slot_commands_fail_with_the_reason(hub_and_server: tuple[ControlHub, OscServer], listener: Listener,
                                            address: str, args: tuple[object, ...], problem: str) -> None:
    hub, server = hub_and_server
    hub.store.set(BIAS, 0.5)
    fails = [m for a, m in _send(listener, server, encode_message(address, *args)) if a == "/fail"]
    assert len(fails) == 1 and fails[0][0] == address and problem in str(fails[0][1])
    assert hub.store.get(BIAS) == 0.5 and not list(hub.slots.directory.glob("*.toml"))
