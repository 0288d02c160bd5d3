"""Onset-to-frame delay: the local visual process against a remote visual node behind a poor network.

The engine plays the default model (scene Intense, for onsets) on a JACK dummy server at 48 kHz / 256,
with its own visual process and, at the same time, streaming to a node (`visuals serve`, a second
process) through a UDP relay that adds `--delay-ms` +- `--jitter-ms` of delay and `--loss` loss each
way (tests/udp_relay.py). Both generators are `cppn` at the same size and `/visual/fps`.

For every onset the engine's feed publishes (the moment its audio reaches the speaker, on the audio
clock), the delay is the wall time from then to the first frame whose features are at least as new,
in the local frame buffer and in the node's (the node is on this machine, so its shared-memory frame
buffer can be watched directly; its frames carry the engine's timeline seconds). Each buffer is
polled every millisecond. Reported: median and 95th percentile per side, their difference, the frame
period, the node's own figures (clock offset, round trip, playout delay, rows lost) and the audio's
underruns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from multiprocessing import resource_tracker
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from jack_server import jack_dummy  # noqa: E402
from node_fixtures import NodeProcess  # noqa: E402
from udp_relay import UdpRelay  # noqa: E402

from engine.session.config import SessionConfig  # noqa: E402
from engine.session.session import LiveSession  # noqa: E402
from engine.visual.frame_buffer import FrameBuffer  # noqa: E402


class FrameWatcher(threading.Thread):
    """(wall time, timeline seconds of its features) of every new frame in a frame buffer."""

    def __init__(self, frames: FrameBuffer) -> None:
        super().__init__(daemon=True)
        self.frames = frames
        self.halt = threading.Event()
        self.seen: list[tuple[float, float]] = []

    def run(self) -> None:
        last = -1
        while not self.halt.wait(0.001):
            if self.frames.latest_index != last:
                got = self.frames.read()
                if got is not None:
                    last = got[0]
                    self.seen.append((time.time(), got[1]))


class OnsetWatcher(threading.Thread):
    """(wall time heard, timeline seconds) of each onset, as the feed publishes it."""

    def __init__(self, engine: LiveSession) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.halt = threading.Event()
        self.onsets: list[tuple[float, float]] = []

    def run(self) -> None:
        feed = self.engine.feed
        assert feed is not None
        seen = feed.onsets
        while not self.halt.wait(0.001):
            if feed.onsets != seen:
                seen = feed.onsets
                self.onsets.append((time.time(), feed.latest_time))


def delays_ms(onsets: list[tuple[float, float]], seen: list[tuple[float, float]]) -> list[float]:
    out = []
    for heard_wall, onset_time in onsets:
        for wall, frame_time in seen:
            if frame_time >= onset_time - 1e-6 and wall >= heard_wall - 0.5:
                out.append((wall - heard_wall) * 1000.0)
                break
    return out


def summary(values: list[float]) -> dict[str, object]:
    if not values:
        return {"onsets": 0}
    ordered = sorted(values)
    return {"onsets": len(values), "median_ms": round(statistics.median(values), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * (len(ordered) - 1) + 0.5))], 1),
            "min_ms": round(ordered[0], 1), "max_ms": round(ordered[-1], 1)}


def attach_foreign(name: str) -> FrameBuffer:
    """The node's frame buffer; the node owns (and unlinks) it, so this process's tracker must not."""
    frames = FrameBuffer.attach(name)
    if sys.version_info < (3, 13):
        resource_tracker.unregister(frames.shm._name, "shared_memory")  # type: ignore[attr-defined]
    return frames


def run(args: argparse.Namespace) -> dict:
    port = 0
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report_path = Path(args.node_report)
    node = NodeProcess(port, size=f"{args.size}x{args.size}", report=report_path)
    try:
        with UdpRelay(("127.0.0.1", port), delay_ms=args.delay_ms, jitter_ms=args.jitter_ms, loss=args.loss) as relay:
            engine = LiveSession(SessionConfig(
                scene="Intense", samplerate=48000, blocksize=256, device="system", osc_port=None, visuals=True,
                visual_size=(args.size, args.size), visual_spare=False, visual_remote=[relay.address],
                sets=[f"/visual/fps={args.fps:g}"]))
            local: FrameWatcher | None = None
            remote: FrameWatcher | None = None
            onsets = OnsetWatcher(engine)
            try:
                engine.start()
                assert engine.visuals is not None
                deadline = time.monotonic() + args.start_timeout
                while time.monotonic() < deadline:  # both sides rendering
                    status = engine.status()
                    if (status.visual_remote or [{}])[0].get("node_frames", 0) > 60 and status.visuals["frames"] > 60:
                        break
                    engine.run(0.5)
                else:
                    raise SystemExit(f"the node did not start in {args.start_timeout} s: {node.lines[-5:]}")
                engine.run(args.settle)  # past the start-up: both sides rendering steadily
                name = node.frames_name
                assert name is not None, node.lines
                remote_frames = attach_foreign(name)
                local = FrameWatcher(engine.visuals.host.frames)
                remote = FrameWatcher(remote_frames)
                for watcher in (local, remote, onsets):
                    watcher.start()
                engine.run(args.seconds)
            finally:
                for watcher in (local, remote, onsets):
                    if watcher is not None:
                        watcher.halt.set()
                        if watcher.is_alive():
                            watcher.join(timeout=1)
                engine.stop()
            relay_counts = {"forwarded": relay.forwarded, "dropped": relay.dropped}
        node.terminate()
    finally:
        node.kill()
    report = engine.report()
    heard = onsets.onsets[1:]
    local_delays = delays_ms(heard, local.seen if local else [])
    remote_delays = delays_ms(heard, remote.seen if remote else [])
    node_stats = json.loads(report_path.read_text()) if report_path.exists() else {}
    local_s, remote_s = summary(local_delays), summary(remote_delays)
    return {
        "benchmark": "visual_node", "seconds": args.seconds, "size": f"{args.size}x{args.size}",
        "visual_fps_asked": args.fps, "frame_period_ms": round(1000.0 / args.fps, 1),
        "relay": {"delay_ms": args.delay_ms, "jitter_ms": args.jitter_ms, "loss": args.loss, **relay_counts},
        "local": local_s, "remote": remote_s,
        "remote_minus_local_median_ms": (round(remote_s["median_ms"] - local_s["median_ms"], 1)
                                         if local_delays and remote_delays else None),
        "remote_minus_local_p95_ms": (round(remote_s["p95_ms"] - local_s["p95_ms"], 1)
                                      if local_delays and remote_delays else None),
        "underruns": report["underruns"], "callbacks": report["callbacks"],
        "expected_callbacks": report["expected_callbacks"], "lookahead_blocks": report["lookahead_blocks"],
        "sender": report["visual_remote"],
        "node": {k: node_stats.get(k) for k in ("rows", "rows_shown", "rows_lost", "rows_reordered", "late_rows",
                                                "clock_offset_ms", "round_trip_ms", "playout_delay_ms",
                                                "arrival_lateness_ms", "shown_lateness_ms", "frames", "render_ms")},
        "local_render_ms": (report["visuals"] or {}).get("render_ms"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--delay-ms", type=float, default=30.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--loss", type=float, default=0.02)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds played before measuring")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    parser.add_argument("--node-report", default="/tmp/bench_visual_node_report.json")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    with jack_dummy():
        result = run(args)
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
