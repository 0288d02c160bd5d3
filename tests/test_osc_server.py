"""The OSC server against clients nobody here wrote (liblo's oscsend) and raw datagrams."""

from __future__ import annotations

import math
import struct
import time
from pathlib import Path

import pytest
from osc_fixtures import LATENT, Listener, make_hub, oscsend
from waiting import wait_until

from engine.control.hub import ControlHub
from engine.control.osc_codec import encode_bundle, encode_message, ntp_to_unix, parse_packet, unix_to_ntp
from engine.control.osc_server import OscServer
from engine.render.timeline import Timeline


def subscribe(listener: Listener, server: OscServer) -> None:
    listener.send(server.port, encode_message("/engine/subscribe"))
    listener.wait_for(lambda r: ("/done", ["/engine/subscribe"]) in r)


def test_oscsend_sets_a_parameter(server: OscServer, hub: ControlHub) -> None:
    oscsend(server.port, "/rave/energy", "f", "1.5")
    assert wait_until(lambda: hub.store.get("/rave/energy") == 1.5, 3.0)
    oscsend(server.port, "/rave/energy", "i", "5")  # an int, clamped to the range like any write
    assert wait_until(lambda: hub.store.get("/rave/energy") == 2.0, 3.0)


def test_oscsend_pattern_sets_every_match(server: OscServer, hub: ControlHub) -> None:
    oscsend(server.port, "/rave/latent/*/bias", "f", "0.5")
    assert wait_until(lambda: all(hub.store.get(f"/rave/latent/{i}/bias") == 0.5 for i in range(LATENT)), 3.0)
    assert hub.store.get("/rave/latent/0/scale") == 1.0


def test_string_and_nan_are_refused_and_reported(server: OscServer, hub: ControlHub, listener: Listener) -> None:
    subscribe(listener, server)
    oscsend(server.port, "/rave/energy", "s", "loud")
    oscsend(server.port, "/rave/energy", "f", "nan")
    errors = listener.wait_for(lambda r: len([a for a, _ in r if a == "/engine/error"]) >= 2)
    messages = [args for a, args in errors if a == "/engine/error"]
    assert messages[0][:2] == ["osc 127.0.0.1", "/rave/energy"] and "wrong type" in str(messages[0][2])
    assert "not finite" in str(messages[1][2]) and "from 127.0.0.1:" in str(messages[1][2])
    assert hub.store.get("/rave/energy") == 1.0
    assert server.stats["errors"] == 2
    oscsend(server.port, "/rave/energy", "f", "0.7")  # still serving
    assert wait_until(lambda: abs(float(hub.store.get("/rave/energy")) - 0.7) < 1e-6, 3.0)


def test_bad_input_never_stops_the_server_or_changes_values(server: OscServer, hub: ControlHub,
                                                            listener: Listener) -> None:
    subscribe(listener, server)
    before = dict(hub.store.snapshot().values)
    bad = [
        b"",
        b"\xff\x00garbage",
        b"/rave/energy\x00\x00\x00\x00,f\x00\x00\x3f",  # float cut short
        b"/rave/energy\x00\x00\x00\x00,q\x00\x00\x00\x00\x00\x00",  # unknown type tag
        b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", 400) + b"/x\x00\x00",  # element overruns
        encode_bundle(None, b"not osc"),
        encode_message("/rave/energy", 0.5, 0.6),  # two values for a set
        encode_message("/rave/energy"),  # none
        encode_message("/rave/nope", 0.5),
        encode_message("/rave/energy", float("inf")),
        encode_message("/lfo/0/target", "x" * 300),  # oversized string
        encode_message("/rave/source/a", 1.5),  # not an index
        encode_message("/rave/latent/[0-", 1.0),  # broken pattern
        encode_message("/engine/get", "/nope"),
        encode_message("/scene/recall", "no-such-scene"),
    ]
    for data in bad:
        listener.send(server.port, data)
    listener.send(server.port, encode_message("/sync", 7))
    listener.wait_for(lambda r: ("/synced", [7]) in r)
    assert server.stats["errors"] == len(bad)
    assert dict(hub.store.snapshot().values) == before
    kinds = set(hub.errors)
    assert {"malformed packet", "wrong argument count", "unknown address", "not finite", "oversized string",
            "wrong type", "scene recall failed"} <= kinds
    assert len(listener.messages("/engine/error")) == len(bad)
    assert ["/scene/recall", listener.messages("/fail")[-1][1]] == listener.messages("/fail")[-1]
    listener.send(server.port, encode_message("/rave/source/a", 1))  # an index into the choices is fine
    assert wait_until(lambda: hub.store.get("/rave/source/a") == "ref1", 3.0)


def test_list_get_status_and_sync(server: OscServer, hub: ControlHub, listener: Listener) -> None:
    listener.send(server.port, encode_message("/engine/list"))
    listener.wait_for(lambda r: any(a == "/engine/list/done" for a, _ in r))
    params = listener.messages("/engine/param")
    assert listener.messages("/engine/list/done") == [[len(hub.store.addresses)]] and len(params) == len(hub.store.addresses)
    energy = next(p for p in params if p[0] == "/rave/energy")
    assert energy[1] == "float" and math.isclose(energy[2], 0.3, rel_tol=1e-6) and energy[3:5] == [2.0, 1.0]
    source = next(p for p in params if p[0] == "/rave/source/a")
    assert source[1] == "enum" and source[6:] == ["walk", "ref1", "ref2", "input", "walk2"]

    listener.received.clear()
    listener.send(server.port, encode_message("/engine/get", "/rave/energy"))
    listener.send(server.port, encode_message("/engine/get", "/rave/latent/*/bias"))
    listener.send(server.port, encode_message("/engine/status"))
    listener.wait_for(lambda r: any(a == "/engine/status/reply" for a, _ in r))
    assert listener.messages("/rave/energy") == [[1.0]]
    assert sum(1 for a, _ in listener.received if a.endswith("/bias")) == LATENT
    status = listener.messages("/engine/status/reply")[0]
    assert status[:3] == [0.0, 0, 0] and status[3] == 4  # no engine attached; 4 messages so far


