"""`live --ndi NAME` as a separate engine process on the JACK test server, received by an NDI receiver
in the test (found at 127.0.0.1: no mDNS here); and an engine without the NDI package says so in one
line and plays on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from gui_fixtures import ROOT, start_engine, status_reply
from jack_fixtures import JackServer
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
    assert np.abs(frames[0].pixels.astype(int) - frames[-1].pixels.astype(int)).mean() > 1.0, "the frames never change"
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
        return int(reply[-2]) if reply else 0  # /engine/status/reply ends: visual frames, restarts

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
