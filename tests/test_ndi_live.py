"""`live --ndi NAME` as a separate engine process on the JACK test server, received by an NDI receiver
in the test (found at 127.0.0.1: no mDNS here); the source outlives a crash of the visual process;
and an engine without the NDI package says so in one line and plays on."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
from gui_fixtures import ROOT, start_engine, status_reply
from jack_fixtures import JackServer
from live_fixtures import playing, run_until
from ndi_fixtures import connect, ndi_module, unique_name
from waiting import wait_until

MISSING_NDI = "raise ImportError('NDIlib hidden by the test')\n"


def test_live_ndi_sends_the_visuals_with_audio_timecodes(jack_server: JackServer, live_model: Path,
                                                         tmp_path: Path) -> None:
    ndi = ndi_module()
    name = unique_name("rave-live")
    report = tmp_path / "report.json"
    engine = start_engine(jack_server, live_model, tmp_path / "engine.log",
                          extra=("--scene", "Intense", "--size", "64x64", "--ndi", name, "--ndi-size", "96x64",
                                 "--no-visual-spare", "--report", str(report)))
    receiver = None
    try:
        receiver = connect(ndi, name, timeout=30)
        frames = receiver.capture(40, timeout=60)
        assert engine.alive() and status_reply(engine.port) is not None
    finally:
        if receiver is not None:
            receiver.close()
        engine.stop()
    log = engine.log.read_text(errors="replace")
    assert len(frames) >= 40, f"{len(frames)} NDI frames; engine log: {log[-2000:]}"
    assert all(f.pixels.shape == (64, 96, 3) for f in frames)  # the NDI size, not the generator's 64x64
    assert all(f.pixels.std() > 1.0 for f in frames), "blank NDI frames"
    first = frames[0].pixels.astype(int)
    assert max(np.abs(f.pixels.astype(int) - first).mean() for f in frames[1:]) > 1.0, "the frames never change"
    timecodes = [f.timecode for f in frames]
    assert timecodes == sorted(timecodes) and timecodes[-1] > timecodes[0] > 0  # on the audio clock, moving on
    outputs = json.loads(report.read_text())["visuals"]["outputs"]
    assert outputs[0]["output"] == f"NDI source {name!r}" and outputs[0]["sent"] >= 40
    assert outputs[0]["size"] == "96x64"


def test_live_without_the_ndi_package_says_so_once_and_plays(jack_server: JackServer, live_model: Path,
                                                             tmp_path: Path) -> None:
    hidden = tmp_path / "hide_ndi"
    hidden.mkdir()
    (hidden / "NDIlib.py").write_text(MISSING_NDI)
    report = tmp_path / "report.json"
    engine = start_engine(jack_server, live_model, tmp_path / "engine.log",
                          extra=("--ndi", "nowhere", "--size", "64x64", "--no-visual-spare", "--report", str(report)),
                          env={"PYTHONPATH": f"{hidden}:{ROOT}"})
    def visual_frames() -> int:
        reply = status_reply(engine.port)
        return int(reply[12]) if reply else 0  # /engine/status/reply: VISUAL_FRAMES is the 13th argument

    try:
        assert wait_until(lambda: visual_frames() > 5, 60, 0.2), "the visuals never ran"  # and the audio plays on
    finally:
        engine.stop()
    log = engine.log.read_text(errors="replace")
    lines = [line for line in log.splitlines() if "ndi-python package is not installed" in line]
    assert len(lines) == 1, log[-2000:]
    played = json.loads(report.read_text())
    assert played["callbacks"] > 0 and played["visuals"]["frames"] > 0
    assert any("NDI output is off" in e for e in played["errors"])


def test_the_ndi_source_outlives_a_visual_process_crash(jack_server: JackServer, live_model: Path) -> None:
    ndi = ndi_module()
    name = unique_name("rave-crash")
    with playing(jack_server, live_model, capture_seconds=30.0, scene="Intense", visual_size=(64, 64), ndi=name,
                 ndi_size=(64, 64), visual_spare=True) as s:
        engine = s.engine
        assert engine.visuals is not None and engine.visuals.outputs is not None
        output = engine.visuals.outputs.outputs[0]
        assert run_until(engine, lambda: engine.visuals.host.spare is not None
                         and engine.visuals.host.spare.ready.is_set(), timeout=120)
        receiver = connect(ndi, name)
        try:
            before = list(receiver.capture(5, timeout=30))
            assert len(before) == 5
            os.kill(engine.visuals.host.active.process.pid, signal.SIGKILL)
            assert run_until(engine, lambda: bool(engine.visuals.host.restarts)
                             and engine.visuals.host.restarts[-1].recovered_seconds is not None, timeout=30)
            receiver.frames.clear()
            after = receiver.capture(5, timeout=30)
            connections = output.sink.connections()
        finally:
            receiver.close()
    assert len(after) == 5 and after[0].timecode > before[-1].timecode  # new frames, same source
    assert engine.visuals.outputs.outputs[0] is output and connections == 1
    assert engine.visuals.host.restarts


def test_a_visual_node_sends_its_frames_over_ndi(tmp_path: Path) -> None:
    """`visuals serve --ndi NAME`: the node's frames go out as an NDI source (here before any engine
    streams to it: the generator draws from its idle features), through the same fan-out as `live`."""
    import socket
    import subprocess
    import sys

    ndi = ndi_module()
    name = unique_name("rave-node")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = tmp_path / "node.json"
    node = subprocess.Popen(
        [sys.executable, str(ROOT / "run_engine.py"), "visuals", "serve", "--listen", f"127.0.0.1:{port}",
         "--ndi", name, "--size", "64x64", "--seconds", "60", "--no-visual-spare", "--report", str(report)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    receiver = None
    try:
        receiver = connect(ndi, name, timeout=30)
        frames = receiver.capture(5, timeout=30)
        assert len(frames) == 5
        assert all(f.pixels.shape == (64, 64, 3) for f in frames)
        assert max(float(f.pixels.std()) for f in frames) > 1.0  # a picture, not a blank
    finally:
        if receiver is not None:
            receiver.close()
        node.send_signal(signal.SIGINT)
        out = node.communicate(timeout=30)[0].decode(errors="replace")
    assert node.returncode == 0, out[-1500:]
    assert json.loads(report.read_text())["frames"] >= 5