def test_scene_save_and_recall(server: OscServer, hub: ControlHub, listener: Listener) -> None:
    hub.store.set("/rave/chaos", 0.25)
    listener.send(server.port, encode_message("/scene/save", "My Set"))
    listener.wait_for(lambda r: ("/done", ["/scene/save", "My Set"]) in r)
    assert (hub.scenes_dir / "my_set.toml").is_file()
    listener.send(server.port, encode_message("/scene/recall", "calm", 0))
    listener.wait_for(lambda r: ("/done", ["/scene/recall", "calm"]) in r)
    assert hub.store.get("/rave/energy") == 0.55 and hub.scene == "Calm"
    listener.send(server.port, encode_message("/scene/save", ""))
    listener.wait_for(lambda r: any(a == "/fail" and args[0] == "/scene/save" for a, args in r))


def test_allow_list_drops_other_hosts(hub: ControlHub) -> None:
    with OscServer(hub, port=0, allow=["10.9.8.7"]) as srv:
        oscsend(srv.port, "/rave/energy", "f", "1.5")
        oscsend(srv.port, "/rave/energy", "f", "1.6")
        assert wait_until(lambda: srv.stats["dropped"] == 2, 3.0)
        assert hub.store.get("/rave/energy") == 1.0 and srv.stats["messages"] == 0


def test_unsubscribe_and_port_argument(server: OscServer, hub: ControlHub, listener: Listener) -> None:
    other = Listener()
    try:
        listener.send(server.port, encode_message("/engine/subscribe", float(other.port)))  # Pd sends floats
        other.wait_for(lambda r: ("/done", ["/engine/subscribe"]) in r)
        assert len(server.subscribers) == 1
        hub.set("/rave/chaos", 0.5)  # as MIDI or a scene would: feedback reaches the subscriber
        other.wait_for(lambda r: ("/rave/chaos", [0.5]) in r)
        listener.send(server.port, encode_message("/engine/unsubscribe", other.port))
        other.wait_for(lambda r: ("/done", ["/engine/unsubscribe"]) in r)
        assert len(server.subscribers) == 0
    finally:
        other.close()


@pytest.mark.realtime
def test_feedback_is_rate_limited(server: OscServer, hub: ControlHub, listener: Listener) -> None:
    subscribe(listener, server)
    polls = server.feedback.stats["polls"]
    started = time.monotonic()
    for i in range(500):  # far faster than 30 Hz
        hub.set("/rave/style", (i % 100) / 100)
        time.sleep(0.001)
    listener.wait_for(lambda r: any(a == "/rave/style" and abs(args[0] - 0.99) < 1e-6 for a, args in r))  # the last
    elapsed = time.monotonic() - started
    assert server.feedback.stats["polls"] - polls <= elapsed * 30 + 3
    assert 0 < len(listener.messages("/rave/style")) <= elapsed * 30 + 3  # 500 writes, at most one per poll


def test_time_tags_convert_from_ntp() -> None:
    now = time.time()
    assert abs(ntp_to_unix(unix_to_ntp(now)) - now) < 1e-6  # type: ignore[operator]
    assert ntp_to_unix(1) is None
    inner = encode_bundle(now + 2.0, encode_message("/a", 1))
    messages, bundles = parse_packet(encode_bundle(now + 1.0, encode_message("/b", 2), inner))
    assert bundles == 2 and [m.address for m in messages] == ["/b", "/a"]
    assert abs(messages[0].when - (now + 1.0)) < 1e-6 and abs(messages[1].when - (now + 2.0)) < 1e-6  # type: ignore[operator]


def test_future_bundle_lands_on_the_timeline_later_than_an_immediate_one(tmp_path: Path, listener: Listener) -> None:
    # A graph's timeline driven by hand: timeline seconds = wall seconds since t0 (a fake audio_time).
    t0 = time.time()
    holder: list[Timeline] = []
    hub = make_hub(tmp_path, timeline=lambda: holder[0], audio_time=lambda wall: wall - t0)
    holder.append(Timeline(hub.store))
    timeline = holder[0]
    with OscServer(hub, port=0) as srv:
        when = t0 + 5.0
        listener.send(srv.port, encode_bundle(None, encode_message("/rave/energy", 1.5),
                                              encode_bundle(when, encode_message("/rave/chaos", 0.9))))
        listener.send(srv.port, encode_message("/sync", 1))
        listener.wait_for(lambda r: ("/synced", [1]) in r)
    assert hub.store.get("/rave/energy") == 1.5  # immediate: applied on arrival
    assert hub.store.get("/rave/chaos") == 0.0 and srv.stats["scheduled"] == 1 and srv.stats["bundles"] == 2
    timeline.advance(4.99)
    assert hub.store.get("/rave/chaos") == 0.0
    timeline.advance(5.0 + 1e-6)  # the frame its time tag names
    assert abs(float(hub.store.get("/rave/chaos")) - 0.9) < 1e-6
