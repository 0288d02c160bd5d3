"""MIDI units without ports: curves, decoders (14-bit, NRPN state machine), router, map validation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.control.hub import ControlHub
from engine.control.midi_decode import MidiDecoder, MidiEvent
from engine.control.midi_router import MidiRouter
from engine.errors import PresetError
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.presets.controller_maps import Mapping, load_controller_map


@pytest.mark.parametrize("curve", ["linear", "exponential", "logarithmic"])
@pytest.mark.parametrize("invert", [False, True])
def test_unshape_inverts_shape(curve: str, invert: bool) -> None:
    m = Mapping("/rave/chaos", None, None, curve=curve, invert=invert)
    for i in range(101):
        x = i / 100
        assert m.unshape(m.shape(x)) == pytest.approx(x, abs=1e-9)
    assert m.shape(0.0) == pytest.approx(1.0 if invert else 0.0)


def test_curves_bend_the_right_way() -> None:
    assert Mapping("/a", None, None, curve="exponential").shape(0.5) < 0.5
    assert Mapping("/a", None, None, curve="logarithmic").shape(0.5) > 0.5
    assert Mapping("/a", None, None, curve="stepped", steps=3).shape(0.3) == 0.5


def test_14bit_pair_gives_fine_value() -> None:
    d = MidiDecoder({(1, 7)})
    assert d.feed([0xB0, 7, 64]) == [MidiEvent("cc14", 1, 7, 64 << 7, 16383)]
    assert d.feed([0xB0, 39, 100]) == [MidiEvent("cc14", 1, 7, (64 << 7) | 100, 16383)]
    assert d.feed([0xB1, 39, 5]) == [MidiEvent("cc", 2, 39, 5)]  # other channel: a plain CC


def test_nrpn_state_machine() -> None:
    d = MidiDecoder()
    assert d.feed([0xB0, 6, 10]) == [MidiEvent("cc", 1, 6, 10)]  # no NRPN selected: an ordinary fader
    assert d.feed([0xB0, 99, 1]) == [] and d.feed([0xB0, 98, 2]) == []
    assert d.feed([0xB0, 6, 3]) == [MidiEvent("nrpn", 1, 130, 3 << 7, 16383)]
    assert d.feed([0xB0, 38, 4]) == [MidiEvent("nrpn", 1, 130, (3 << 7) | 4, 16383)]
    assert d.feed([0xB0, 101, 0]) == [] and d.feed([0xB0, 100, 0]) == []
    assert d.feed([0xB0, 6, 12]) == []  # RPN data entry (pitch-bend range) is not ours
    assert d.counts["ignored"] == 1


def test_decoder_refuses_garbage_and_counts() -> None:
    d = MidiDecoder()
    for bad in ([0xB0, 200, 1], [0x12, 0x34], [0xB0], [0xF0, 0x7E, 0x99, 0xF7]):
        with pytest.raises(ValueError):
            d.feed(bad)
    assert d.feed([0xF0, 0x7E, 0x01, 0xF7]) == []
    assert d.counts["invalid"] == 4 and d.counts["sysex"] == 1


def _router(tmp_path: Path, maps: str) -> tuple[MidiRouter, ParamStore]:
    (tmp_path / "m.toml").write_text(f'name = "t"\n{maps}')
    store = ParamStore(build_param_table(4))
    hub = ControlHub(store, scenes_dir=tmp_path, slots_dir=tmp_path / "slots")
    cmap = load_controller_map("m", tmp_path, store.addresses)
    return MidiRouter(hub, cmap, MidiDecoder()), store


def test_soft_takeover_waits_for_the_fader(tmp_path: Path) -> None:
    router, store = _router(tmp_path, '[[midi]]\nnumber = 1\naddress = "/rave/style"\nsoft_takeover = true\n')
    store.set("/rave/style", 0.5)
    router.handle(MidiEvent("cc", 1, 1, 127))
    assert store.get("/rave/style") == 0.5 and router.counts["takeover_ignored"] == 1
    router.handle(MidiEvent("cc", 1, 1, 20))  # crosses 0.5 on the way down: caught
    assert store.get("/rave/style") == pytest.approx(20 / 127)
    store.set("/rave/style", 0.9)  # moved from elsewhere: re-armed
    router.handle(MidiEvent("cc", 1, 1, 25))
    assert store.get("/rave/style") == 0.9


def test_slots_save_and_recall(tmp_path: Path) -> None:
    router, store = _router(tmp_path, '[[midi]]\ntype = "note"\nnumber = 1\naddress = "slot_save:3"\n'
                                      '[[midi]]\ntype = "program"\nnumber = 3\naddress = "slot:3"\n')
    store.set("/rave/latent/2/bias", 1.5)
    router.handle(MidiEvent("note", 1, 1, 100))
    store.set("/rave/latent/2/bias", -1.0)
    router.handle(MidiEvent("program", 1, 3, 0))
    assert store.get("/rave/latent/2/bias") == 1.5
    assert (tmp_path / "slots" / "slot_3.toml").is_file()


def test_pads_switch_theme_and_fire_visual_beat_actions(tmp_path: Path) -> None:
    router, store = _router(tmp_path, '[[midi]]\ntype = "note"\nnumber = 36\naddress = "theme:ink"\n'
                                      '[[midi]]\ntype = "note"\nnumber = 37\naddress = "beat:cache_reset"\n')
    router.handle(MidiEvent("note", 1, 36, 100))
    router.handle(MidiEvent("note", 1, 37, 100))
    assert store.get("/visual/theme") == "ink"
    assert router.hub.beats == Counter({"cache_reset": 1}) and store.get("/visual/reset") == 1  # trigger pressed


@pytest.mark.parametrize(("body", "problem"), [
    ('[[midi]]\nnumber = 200\naddress = "/rave/chaos"\n', "number 200 is out of range"),
    ('[[midi]]\nnumber = 1\naddress = "/rave/chaos"\ncurve = "wobbly"\n', "midi.0.curve"),
    ('[[midi]]\nnumber = 1\naddress = "dance:now"\n', "unknown action 'dance'"),
    ('[[midi]]\nnumber = 1\naddress = "slot:x"\n', "must be a number"),
    ('[[midi]]\nnumber = 1\naddress = "slot_save:128"\n', "slot '128' in 'slot_save:128' must be a number 0..127"),
    ('[[midi]]\nnumber = 1\naddress = "beat:kick"\n', "unknown beat action 'kick' in 'beat:kick'"),
    ('[[midi]]\nnumber = 1\naddress = "scene:"\n', "action 'scene:' names nothing after the colon"),
    ('[[osc]]\nsource = "/1/push1"\naddress = "beat:strobe"\n', "unknown beat action 'strobe' in 'beat:strobe'"),
    ('[[midi]]\nnumber = 1\naddress = "/rave/nope"\n', "unknown address '/rave/nope'"),
    ('[[midi]]\nnumber = 1\naddress = "/rave/chaos"\n[[midi]]\nnumber = 1\naddress = "/rave/style"\n',
     "mapped twice"),
    ('[[midi]\n', "not valid TOML"),
])
def test_invalid_map_names_file_key_problem(tmp_path: Path, body: str, problem: str) -> None:
    (tmp_path / "bad.toml").write_text(f'name = "bad"\n{body}')
    store = ParamStore(build_param_table(4))
    with pytest.raises(PresetError, match="bad.toml") as info:
        load_controller_map("bad", tmp_path, store.addresses)
    assert problem in str(info.value)


@pytest.mark.parametrize("name", ["generic16", "nanokontrol2", "midimix"])
def test_shipped_maps_load_for_small_models(name: str) -> None:
    store = ParamStore(build_param_table(4))
    skipped: list[str] = []
    cmap = load_controller_map(name, addresses=store.addresses, skipped=skipped)
    assert cmap.midi and all(m.is_action or m.address in store for m in cmap.midi.values())
