"""Live on JACK: the adaptive lookahead grows after forced near-misses and shrinks back while
playback is steady; forced decode settings play; bad overrides are one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from jack_fixtures import SAMPLERATE, JackServer
from live_fixtures import assert_continuous, playing

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.realtime
def test_lookahead_grows_after_near_misses_and_shrinks_when_steady(jack_server: JackServer,
                                                                   live_model: Path) -> None:
    with playing(jack_server, live_model, capture_seconds=10.0, lookahead_min_ms=20, lookahead_max_ms=300) as s:
        engine = s.engine
        lookahead = engine.lookahead
        assert lookahead is not None and engine.steal_watch is not None
        engine.steal_watch.stop()  # this test forces its own near-misses: the host's stalls are not its subject
        engine.run(0.5)
        start = lookahead.frames
        engine.decoder.slowdown_seconds = 0.04  # each ~43 ms frame now drains ~40 ms of the ring
        engine.run(1.5)
        engine.decoder.slowdown_seconds = 0.0
        grown = lookahead.frames
        assert grown > start, (start, grown)
        assert lookahead.near_misses > 0
        assert engine.lookahead_blocks * engine.config.blocksize == grown
        lookahead.steady_seconds = lookahead.max_steady_seconds = 0.5  # the test's patience, not the engine's
        engine.run(4.0)
        assert lookahead.frames < grown
        assert lookahead.frames >= lookahead.min_frames
        report = engine.report()
    history = report["lookahead"]["history"]  # type: ignore[index]
    reasons = [h["reason"] for h in history]
    assert reasons[0] == "start"
    assert any(r.startswith(("near-miss", "underrun")) for r in reasons), reasons
    assert any(r.startswith("steady") for r in reasons), reasons
    assert all(h["frames"] > 0 and h["seconds"] >= 0 for h in history)


@pytest.mark.realtime
def test_a_host_stall_reported_by_the_steal_watch_grows_the_live_lookahead(jack_server: JackServer,
                                                                           live_model: Path) -> None:
    with playing(jack_server, live_model, capture_seconds=3.0, lookahead_min_ms=20) as s:
        engine = s.engine
        assert engine.lookahead is not None and engine.steal_watch is not None
        engine.run(0.5)
        before = engine.latency_breakdown()["lookahead_s"]
        # What the watch calls when /proc/stat shows steal: 300 ms, longer than this host's real stalls
        # (100 ms), so one of those during the test cannot be mistaken for it.
        engine.steal_watch.on_stall(0.3)
        engine.run(1.0)
        after = engine.latency_breakdown()["lookahead_s"]
        report = engine.report()
    assert before < 0.3 < after  # the stall, plus the running decode time, plus a block
    lookahead = report["lookahead"]
    assert lookahead["history"][-1]["reason"] == "the host took a CPU away for 300 ms: covering such a stall"  # type: ignore[index]
    assert {"host_stalls", "longest_host_stall_ms"} <= set(lookahead)  # type: ignore[arg-type]
    assert s.engine.output.underruns == 0


@pytest.mark.realtime
def test_forced_decode_setting_plays_without_underruns(jack_server: JackServer, live_model: Path) -> None:
    with playing(jack_server, live_model, capture_seconds=3.0, frames_per_call=4, decode_threads=1) as s:
        s.engine.run(2.0)
        report = s.engine.report()
    setting = report["decode_setting"]
    assert (setting["frames_per_call"], setting["threads"]) == (4, 1)  # type: ignore[index]
    assert [(c["frames_per_call"], c["threads"]) for c in setting["tried"]] == [(4, 1)]  # type: ignore[index]
    assert s.engine.decoder.graph.frames_per_call == 4
    assert s.engine.output.underruns == 0
    assert_continuous(s.capture.recorded[SAMPLERATE // 2:], "capture at 4 frames per call")


@pytest.mark.parametrize(("args", "flag"), [
    (["--frames-per-call", "0"], "--frames-per-call"),
    (["--frames-per-call", "17"], "--frames-per-call"),
    (["--decode-threads", "9"], "--decode-threads"),
    (["--lookahead-min-ms", "50", "--lookahead-max-ms", "20"], "--lookahead-min-ms 50 is above"),
    (["--lookahead-blocks", "8", "--lookahead-min-ms", "20"], "--lookahead-blocks fixes the lookahead"),
])
def test_cli_rejects_bad_decode_overrides(jack_server: JackServer, args: list[str], flag: str) -> None:
    done = subprocess.run([sys.executable, "run_engine.py", "live", "--seconds", "1", *args], cwd=ROOT,
                          env=jack_server.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], done.stderr
