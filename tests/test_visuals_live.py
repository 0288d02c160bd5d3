"""Visuals beside live audio on JACK: features reach the visual process and OSC, a recording holds
both streams, and killing the visual process glitches nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path

import av
import numpy as np
import pytest
from jack_fixtures import JackServer
from live_fixtures import assert_continuous, playing, run_until
from osc_fixtures import free_port
from pythonosc.osc_message import OscMessage

from engine.analysis.features import FEATURE_NAMES, INDEX
from engine.errors import ParamError


@pytest.mark.realtime
def test_visuals_follow_live_audio_and_survive_a_crash(jack_server: JackServer, live_model: Path,
                                                      tmp_path: Path) -> None:
    video = tmp_path / "set.mp4"
    with playing(jack_server, live_model, capture_seconds=12.0, scene="Intense", visuals=True,
                 visual_size=(64, 64), record=video) as s:
        engine = s.engine
        assert engine.visuals is not None
        assert run_until(engine, lambda: engine.visuals.host.frames.latest_index > 10, timeout=60)
        assert engine.feed is not None and engine.feed.rows > 50  # features published on the audio clock
        published = engine.visuals.host.state.read()
        assert published is not None and published.features[INDEX["level"]] > 0.0
        assert published.latent.shape == (engine.model.latent_size,)
        assert run_until(engine, lambda: engine.visuals.host.spare is not None and engine.visuals.host.spare.ready.is_set(),
                         timeout=60)
        engine.hub.fire_beat("cache_reset")  # a controller pad's beat action becomes the trigger write
        assert engine.store.get("/visual/reset") == 1
        with pytest.raises(ParamError, match="cubist"):  # no such theme: refused, reported to OSC clients
            engine.hub.set("/visual/theme", "cubist")
        engine.hub.set("/visual/theme", "ink")
        assert engine.store.get("/visual/theme") == "ink"
        underruns_before = engine.output.underruns
        os.kill(engine.visuals.host.active.process.pid, signal.SIGKILL)
        assert run_until(engine, lambda: bool(engine.visuals.host.restarts)
                         and engine.visuals.host.restarts[-1].recovered_seconds is not None, timeout=5)
        index = engine.visuals.host.frames.latest_index
        engine.run(1.0)
        assert engine.visuals.host.frames.latest_index > index
        assert engine.output.underruns == underruns_before == 0
    assert engine.visuals.host.restarts[0].recovered_seconds < 2.0
    report = engine.report()
    assert report["underruns"] == 0
    assert report["analysis"]["rows"] > 100
    assert_continuous(s.capture.recorded[48000:], "audio while the visual process was killed")
    played = engine.stopped_at - engine.started_at
    with av.open(str(video)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        frames = [f for f in container.decode(video=0)]
        audio_duration = float(a.duration * a.time_base) if a.duration else None
    assert len(frames) > 20
    assert frames[-1].time > 0.5 * played  # video spans most of the set
    if audio_duration is not None:
        assert abs(audio_duration - played) < 1.0
    assert v.codec_context.width == 64


def test_analysis_streams_to_osc_subscribers(jack_server: JackServer, live_model: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)  # drained between the engine's ticks
    port = free_port()
    rows: list[list[object]] = []
    addresses: set[str] = set()

    def streamed() -> bool:
        with contextlib.suppress(BlockingIOError):
            while True:
                message = OscMessage(sock.recv(65536))
                addresses.add(message.address)
                if message.address == "/analysis/features":
                    rows.append(message.params)
        return "/done" in addresses and len(rows) > 100  # about 86 rows a second

    with playing(jack_server, live_model, capture_seconds=6.0, scene="Intense", osc_port=port) as s:
        sock.sendto(osc_packet("/analysis/subscribe"), ("127.0.0.1", port))
        assert run_until(s.engine, streamed, 10.0), f"{len(rows)} rows; addresses {sorted(addresses)}"
    sock.close()
    assert all(len(r) == len(FEATURE_NAMES) for r in rows)
    levels = [r[INDEX["level"]] for r in rows]
    assert max(levels) > 0.0 and np.std(levels) > 0.0  # the features move with the music


def osc_packet(address: str) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    return OscMessageBuilder(address=address).build().dgram
