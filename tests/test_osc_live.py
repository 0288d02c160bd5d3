"""The live engine starts its OSC server with it (JACK dummy server) and stops it on stop()."""

from __future__ import annotations

from pathlib import Path

import pytest
from jack_fixtures import SAMPLERATE, JackServer
from model_factories import make_new_style_model
from osc_fixtures import Listener, free_port, oscsend, wait_until

from engine.control.osc_codec import encode_message
from engine.session.config import SessionConfig
from engine.session.session import LiveSession


def test_live_engine_serves_osc(jack_server: JackServer, tmp_path: Path) -> None:
    model = make_new_style_model(tmp_path, latent_size=8, sr=SAMPLERATE)
    port = free_port()
    engine = LiveSession(SessionConfig(model=model, device=jack_server.device, samplerate=SAMPLERATE,
                                   osc_port=port, osc_map="touchosc"))
    listener = Listener()
    engine.start()
    try:
        assert engine.osc is not None and engine.osc.port == port and engine.osc.routes is not None
        oscsend(port, "/master/gain_db", "f", "-6")
        assert wait_until(lambda: engine.store.get("/master/gain_db") == -6.0, 3.0)
        listener.send(port, encode_message("/engine/status"))
        status = listener.wait_for(lambda r: any(a == "/engine/status/reply" for a, _ in r))
        reply = next(args for a, args in status if a == "/engine/status/reply")
        assert reply[2] == SAMPLERATE and reply[1] == engine.output.underruns
    finally:
        engine.stop()
        listener.close()
    with pytest.raises(OSError):
        engine.osc.sock.sendto(b"", ("127.0.0.1", port))  # closed with the engine
