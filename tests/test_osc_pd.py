"""Pure Data (vanilla [oscformat] / [netsend -u -b] / [oscparse]) drives the OSC server."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from osc_fixtures import free_port, oscsend
from waiting import wait_until

from engine.analysis.features import INDEX, N_FEATURES
from engine.control.hub import ControlHub
from engine.control.osc_server import OscServer

pytestmark = pytest.mark.skipif(shutil.which("pd") is None, reason="Pure Data is not installed (puredata-core)")

SEND_PATCH = """#N canvas 0 0 600 400 10;
#X obj 10 10 loadbang;
#X obj 10 30 t b b b;
#X msg 200 60 connect 127.0.0.1 {port};
#X msg 100 60 1.5;
#X obj 100 80 oscformat rave energy;
#X obj 100 100 list prepend send;
#X obj 100 120 list trim;
#X obj 100 150 netsend -u -b;
#X msg 10 60 \\; pd quit;
#X connect 0 0 1 0;
#X connect 1 2 2 0;
#X connect 1 1 3 0;
#X connect 1 0 8 0;
#X connect 2 0 7 0;
#X connect 3 0 4 0;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 6 0 7 0;
"""

# Subscribes for feedback on `listen`, prints everything [oscparse] gets, quits after `ms`.
FEEDBACK_PATCH = """#N canvas 0 0 600 400 10;
#X obj 10 10 loadbang;
#X obj 10 30 t b b b;
#X msg 200 60 connect 127.0.0.1 {port};
#X msg 100 60 {listen};
#X obj 100 80 oscformat engine subscribe;
#X obj 100 100 list prepend send;
#X obj 100 120 list trim;
#X obj 100 150 netsend -u -b;
#X obj 10 60 delay {ms};
#X msg 10 80 \\; pd quit;
#X obj 300 10 netreceive -u -b {listen};
#X obj 300 30 oscparse;
#X obj 300 50 print fb;
#X connect 0 0 1 0;
#X connect 1 2 2 0;
#X connect 1 1 3 0;
#X connect 1 0 8 0;
#X connect 2 0 7 0;
#X connect 3 0 4 0;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 6 0 7 0;
#X connect 8 0 9 0;
#X connect 10 0 11 0;
#X connect 11 0 12 0;
"""



def test_pd_sets_a_value(server: OscServer, hub: ControlHub, tmp_path: Path) -> None:
    patch = tmp_path / "send.pd"
    patch.write_text(SEND_PATCH.format(port=server.port))
    subprocess.run(["pd", "-nogui", "-nosound", "-batch", "-open", str(patch)], check=True, timeout=20,
                   capture_output=True)
    assert wait_until(lambda: hub.store.get("/rave/energy") == 1.5, 3.0)
    assert server.stats["errors"] == 0


def listening_pd(patch: Path, subscribed: Callable[[], bool], then: Callable[[], None]) -> list[str]:
    """Run a listening patch until it quits; once `subscribed()` holds, call `then()`. Returns what
    Pd printed from [print fb], one message per line without Pd's prefixes."""
    pd = subprocess.Popen(["pd", "-nogui", "-nosound", "-stderr", "-open", str(patch)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(subscribed, 10.0), "Pd did not subscribe"
        then()
        _, err = pd.communicate(timeout=20)
    finally:
        if pd.poll() is None:
            pd.kill()
            pd.wait()
    return [line.removeprefix("fb:").strip().removeprefix("list ") for line in err.splitlines() if line.startswith("fb:")]


def test_pd_receives_feedback_after_a_scene_recall(server: OscServer, hub: ControlHub, tmp_path: Path) -> None:
    patch = tmp_path / "feedback.pd"
    patch.write_text(FEEDBACK_PATCH.format(port=server.port, listen=free_port(), ms=3000))
    lines = listening_pd(patch, lambda: len(server.subscribers) == 1,
                         lambda: oscsend(server.port, "/scene/recall", "si", "intense", "0"))
    assert "rave energy 1" in lines  # the full dump on subscribe: the default
    energy = float(hub.store.get("/rave/energy"))
    assert energy != 1.0 and f"rave energy {energy:g}" in lines, lines[-20:]


def test_pd_follows_the_analysis_stream(server: OscServer, tmp_path: Path) -> None:
    patch = tmp_path / "analysis.pd"
    patch.write_text(FEEDBACK_PATCH.replace("oscformat engine subscribe", "oscformat analysis subscribe")
                     .format(port=server.port, listen=free_port(), ms=2500))
    row = np.zeros(N_FEATURES, dtype=np.float32)
    row[INDEX["level"]], row[INDEX["beat"]], row[INDEX["bpm"]], row[INDEX["beat_confidence"]] = 0.5, 1, 128, 0.75
    # As the live engine's feed does, 86 times a second.
    lines = listening_pd(patch, lambda: len(server.feature_subscribers) == 1, lambda: server.features.send(row))
    assert "analysis beat 128 0.75" in lines, lines
    features = next(line for line in lines if line.startswith("analysis features"))
    values = [float(v) for v in features.split()[2:]]
    assert len(values) == N_FEATURES and values[INDEX["level"]] == 0.5
