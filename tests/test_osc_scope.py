"""`/scope/subscribe`: the latent, LFOs and spectrum reach subscribers at a fixed rate, from whatever the
engine's latest-value slots hold, and nothing is sent to anyone else; a live engine sends its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jack_fixtures import JackServer
from live_fixtures import playing
from osc_fixtures import Listener, free_port

from engine.control.hub import ControlHub
from engine.control.osc_codec import encode_message
from engine.control.osc_server import OscServer
from engine.control.scope_sender import ScopeFrame


def test_scope_subscribers_get_the_latest_latent_lfos_and_spectrum(hub: ControlHub, listener: Listener) -> None:
    latent = np.array([0.5, -1.0, 2.0])
    frame = {"now": ScopeFrame(latent=latent, lfo_values=[0.1, 0.2, 0.3, 0.4], lfo_phases=[0.5, 0.6, 0.7, 0.8],
                               spectrum=np.linspace(0, 1, 40), frames_name="psm_test")}
    bystander = Listener()
    with OscServer(hub, port=0, scope=lambda: frame["now"]) as server:
        bystander.send(server.port, encode_message("/engine/status"))
        listener.send(server.port, encode_message("/scope/subscribe"))
        listener.wait_for(lambda r: sum(a == "/engine/latent" for a, _ in r) >= 3)
        assert listener.messages("/engine/latent")[-1] == [0.5, -1.0, 2.0]
        np.testing.assert_allclose(listener.messages("/engine/lfo")[-1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
                                   atol=1e-6)
        assert len(listener.messages("/engine/spectrum")[-1]) == 40
        assert listener.messages("/engine/frames")[0] == ["psm_test"]
        frame["now"] = ScopeFrame(latent=np.zeros(2), lfo_values=[0.0] * 4, lfo_phases=[0.0] * 4, spectrum=())
        listener.wait_for(lambda r: r[-1] == ("/engine/latent", [0.0, 0.0]) or
                          ("/engine/latent", [0.0, 0.0]) in r[-4:])
        listener.send(server.port, encode_message("/scope/unsubscribe"))
        listener.wait_for(lambda r: ("/done", ["/scope/unsubscribe"]) in r)
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
                listener.drain()
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
