"""The MIDI surface against real JACK MIDI ports (dummy JACK server): what a controller would do.

A second rtmidi client plays the controller: it opens a virtual JACK MIDI output, the engine's
input finds it by name, and the test checks the parameter store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jack_fixtures import JackServer
from waiting import wait_until

from engine.bounded_log import install_bounded_logging
from engine.control.hub import ControlHub
from engine.control.midi_input import MidiConfig, MidiControl
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.presets.controller_maps import CONTROLLERS_DIR, Mapping, load_controller_map

rtmidi = pytest.importorskip("rtmidi")
JACK = rtmidi.API_UNIX_JACK
JUNK_MESSAGES = 6000


class Controller:
    """A fake hardware controller: a virtual JACK MIDI output port."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.out = rtmidi.MidiOut(JACK, name)
        self.out.open_virtual_port("out")

    def send(self, *messages: list[int]) -> None:
        for message in messages:
            self.out.send_message(message)

    def close(self) -> None:
        self.out.close_port()
        self.out.delete()


@pytest.fixture
def surface(jack_server: JackServer, tmp_path: Path) -> Iterator[tuple[MidiControl, Controller, ParamStore]]:
    controllers = tmp_path / "controllers"
    shutil.copytree(CONTROLLERS_DIR, controllers)
    store = ParamStore(build_param_table(8))
    hub = ControlHub(store, slots_dir=tmp_path / "slots")
    device = Controller(f"fake-{tmp_path.name[-12:]}")
    control = MidiControl(hub, MidiConfig(midi_in=device.name, map_name="generic16", clock_in=True,
                                          controllers_dir=controllers,
                                          client=f"eng-{tmp_path.name[-12:]}", api=JACK))
    control.start()
    yield control, device, store
    control.stop()
    device.close()


def _until(control: MidiControl, condition: Callable[[], object]) -> None:
    """Wait for what the last message sent should do: the MIDI thread handles messages in order, so
    once it shows, every message before it has been handled too."""
    assert wait_until(condition, 2.0), control.stats()


