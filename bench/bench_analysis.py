"""Cost of the real-time audio analysis per hop at 48 kHz, and the tempo it finds on real music.

.venv/bin/python bench/bench_analysis.py [--seconds 30] [--json-out FILE]

Cost: 48 kHz audio (the first music fixture resampled, or a click track with noise when the
fixtures are absent) is fed one hop at a time, and each `process` call that completes a hop is
timed, by wall clock and by thread CPU time: median and p99 in microseconds. The real-time factor
(analysis time / audio time) is measured with 256-frame blocks, as the live engine feeds it.
Music: each fixture in ../shared/fixtures/music/,
resampled to 48 kHz with soxr, through `engine.analysis.offline.analyze`; the tracked BPM and
confidence at the end, the median BPM over the second half, and the onset and beat counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.analysis.analyzer import AudioAnalyzer  # noqa: E402
from engine.analysis.features import INDEX  # noqa: E402
from engine.analysis.offline import analyze  # noqa: E402

RATE = 48000
MUSIC = ROOT.parent / "shared" / "fixtures" / "music"
LIVE_BLOCK = 256
TARGET_US = 300.0


def load(path: Path, seconds: float | None = None) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if seconds is not None:
        mono = mono[: int(seconds * sr)]
    return soxr.resample(mono, sr, RATE).astype(np.float32)


def test_signal(seconds: float) -> np.ndarray:
    fixtures = sorted(MUSIC.glob("*.ogg")) if MUSIC.is_dir() else []
    if fixtures:
        return load(fixtures[0], seconds)
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    x[:: RATE // 2] += 0.8  # clicks at 120 BPM
    return x


def per_hop_cost(audio: np.ndarray) -> dict[str, float]:
    """Wall-clock and thread CPU time of each hop; on a shared machine the wall clock's tail is
    mostly preemption, the CPU time is what the analysis itself costs."""
    analyzer = AudioAnalyzer(RATE)
    hop = analyzer.hop
    wall: list[float] = []
    cpu: list[float] = []
    for start in range(0, audio.size - hop + 1, hop):
        block = audio[start:start + hop]
        c0, t0 = time.thread_time(), time.perf_counter()
        analyzer.process(block)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    w, c = np.array(wall[100:]) * 1e6, np.array(cpu[100:]) * 1e6  # skip the first second's warm-up
    return {"hop_samples": hop, "hops_timed": int(w.size),
            "wall_median_us": float(np.median(w)), "wall_p99_us": float(np.percentile(w, 99)),
            "wall_max_us": float(w.max()), "wall_mean_us": float(w.mean()),
            "cpu_median_us": float(np.median(c)), "cpu_p99_us": float(np.percentile(c, 99))}


def realtime_factor(audio: np.ndarray) -> float:
    analyzer = AudioAnalyzer(RATE)
    t0 = time.perf_counter()
    for start in range(0, audio.size, LIVE_BLOCK):
        analyzer.process(audio[start:start + LIVE_BLOCK])
    return (time.perf_counter() - t0) / (audio.size / RATE)


def music() -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    if not MUSIC.is_dir():
        return found
    for path in sorted(MUSIC.glob("*.ogg")):
        times, rows = analyze(load(path), RATE)
        bpm, confidence = rows[:, INDEX["bpm"]], rows[:, INDEX["beat_confidence"]]
        second_half = bpm[bpm.size // 2:]
        found[path.stem] = {
            "seconds": round(float(times[-1]), 2),
            "bpm_end": round(float(bpm[-1]), 2),
            "bpm_median_second_half": round(float(np.median(second_half)), 2),
            "confidence_end": round(float(confidence[-1]), 3),
            "confidence_median_second_half": round(float(np.median(confidence[confidence.size // 2:])), 3),
            "beats": int(rows[:, INDEX["beat"]].sum()),
            "onsets": int(rows[:, INDEX["onset"]].sum()),
        }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="audio timed for the cost")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    audio = test_signal(args.seconds)
    cost = per_hop_cost(audio)
    result = {
        "samplerate": RATE,
        "per_hop": {k: round(v, 1) for k, v in cost.items()},
        "realtime_factor": round(realtime_factor(audio), 5),
        "target_us_per_hop": TARGET_US,
        "pass": bool(cost["cpu_median_us"] <= TARGET_US),
        "music": music(),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
