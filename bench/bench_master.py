"""The master stage: its CPU cost per frame, and the loudness and true peak it delivers per model.

Cost: `MasterStage.process` on 2048-sample frames at 48 kHz (mono and stereo), in three regimes:
levelled audio that never reaches the ceiling, audio the limiter works on all the time, and the
leveller off. Medians and 99th percentiles of this thread's CPU time (steadier than wall time on a
shared machine) over `--frames` frames.

Pumping: the music in ../shared/fixtures/music through the stage: how far the levelling gain moves
around its own 2 s average (what a listener could hear as the level breathing with the beat).

Levels: `render --seconds 20 --scene Balanced` (the README's first command) for `--seeds` seeds of the
default model, and random-weight RAVE-shaped decoders (tests/random_decoders.py) from -50 to 0 dBFS:
integrated loudness (BS.1770-4), true peak (scipy's resample_poly, 4x: independent of the engine's
interpolator), the limiter's largest reduction, and the model's own loudness with `/master/agc 0`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.dsp.loudness import integrated_loudness  # noqa: E402
from engine.io.audio_files import read_audio  # noqa: E402
from engine.master.stage import MasterStage  # noqa: E402
from engine.render.offline import RenderRequest, render  # noqa: E402
from tests.random_decoders import make_random_decoder  # noqa: E402

RATE = 48000
FRAME = 2048
MUSIC = ROOT.parent / "shared" / "fixtures" / "music"
DECODERS = [(0, 0.01, 1, 48000), (1, 0.05, 2, 44100), (2, 1.0, 1, 48000), (3, 0.3, 2, 48000), (4, 0.003, 1, 48000)]


def stage_cost(channels: int, level: float, agc: bool, frames: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    t = np.arange(frames * FRAME) / RATE
    swell = (1.0 + 0.8 * np.sin(2 * np.pi * 0.5 * t))[:, None]  # the leveller has something to follow
    audio = (level * swell * rng.standard_normal((t.size, channels))).astype(np.float32)
    stage = MasterStage(RATE, channels)
    times = []
    for i in range(frames):
        block = audio[i * FRAME: (i + 1) * FRAME]
        started = time.thread_time()
        stage.process(block, loudness_lufs=-16.0, agc=agc, ceiling_db=-1.0, trim_db=0.0)
        times.append(time.thread_time() - started)
    times = times[10:]  # caches and first-call allocations
    return {"median_ms": round(statistics.median(times) * 1000, 3),
            "p99_ms": round(float(np.percentile(times, 99)) * 1000, 3),
            "gain_reduction_db_last": round(stage.meters.gain_reduction_db, 2)}


def pumping(path: Path) -> dict[str, float]:
    """Music through the stage (levelling on): how far the levelling gain strays from its own 2 s
    average after the first 5 s (the beat-scale movement a listener could hear as pumping)."""
    audio, rate = read_audio(path)
    audio = (audio if audio.ndim == 2 else audio[:, None]).astype(np.float32)
    stage = MasterStage(rate, audio.shape[1])
    gains, out = [], []
    for i in range(0, audio.shape[0] - FRAME, FRAME):
        out.append(stage.process(audio[i: i + FRAME], loudness_lufs=-16.0, agc=True, ceiling_db=-1.0, trim_db=0.0))
        gains.append(stage.meters.levelling_gain_db)
    g = np.array(gains)[int(5 * rate / FRAME):]
    k = int(2 * rate / FRAME)
    wobble = (g - np.convolve(g, np.ones(k) / k, mode="same"))[k:-k]
    return {"input_lufs": round(integrated_loudness(audio, rate), 2),
            "output_lufs": round(integrated_loudness(np.concatenate(out), rate), 2),
            "gain_wobble_std_db": round(float(wobble.std()), 2),
            "gain_wobble_peak_to_peak_db": round(float(wobble.max() - wobble.min()), 2)}


def levels(audio: np.ndarray, rate: int, stats: dict[str, float]) -> dict[str, float]:
    return {"integrated_lufs": round(integrated_loudness(audio, rate), 2),
            "true_peak_dbtp": round(float(20 * np.log10(np.abs(signal.resample_poly(audio, 4, 1, axis=0)).max())), 2),
            "max_gain_reduction_db": round(stats["max_gain_reduction_db"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cost-only", action="store_true", help="skip the renders")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    cost = {}
    for channels in (1, 2):
        cost[f"{channels}ch_levelled"] = stage_cost(channels, 0.05, True, args.frames)
        cost[f"{channels}ch_limiting"] = stage_cost(channels, 0.5, False, args.frames)
        cost[f"{channels}ch_agc_off_quiet"] = stage_cost(channels, 0.05, False, args.frames)
    result: dict[str, object] = {"frame_samples": FRAME, "rate": RATE, "cost": cost}
    result["pumping"] = {p.stem: pumping(p) for p in sorted(MUSIC.glob("*.ogg"))}
    print(json.dumps(result), flush=True)
    if args.cost_only:
        return
    default = {}
    for seed in range(args.seeds):
        r = render(RenderRequest(seconds=args.seconds, scene="Balanced", seed=seed, progress=False))
        default[f"seed{seed}"] = levels(r.audio, r.rate, r.stats)
    result["default_model_balanced"] = default
    decoders = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed, level, channels, sr in DECODERS:
            model = make_random_decoder(Path(tmp), seed=seed, level=level, channels=channels, sr=sr)
            r = render(RenderRequest(seconds=args.seconds, model=model, seed=seed, samplerate=RATE, progress=False))
            raw = render(RenderRequest(seconds=args.seconds, model=model, seed=seed, samplerate=RATE, progress=False,
                                       sets=["/master/agc=0"]))
            decoders[f"s{seed}_level{level}_{channels}ch_{sr}"] = {
                **levels(r.audio, r.rate, r.stats), "agc_off_lufs": round(integrated_loudness(raw.audio, RATE), 2)}
    result["random_decoders"] = decoders
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
