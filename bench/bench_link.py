"""Ableton Link benchmark: how closely the live engine follows a Link peer's tempo and beat.

The engine plays on a JACK dummy server (48 kHz, blocksize 256; bench/jack_server.py) joined to Link
(`live --link`); a second Link peer runs in a child process (Link's discovery between processes, as on
stage) and changes tempo every `--change-seconds` (random, 80..160 BPM). Printed and written as JSON:

- follow latency: from the peer's commit to the engine's `/tempo/bpm` showing the new tempo (polled
  every millisecond in this process), median / p95 / worst; beside it, how long a plain Link peer in
  this process (the observer) takes to see the same change: Link's own propagation;
- tempo error: the engine's beat-grid tempo minus the session's, sampled every 10 ms, in BPM, in steady
  state: outside the `--settle-seconds` (1 s) after each change (the follow latency above, and audio
  rendered at the old tempo a lookahead ahead, fall there);
- phase error: the engine's beat grid at the render time heard now (`audio_time`, what the render
  thread schedules on) minus the session's beat at the same host time (Link's own clock), in ms,
  modulo the bar (Link aligns peers' phase within its quantum, not their beat count); steady state too.
  `audio_time` is read from the ring's fill, which moves in device blocks (5.3 ms), so each sample
  carries up to a block of reading error of its own: the figure bounds the grid's error from above.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from jack_server import jack_dummy  # noqa: E402

from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.session.config import SessionConfig  # noqa: E402
from engine.session.session import LiveSession  # noqa: E402

# The peer: reads "TEMPO" lines on stdin, commits each, answers with the commit's host time.
PEER = """
import sys, link
peer = link.Link(120.0)
peer.enabled = True
print("ready", flush=True)
for line in sys.stdin:
    state = peer.captureAppSessionState()
    now = peer.clock().micros()
    state.setTempo(float(line), now)
    peer.commitAppSessionState(state)
    print(now, flush=True)
"""


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    a = np.abs(np.asarray(values))
    return {"n": len(values), "median": round(float(np.median(a)), 4), "p95": round(float(np.percentile(a, 95)), 4),
            "worst": round(float(a.max()), 4), "mean_signed": round(float(np.mean(values)), 4)}


def run(seconds: float, change_seconds: float, seed: int, settle_seconds: float) -> dict[str, object]:
    import link

    rng = random.Random(seed)
    observer = link.Link(120.0)  # reads the session's beat at a host time, as any peer would
    observer.enabled = True
    peer = subprocess.Popen([sys.executable, "-c", PEER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert peer.stdout is not None and peer.stdin is not None
    peer.stdout.readline()
    follow_ms: list[float] = []
    observer_ms: list[float] = []
    tempo_err: list[float] = []
    phase_ms: list[float] = []
    with jack_dummy():
        engine = LiveSession(SessionConfig(model=DEFAULT_MODEL, samplerate=48000, blocksize=256, device="system",
                                           osc_port=None, link=True))
        engine.start()
        try:
            engine.run(3.0)  # discovery and the offset filter settle
            grid = engine.decoder.graph.timeline.grid
            end = time.monotonic() + seconds
            next_change = time.monotonic()
            quiet_until = 0.0
            while time.monotonic() < end:
                if time.monotonic() >= next_change:
                    bpm = round(rng.uniform(80.0, 160.0), 2)
                    peer.stdin.write(f"{bpm}\n")
                    peer.stdin.flush()
                    committed = int(peer.stdout.readline()) / 1e6
                    seen: dict[str, float] = {}
                    while len(seen) < 2:
                        now = observer.clock().micros() / 1e6
                        if "observer" not in seen and abs(observer.captureAppSessionState().tempo() - bpm) < 1e-3:
                            seen["observer"] = now
                        if "engine" not in seen and abs(float(engine.store.get("/tempo/bpm")) - bpm) < 1e-3:
                            seen["engine"] = now
                        time.sleep(0.001)
                    follow_ms.append((seen["engine"] - committed) * 1000.0)
                    observer_ms.append((seen["observer"] - committed) * 1000.0)
                    next_change = time.monotonic() + change_seconds
                    quiet_until = time.monotonic() + settle_seconds
                    continue
                time.sleep(0.01)
                if time.monotonic() < quiet_until:
                    continue
                wall, host = time.time(), observer.clock().micros()
                state = observer.captureAppSessionState()
                session_beat, session_bpm = state.beatAtTime(host, 4), state.tempo()
                engine_beat = grid.beat_at(engine.audio_time(wall))
                tempo_err.append(grid.point.bpm - session_bpm)
                wrapped = (engine_beat - session_beat + 2.0) % 4.0 - 2.0  # within the bar
                phase_ms.append(wrapped * 60000.0 / session_bpm)
                engine.tick()
            status = engine.status()
        finally:
            engine.stop()
            peer.stdin.close()
            peer.wait(5)
            observer.enabled = False
    return {"seconds": seconds, "settle_seconds": settle_seconds, "tempo_changes": len(follow_ms), "follow_latency_ms": _percentiles(follow_ms),
            "link_own_latency_ms": _percentiles(observer_ms),
            "tempo_error_bpm": _percentiles(tempo_err), "phase_error_ms": _percentiles(phase_ms),
            "underruns": status.underruns, "link": status.tempo.get("link")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--change-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settle-seconds", type=float, default=1.0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    result = run(args.seconds, args.change_seconds, args.seed, args.settle_seconds)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
