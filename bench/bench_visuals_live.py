"""Visuals while the engine plays: generator frame rate, audio underruns, and beat-to-visual latency.

For each frame size the engine plays the default model (scene Intense, so it has beats to track) on
a JACK dummy server at 48 kHz / 256 with the visual process running the `cppn` generator, for
`--seconds`. Reported per size: frames per second the visual process delivered (median over 1 s
windows), the audio's underruns and missed callbacks, and the generator's render time.

Beat-to-visual latency: in the same run a reader polls the frame buffer every millisecond and notes
the wall time each new frame appears. For every onset the analysis found, the latency is the time
from that onset reaching the speaker (the audio clock the feed publishes on) to the first frame
that shows it. Baseline for the fps: the same generator alone, without the engine (same run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from jack_server import jack_dummy  # noqa: E402

from engine.session.config import SessionConfig  # noqa: E402
from engine.session.session import LiveSession  # noqa: E402


class FrameWatcher(threading.Thread):
    """Notes (wall time, frame time) of every new frame, polling every millisecond."""

    def __init__(self, engine: LiveSession) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.halt = threading.Event()
        self.seen: list[tuple[float, int, float]] = []  # (wall, index, timeline seconds of its features)

    def run(self) -> None:
        frames = self.engine.visuals.host.frames  # type: ignore[union-attr]
        last = -1
        while not self.halt.wait(0.001):
            index = frames.latest_index
            if index != last:
                got = frames.read()
                if got is not None:
                    last = got[0]
                    self.seen.append((time.time(), got[0], got[1]))


class OnsetWatcher(threading.Thread):
    """Notes the wall time at which each onset row is published (its audio reaches the speaker)."""

    def __init__(self, engine: LiveSession) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.halt = threading.Event()
        self.onsets: list[tuple[float, float]] = []  # (wall time heard, timeline seconds)

    def run(self) -> None:
        feed = self.engine.feed
        assert feed is not None
        seen = 0
        while not self.halt.wait(0.001):
            if feed.onsets != seen:
                seen = feed.onsets
                self.onsets.append((time.time(), feed.latest_time))


def fps_windows(seen: list[tuple[float, int, float]]) -> list[int]:
    if not seen:
        return []
    start = seen[0][0]
    counts: dict[int, int] = {}
    for wall, _, _ in seen:
        counts[int(wall - start)] = counts.get(int(wall - start), 0) + 1
    return [counts[k] for k in sorted(counts)[1:-1]]  # whole seconds only


def latencies(onsets: list[tuple[float, float]], seen: list[tuple[float, int, float]]) -> list[float]:
    """For each onset: wall time from hearing it to the first frame whose features are at least as new."""
    out = []
    for heard_wall, onset_time in onsets:
        for wall, _, frame_time in seen:
            if frame_time >= onset_time - 1e-6 and wall >= heard_wall - 0.05:
                out.append(max(0.0, wall - heard_wall) * 1000.0)
                break
    return out


def run(size: int, seconds: float, fps: float) -> dict:
    engine = LiveSession(SessionConfig(scene="Intense", samplerate=48000, blocksize=256, device="system",
                                   osc_port=None, visuals=True, visual_size=(size, size),
                                   sets=[f"/visual/fps={fps:g}"]))
    frames = FrameWatcher(engine)
    onsets = OnsetWatcher(engine)
    try:
        engine.start()
        assert engine.visuals is not None
        engine.visuals.host.wait_ready(60)
        frames.start()
        onsets.start()
        engine.run(seconds)
    finally:
        frames.halt.set()
        onsets.halt.set()
        engine.stop()
    report = engine.report()
    windows = fps_windows(frames.seen)
    lat = latencies(onsets.onsets[2:], frames.seen)
    return {
        "size": f"{size}x{size}",
        "fps_median": statistics.median(windows) if windows else 0,
        "fps_min": min(windows) if windows else 0,
        "underruns": report["underruns"],
        "callbacks": report["callbacks"],
        "expected_callbacks": report["expected_callbacks"],
        "render_ms": (report["visuals"] or {}).get("render_ms"),
        "visual_restarts": (report["visuals"] or {}).get("restarts"),
        "analysis": report["analysis"],
        "onsets_measured": len(lat),
        "beat_to_visual_ms_median": round(statistics.median(lat), 1) if lat else None,
        "beat_to_visual_ms_p90": round(sorted(lat)[int(0.9 * (len(lat) - 1))], 1) if lat else None,
    }


def generator_alone(size: int, frames: int = 60) -> dict:
    import torch

    from engine.visual.frame_input import VisualFrame
    from engine.visual.generators.base import create_generator

    torch.set_num_threads(1)
    gen = create_generator("cppn", size, size)
    frame = VisualFrame()
    for _ in range(5):
        gen.render(frame)
    times = []
    for k in range(frames):
        frame.index = k
        started = time.perf_counter()
        gen.render(frame)
        times.append(time.perf_counter() - started)
    gen.close()
    return {"size": f"{size}x{size}", "fps_alone": round(1.0 / statistics.median(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--fps", type=float, default=120.0,
                        help="/visual/fps: the rate the visual process aims for (120: as fast as it can)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results = []
    with jack_dummy():
        for size in args.sizes:
            result = run(size, args.seconds, args.fps)
            result.update(generator_alone(size))
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
    summary = {"benchmark": "visuals_live", "seconds": args.seconds, "visual_fps_asked": args.fps,
               "results": results}
    print(json.dumps(summary, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
