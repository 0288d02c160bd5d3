"""`/scope/subscribe`: the latent, LFOs and spectrum reach subscribers at a fixed rate, from whatever the
engine's latest-value slots hold, and nothing is sent to anyone else; a live engine sends its own."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from jack_fixtures import JackServer
from live_fixtures import playing
from osc_fixtures import Listener, free_port
from pythonosc.osc_message import OscMessage

from engine.control.hub import ControlHub
from engine.control.osc_codec import encode_message
from engine.control.osc_server import OscServer
from engine.control.scope_sender import ScopeFrame


def receive_for(listener: Listener, seconds: float) -> None:
    """Collect for a while: a 30 Hz stream never leaves the socket idle long enough to end `drain()`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data, _ = listener.sock.recvfrom(65536)
        except TimeoutError:
            continue
        message = OscMessage(data)
        listener.received.append((message.address, list(message.params)))


def test_scope_subscribers_get_the_latest_latent_lfos_and_spectrum(hub: ControlHub, listener: Listener) -> None:
    latent = np.array([0.5, -1.0, 2.0])
    frame = {"now": ScopeFrame(latent=latent, lfo_values=[0.1, 0.2, 0.3, 0.4], lfo_phases=[0.5, 0.6, 0.7, 0.8],
                               spectrum=np.linspace(0, 1, 40), frames_name="psm_test")}
    bystander = Listener()
    with OscServer(hub, port=0, scope=lambda: frame["now"]) as server:
        bystander.send(server.port, encode_message("/engine/status"))
        listener.send(server.port, encode_message("/scope/subscribe"))
        receive_for(listener, 0.5)
        assert len(listener.messages("/engine/latent")) >= 3
        assert listener.messages("/engine/latent")[-1] == [0.5, -1.0, 2.0]
        np.testing.assert_allclose(listener.messages("/engine/lfo")[-1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
                                   atol=1e-6)
        assert len(listener.messages("/engine/spectrum")[-1]) == 40
        assert listener.messages("/engine/frames")[0] == ["psm_test"]
        frame["now"] = ScopeFrame(latent=np.zeros(2), lfo_values=[0.0] * 4, lfo_phases=[0.0] * 4, spectrum=())
        receive_for(listener, 0.3)
        assert listener.messages("/engine/latent")[-1] == [0.0, 0.0]
        listener.send(server.port, encode_message("/scope/unsubscribe"))
        receive_for(listener, 0.3)
        assert ("/done", ["/scope/unsubscribe"]) in listener.received
        bystander.drain()
    assert not [a for a, _ in bystander.received if a.startswith("/engine/latent")]
    bystander.close()


def test_a_live_engine_streams_its_latent_and_spectrum(jack_server: JackServer, live_model: Path) -> None:
    port = free_port()
    listener = Listener()
    try:
        with playing(jack_server, live_model, 1.0, osc_port=port) as session:
            listener.send(port, encode_message("/scope/subscribe"))
            for _ in range(30):  # the analysis follows demand on the engine's main-loop ticks
                session.engine.run(0.1)
                receive_for(listener, 0.05)
                if listener.messages("/engine/spectrum") and len(listener.messages("/engine/latent")) > 3:
                    break
            latents = listener.messages("/engine/latent")
            assert latents and len(latents[-1]) == session.engine.model.latent_size
            assert len({tuple(row) for row in latents}) > 1, "the latent never moved"
            spectrum = listener.messages("/engine/spectrum")
            assert spectrum and len(spectrum[-1]) == 40 and max(spectrum[-1]) > 0
            assert len(listener.messages("/engine/lfo")[-1]) == 8
    finally:
        listener.close()
