"""The TouchOSC controller map over OSC: ranges, soft takeover, xy pads, scene buttons, feedback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from osc_fixtures import Listener
from waiting import wait_until

from engine.control.hub import ControlHub
from engine.control.osc_codec import encode_message
from engine.control.osc_routes import OscRoutes
from engine.control.osc_server import OscServer


@pytest.fixture
def mapped(hub: ControlHub) -> Iterator[OscServer]:
    with OscServer(hub, port=0, routes=OscRoutes.load("touchosc", hub.store)) as srv:
        yield srv


def send_and_sync(listener: Listener, port: int, *messages: bytes) -> None:
    for m in messages:
        listener.send(port, m)
    listener.send(port, encode_message("/sync", 1))
    listener.wait_for(lambda r: ("/synced", [1]) in r)
    listener.received.clear()


def test_fader_soft_takeover(mapped: OscServer, hub: ControlHub, listener: Listener) -> None:
    # /rave/energy is 1.0 = position (1.0 - 0.3) / 1.7 = 0.41 of /1/fader1's travel.
    send_and_sync(listener, mapped.port, encode_message("/1/fader1", 0.9))
    assert hub.store.get("/rave/energy") == 1.0 and mapped.stats["ignored_takeover"] == 1
    send_and_sync(listener, mapped.port, encode_message("/1/fader1", 0.3), encode_message("/1/fader1", 0.5))
    assert abs(float(hub.store.get("/rave/energy")) - (0.3 + 1.7 * 0.5)) < 1e-6  # crossed 0.41: caught
    hub.set("/rave/energy", 2.0)  # moved elsewhere (a scene): the fader lets go again
    send_and_sync(listener, mapped.port, encode_message("/1/fader1", 0.6))
    assert hub.store.get("/rave/energy") == 2.0


def test_xy_pad_multifader_and_scene_toggle(mapped: OscServer, hub: ControlHub, listener: Listener) -> None:
    send_and_sync(listener, mapped.port, encode_message("/1/xy1", 0.25, 0.75),
                  encode_message("/1/multifader1/3", 0.5), encode_message("/1/multifader1/1", 0.52))
    assert hub.store.get("/rave/walk_speed") == 0.25 and hub.store.get("/rave/texture") == 0.75
    assert hub.store.get("/rave/latent/2/bias") == 0.0  # the fader sat on the value: caught, same value
    assert abs(float(hub.store.get("/rave/latent/0/bias")) - 0.12) < 1e-6
    send_and_sync(listener, mapped.port, encode_message("/1/toggle1", 1.0))
    assert hub.scene == "Calm" and hub.store.get("/rave/energy") == 0.55


def test_feedback_moves_the_controls(mapped: OscServer, hub: ControlHub, listener: Listener) -> None:
    listener.send(mapped.port, encode_message("/engine/subscribe"))
    listener.wait_for(lambda r: ("/done", ["/engine/subscribe"]) in r)
    listener.received.clear()
    hub.set("/rave/energy", 2.0)
    hub.set("/rave/walk_speed", 0.5)
    received = listener.wait_for(lambda r: any(a == "/1/xy1" for a, _ in r) and any(a == "/1/fader1" for a, _ in r))
    assert ("/1/fader1", [1.0]) in received
    xy = next(args for a, args in received if a == "/1/xy1")
    assert xy[0] == 0.5 and abs(xy[1] - 0.3) < 1e-6
    assert wait_until(lambda: mapped.feedback.stats["messages_sent"] > 0, 3.0)