def test_cc_sets_param_with_range_and_curve(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    device.send([0xB0, 0, 127], [0xB0, 0, 64])  # energy: soft takeover catches on the crossing, exponential
    mapping = load_controller_map("generic16").midi[("cc", 1, 0)]
    _until(control, lambda: store.get("/rave/energy") == pytest.approx(mapping.to_value(64 / 127, 0.3, 2.0)))
    assert store.get("/rave/energy") < 0.3 + 1.7 * 64 / 127  # the curve bent it


def test_14bit_cc_gives_fine_resolution(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    device.send([0xB0, 31, 64], [0xB0, 63, 100])
    fine = 60 + 120 * ((64 << 7) | 100) / 16383
    _until(control, lambda: store.get("/tempo/bpm") == pytest.approx(fine))
    assert min(abs(fine - (60 + 120 * v / 127)) for v in range(128)) > 0.2  # no 7-bit CC could say it


def test_nrpn_sets_param(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    device.send([0xB0, 99, 0], [0xB0, 98, 1], [0xB0, 6, 100], [0xB0, 38, 5])
    _until(control, lambda: store.get("/rave/style") == pytest.approx(((100 << 7) | 5) / 16383))


def test_note_recalls_scene_and_program_recalls_slot(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    device.send([0x90, 36, 100], [0x80, 36, 0])  # note 36: scene calm
    _until(control, lambda: control.hub.scene.lower() == "calm")
    store.set("/rave/latent/1/bias", 1.25)
    device.send([0x90, 50, 100])  # note 50: slot_save:2
    _until(control, lambda: (control.hub.slots.directory / "slot_2.toml").is_file())
    store.set("/rave/latent/1/bias", -2.0)
    device.send([0xC0, 2])  # program 2: slot:2
    _until(control, lambda: store.get("/rave/latent/1/bias") == 1.25)
    device.send([0x90, 40, 90])  # beat:pulse_noise
    _until(control, lambda: control.hub.beats["pulse_noise"] == 1 and store.get("/visual/pulse") == 1)


def test_soft_takeover_ignores_far_fader(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    store.set("/rave/style", 0.5)
    device.send([0xB0, 3, 127], [0xB0, 3, 120])
    _until(control, lambda: control.router.counts["takeover_ignored"] == 2)
    assert store.get("/rave/style") == 0.5
    device.send([0xB0, 3, 60])  # crossed 0.5
    _until(control, lambda: store.get("/rave/style") == pytest.approx(60 / 127))


def test_learn_maps_cc_and_saves(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    control.hub.learn("/rave/texture")
    device.send([0xB2, 77, 100], [0xB2, 77, 50])  # channel 3, CC 77: unmapped until the first one
    _until(control, lambda: store.get("/rave/texture") == pytest.approx(50 / 127))
    saved = load_controller_map("learned", control.config.controllers_dir)
    assert saved.midi[("cc", 3, 77)] == Mapping("/rave/texture", None, None)
    assert ("cc", 1, 0) in saved.midi  # the rest of the map came along


@pytest.mark.realtime
def test_clock_in_follows_140_bpm(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    device.send([0xFA])
    start = time.perf_counter()
    ticks = int(3.0 * 140 / 60 * 24)
    for n in range(ticks):  # 3 s of ticks on an absolute schedule
        delay = start + n * 60 / 140 / 24 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        device.send([0xF8])
    assert control.clock_in is not None
    _until(control, lambda: control.clock_in.ticks == ticks)
    assert store.get("/tempo/bpm") == pytest.approx(140, abs=1.0), control.stats()
    assert control.clock_in.running
    assert control.hub.beats["clock_beat"] == 7  # 168 ticks: a beat every 24


def test_sysex_and_garbage_change_nothing(surface: tuple[MidiControl, Controller, ParamStore]) -> None:
    control, device, store = surface
    before = dict(store.snapshot().values)
    errors = []
    control.hub.add_error_listener(lambda source, address, message: errors.append(message))
    device.send([0xF0, 0x41, 0x10, 0x42, 0x12, 0xF7], [0xF0, 0x00, 0xF7], [0xB0, 99, 5], [0xB0, 101, 0],
                [0xB0, 100, 0], [0xB0, 6, 127], [0xB0, 90, 64], [0xE0, 0, 64])
    with contextlib.suppress(Exception):  # rtmidi may refuse to send it at all; the rest still arrives
        device.send([0xB0, 0x85, 0x01])  # a data byte with the top bit set: out of range
    device.send([0xB0, 1, 0], [0xB0, 1, 10])  # still alive, and once this lands the garbage was handled
    _until(control, lambda: store.get("/rave/chaos") == pytest.approx(10 / 127))
    after = dict(store.snapshot().values)
    after.pop("/rave/chaos"), before.pop("/rave/chaos")
    assert after == before
    assert control.decoder.counts["sysex"] == 2 and control.router.counts["unmapped"] >= 1
    assert control._thread is not None and control._thread.is_alive()


def _junk(rng: random.Random) -> list[list[int]]:
    """Running-status garbage, stray data bytes, cut and undefined messages, and a SysEx flood."""
    junk: list[list[int]] = []
    for i in range(JUNK_MESSAGES):
        pick = i % 6
        if pick == 0:  # running status with no status ever sent: data bytes alone
            junk.append([rng.randrange(128) for _ in range(rng.randint(1, 3))])
        elif pick == 1:  # a status byte cut short of its data
            junk.append([rng.choice((0x80, 0x90, 0xA0, 0xB0, 0xE0)) | rng.randrange(16), *[64] * rng.randint(0, 1)])
        elif pick == 2:  # undefined system status bytes
            junk.append([rng.choice((0xF4, 0xF5, 0xF9, 0xFD))] + [rng.randrange(128)] * rng.randint(0, 2))
        elif pick == 3:  # a data byte with its top bit set
            junk.append([0xB0 | rng.randrange(16), rng.randrange(128, 256), rng.randrange(128)])
        elif pick == 4:  # SysEx, well formed and long: counted and dropped
            junk.append([0xF0, *(rng.randrange(128) for _ in range(rng.randint(100, 1000))), 0xF7])
        else:  # SysEx with status bytes inside
            junk.append([0xF0, *(rng.randrange(256) for _ in range(rng.randint(1, 200))), 0xF7])
    return junk


@pytest.mark.realtime
def test_junk_flood_never_blocks_and_a_cc_lands_after(surface: tuple[MidiControl, Controller, ParamStore],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    control, device, store = surface
    read_fd, write_fd = os.pipe()  # the log goes to a pipe nobody reads, as with a detached engine
    writer = install_bounded_logging(os.fdopen(write_fd, "w", closefd=False), capacity=100)
    try:
        caplog.set_level(logging.WARNING, "engine.control")
        before = dict(store.snapshot().values)
        started = time.monotonic()
        for message in _junk(random.Random(5)):
            device.send(message)
        device.send([0xB0, 1, 0], [0xB0, 1, 90])  # chaos: soft takeover catches at 0, then 90
        sent = time.monotonic()
        assert wait_until(lambda: store.get("/rave/chaos") == pytest.approx(90 / 127), 2.0), control.stats()
        landed = time.monotonic() - sent
        assert landed < 1.0, f"the CC waited {landed:.2f} s behind the junk"
        assert {a: v for a, v in store.snapshot().values.items() if a != "/rave/chaos"} == \
               {a: v for a, v in before.items() if a != "/rave/chaos"}
        junk_seen = control.decoder.counts["invalid"] + control.decoder.counts["sysex"]
        assert junk_seen >= JUNK_MESSAGES // 2, control.stats()  # most of it arrived (rtmidi's queue may drop)
        assert control.counts["errors"] == control.decoder.counts["invalid"]
        assert control.hub.errors["bad message"] == control.decoder.counts["invalid"]
        control.hub.flush_error_log(final=True)
        lines = [r.getMessage() for r in caplog.records if r.name == "engine.control.hub"]
        assert len(lines) <= 5 + 3 * (time.monotonic() - started) + 2  # burst, rate, summaries
        assert lines[-1].startswith("midi: ") and " more bad messages in " in lines[-1]
        assert max(len(line) for line in lines) < 400
        assert control._thread is not None and control._thread.is_alive()
        print(f"midi junk: {junk_seen} of {JUNK_MESSAGES} messages decoded as junk, the CC landed "
              f"{landed * 1000:.0f} ms after, {len(lines)} log lines")
    finally:
        writer.stop(timeout=0.5)
        os.close(read_fd)  # the writer, if stuck, gets EPIPE and ends
        os.close(write_fd)


def test_port_closed_and_reopened(surface: tuple[MidiControl, Controller, ParamStore], jack_server: JackServer
                                  ) -> None:
    import jack

    control, device, store = surface
    errors: list[str] = []
    control.hub.add_error_listener(lambda source, address, message: errors.append(f"{address}: {message}"))
    device.close()
    assert wait_until(lambda: control.counts["port_lost"] == 1, 3.0), control.stats()
    assert any("port lost" in e and device.name in e for e in errors)
    replug = Controller(device.name)
    try:
        assert wait_until(lambda: control.counts["port_back"] == 1, 3.0), control.stats()
        assert control.input is not None
        with contextlib.closing(jack.Client("probe", no_start_server=True, servername=jack_server.name)) as probe:
            assert wait_until(lambda: probe.get_all_connections(control.input.opened), 3.0), "not reconnected in JACK"
        replug.send([0xB0, 1, 0], [0xB0, 1, 90])
        assert wait_until(lambda: store.get("/rave/chaos") == pytest.approx(90 / 127), 2.0), control.stats()
    finally:
        device.out = replug.out  # the fixture closes this one


@pytest.mark.realtime
def test_clock_out_at_set_bpm(jack_server: JackServer, tmp_path: Path) -> None:
    store = ParamStore(build_param_table(4))
    store.set("/tempo/bpm", 150.0)
    hub = ControlHub(store, slots_dir=tmp_path)
    receiver = rtmidi.MidiIn(JACK, "clock-rx")
    receiver.ignore_types(timing=False)
    receiver.open_virtual_port("in")
    control = MidiControl(hub, MidiConfig(midi_out="clock-rx", clock_out=True, feedback=False,
                                          client="clock-tx", api=JACK))
    control.start()
    try:
        stamps: list[float] = []  # each tick's arrival on the receiving port's clock
        clock = 0.0

        def heard_150_ticks() -> bool:  # 2.5 s of them at 150 BPM
            nonlocal clock
            while (item := receiver.get_message()) is not None:
                clock += item[1]
                if item[0] == [0xF8]:
                    stamps.append(clock)
            return len(stamps) >= 150

        assert wait_until(heard_150_ticks, 10.0, interval=0.002), f"{len(stamps)} ticks"
    finally:
        control.stop()
        receiver.delete()
    bpm = 60 / (24 * (stamps[-1] - stamps[0]) / (len(stamps) - 1))
    assert bpm == pytest.approx(150, rel=0.01)


def test_feedback_sends_mapped_cc(jack_server: JackServer, tmp_path: Path) -> None:
    store = ParamStore(build_param_table(4))
    receiver = rtmidi.MidiIn(JACK, "fb-rx")
    receiver.open_virtual_port("in")
    control = MidiControl(ControlHub(store, slots_dir=tmp_path), MidiConfig(midi_out="fb-rx", client="fb-tx",
                                                                            api=JACK))
    control.start()
    try:
        store.set("/rave/chaos", 0.5)  # generic16: CC 1
        got: list[list[int]] = []

        def heard() -> bool:
            while (item := receiver.get_message()) is not None:
                got.append(item[0])
            return [0xB0, 1, 64] in got
        assert wait_until(heard, 2.0), got
    finally:
        control.stop()
        receiver.delete()
