"""Quantised launches in a playing engine: a model swap and a reference load wait for the grid line after
they are ready, and a theme switch reaches the visuals when its beat is heard, not when it is rendered."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from jack_fixtures import SAMPLERATE, JackServer
from live_fixtures import playing, run_until
from osc_fixtures import Listener, free_port

from engine.control.osc_codec import encode_message


def _tone(path: Path, hz: float) -> Path:
    t = np.arange(SAMPLERATE) / SAMPLERATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), SAMPLERATE)
    return path


@pytest.mark.realtime
def test_model_reference_and_theme_launches_land_on_the_grid(jack_server: JackServer, live_model: Path,
                                                             tmp_path: Path) -> None:
    copy = tmp_path / "copy.ts"
    shutil.copyfile(live_model, copy)
    reference = _tone(tmp_path / "loop.wav", 330.0)
    port = free_port()
    listener = Listener()
    try:
        with playing(jack_server, live_model, capture_seconds=30.0, allowed_model_dirs=[tmp_path],
                     osc_port=port) as s:
            engine = s.engine
            launches = engine.decoder.graph.timeline.launches
            frame = engine.decoder.graph.frame_seconds
            listener.send(port, encode_message("/launch/quantize", "bar"))
            assert run_until(engine, lambda: engine.store.get("/launch/quantize") == "bar", 3.0)

            listener.send(port, encode_message("/rave/model", str(copy)))
            assert run_until(engine, lambda: engine.model_name == copy.name and not engine.decoder.swapping, 60.0), \
                list(engine.errors)
            model = next(x for x in launches.landed if x.label == f"model:{copy.name}")
            assert model.beat % 4 == 0 and abs(model.seconds - model.grid_seconds) <= frame / 2 + 1e-9
            assert engine.decoder.graph.time_seconds > model.seconds  # the new graph carries on from the line

            listener.send(port, encode_message("/rave/reference/a", str(reference), "beat"))  # its own quantize
            assert run_until(engine, lambda: "ref1" in engine.decoder.graph.shaper.references, 30.0), \
                list(engine.errors)
            ref = next(x for x in launches.landed if x.label == "/rave/reference/a on")
            assert ref.beat % 1 == 0 and abs(ref.seconds - ref.grid_seconds) <= frame / 2 + 1e-9

            listener.send(port, encode_message("/visual/theme", "strobe"))
            assert run_until(engine, lambda: any(x.label == "/visual/theme strobe" for x in launches.landed), 10.0)
            theme = next(x for x in launches.landed if x.label == "/visual/theme strobe")
            assert run_until(engine, lambda: engine.store.get("/visual/theme") == "strobe", 10.0)
            # Rendered a lookahead ahead of the speaker, published when heard: not before its frame is.
            assert engine.audio_time(time.time()) >= theme.seconds - 0.01
            status = engine.report()["tempo"]
            assert status["launched"] >= 3 and status["launches_pending"] == 0 and status["quantize"] == "bar"
            assert "link" not in status
    finally:
        listener.close()
