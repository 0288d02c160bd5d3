"""Ableton Link: a live engine joins the session of a second Link peer (here, in the test process).

Link's discovery works between processes on one machine: the engine runs as `live --link` on the JACK
test server, the peer sets 133 BPM and the engine follows; the engine is set to 101 over OSC and the peer
sees it; start/stop goes both ways; `/engine/status` shows the peer and the bar phase.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from jack_fixtures import SAMPLERATE, JackServer
from osc_fixtures import Listener, free_port
from waiting import wait_until

from engine.control.link_session import LINK_MISSING, load_link
from engine.control.osc_codec import encode_message
from engine.errors import EngineError

ROOT = Path(__file__).resolve().parents[1]
FOLLOW_DEADLINE_S = 2.0  # the figure: the engine follows the session within 2 s


class Peer:
    """A second Link peer: LinkPython-extern's own session state, committed as an app would."""

    def __init__(self, bpm: float) -> None:
        link = pytest.importorskip("link", reason="LinkPython-extern is not installed")
        self.link = link.Link(bpm)
        self.link.enabled = True
        self.link.startStopSyncEnabled = True

    def state(self):  # noqa: ANN201 - the binding's SessionState
        return self.link.captureAppSessionState()

    def set_tempo(self, bpm: float) -> None:
        state = self.state()
        state.setTempo(bpm, self.link.clock().micros())
        self.link.commitAppSessionState(state)

    def set_playing(self, playing: bool) -> None:
        state = self.state()
        state.setIsPlaying(playing, self.link.clock().micros())
        self.link.commitAppSessionState(state)

    def close(self) -> None:
        self.link.enabled = False


def _get(listener: Listener, port: int, address: str) -> object | None:
    listener.received.clear()
    listener.send(port, encode_message("/engine/get", address))
    try:
        listener.wait_for(lambda r: any(a == address for a, _ in r), timeout=0.5)
    except AssertionError:
        return None
    return listener.messages(address)[-1][0]


def _status(listener: Listener, port: int) -> list[object] | None:
    listener.received.clear()
    listener.send(port, encode_message("/engine/status"))
    try:
        listener.wait_for(lambda r: any(a == "/engine/status/reply" for a, _ in r), timeout=0.5)
    except AssertionError:
        return None
    return listener.messages("/engine/status/reply")[-1]


@pytest.mark.realtime
def test_the_engine_follows_and_leads_a_link_session(jack_server: JackServer, live_model: Path,
                                                     tmp_path: Path) -> None:
    peer = Peer(120.0)
    port, report = free_port(), tmp_path / "report.json"
    listener = Listener()
    engine = subprocess.Popen([sys.executable, "run_engine.py", "live", "--link", "--seconds", "60", "--samplerate",
                               str(SAMPLERATE), "--device", str(jack_server.device), "--model", str(live_model),
                               "--osc-port", str(port), "--report", str(report)],
                              cwd=ROOT, env=jack_server.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # 90 s: the engine loads and times its model first, slow on a loaded machine (not a figure under test)
        assert wait_until(lambda: (s := _status(listener, port)) is not None and s[14] >= 1, 90), \
            "the engine never reported a Link peer"
        assert wait_until(lambda: peer.link.numPeers() >= 1, 5), "the peer never saw the engine"

        peer.set_tempo(133.0)
        assert wait_until(lambda: _get(listener, port, "/tempo/bpm") == pytest.approx(133.0, abs=1e-3),
                          FOLLOW_DEADLINE_S), f"the engine did not follow 133 BPM within {FOLLOW_DEADLINE_S} s"

        listener.send(port, encode_message("/tempo/bpm", 101.0))
        assert wait_until(lambda: peer.state().tempo() == pytest.approx(101.0, abs=1e-3), 5), \
            f"the peer did not see the engine's 101 BPM (it has {peer.state().tempo()})"

        peer.set_playing(True)  # the session plays (the engine already does) ...
        wait_until(lambda: False, 1.0)  # ... long enough for the engine to see it: an order, not a deadline
        peer.set_playing(False)  # the session stops: so does the engine
        assert wait_until(lambda: _get(listener, port, "/transport/play") in (False, 0), 3)
        listener.send(port, encode_message("/transport/play", 1))  # started here: the session starts
        assert wait_until(lambda: peer.state().isPlaying(), 3)

        status = _status(listener, port)
        assert status is not None and status[14] >= 1 and 0.0 <= float(status[15]) < 1.0  # type: ignore[arg-type]
        assert float(status[16]) == pytest.approx(101.0, abs=1e-3)  # type: ignore[arg-type]
    finally:
        engine.send_signal(signal.SIGINT)
        try:
            engine.wait(timeout=20)
        finally:
            if engine.poll() is None:
                engine.kill()
            listener.close()
            peer.close()
    assert engine.returncode == 0, engine.stderr.read().decode() if engine.stderr else ""
    tempo = json.loads(report.read_text())["tempo"]
    assert tempo["link"]["peers"] >= 1 and tempo["link"]["followed"] >= 1 and tempo["link"]["led"] >= 1
    assert 0.0 <= tempo["link"]["phase"] < 1.0


def test_without_the_binding_link_says_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "link", None)  # what an absent package looks like to import
    with pytest.raises(EngineError, match="LinkPython-extern"):
        load_link()
    blocker = tmp_path / "no_link"
    (blocker / "link").mkdir(parents=True)
    (blocker / "link" / "__init__.py").write_text("raise ImportError('no Link here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "run_engine.py", "live", "--link", "--seconds", "1", "--osc-port", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1 and LINK_MISSING in lines[0], done.stderr
