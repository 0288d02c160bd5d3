"""The OSC commands the console relies on: `/midi/learn ADDRESS` arms MIDI learn, `/visual/fullscreen`
toggles the visual window; each answers `/done` or `/fail` and bad input changes nothing."""

from __future__ import annotations

from osc_fixtures import Listener

from engine.control.hub import ControlHub
from engine.control.osc_codec import encode_message
from engine.control.osc_server import OscServer


def test_midi_learn_arms_the_hub_and_refuses_what_it_cannot(hub: ControlHub, listener: Listener) -> None:
    armed: list[str] = []
    with OscServer(hub, port=0) as server:
        listener.send(server.port, encode_message("/midi/learn", "/rave/energy"))
        listener.wait_for(lambda r: ("/fail", ["/midi/learn", "/midi/learn /rave/energy: no MIDI input is open to "
                                                             "learn from"]) in r)
        hub.set_learn_handler(armed.append)
        listener.send(server.port, encode_message("/midi/learn", "/rave/energy"))
        listener.wait_for(lambda r: ("/done", ["/midi/learn", "/rave/energy"]) in r)
        listener.send(server.port, encode_message("/midi/learn", "/no/such"))
        listener.wait_for(lambda r: any(a == "/fail" and "unknown address" in str(args) for a, args in r))
    assert armed == ["/rave/energy"]


def test_visual_fullscreen_asks_whoever_has_the_window(hub: ControlHub, listener: Listener) -> None:
    asked: list[int] = []
    window = {"open": False}

    def toggle() -> bool:
        if window["open"]:
            asked.append(1)
        return window["open"]

    with OscServer(hub, port=0, fullscreen=toggle) as server:
        listener.send(server.port, encode_message("/visual/fullscreen"))
        listener.wait_for(lambda r: any(a == "/fail" and args[0] == "/visual/fullscreen" for a, args in r))
        window["open"] = True
        listener.send(server.port, encode_message("/visual/fullscreen"))
        listener.wait_for(lambda r: ("/done", ["/visual/fullscreen"]) in r)
    assert asked == [1]
