"""Audio-visual sync on real music: do the images change when the music does?

For each music fixture, render the first `--seconds` with the `cppn` generator and a theme, and
correlate the analysis's onset-strength envelope with the frame-to-frame change of the video
(Pearson, per frame). Baseline, same run: the same generator driven by features taken from
several offsets (`--shifts`, seconds, circularly; the mean is reported), so the images move just as much but not with
the music. A score well above the baseline means the motion follows the sound.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.analysis.features import INDEX  # noqa: E402
from engine.analysis.offline import analyze  # noqa: E402
from engine.io.audio_files import read_audio  # noqa: E402
from engine.visual.offline_render import VisualRenderRequest, render_visuals  # noqa: E402

MUSIC = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "music"


def envelope_at_frames(audio_path: Path, seconds: float, fps: float, frames: int) -> np.ndarray:
    """The true onset-strength envelope, sampled at each video frame's time."""
    audio, rate = read_audio(audio_path)
    times, rows = analyze(audio[: int(seconds * rate)], rate)
    at = np.searchsorted(times, np.arange(frames) / fps, side="right") - 1
    return rows[np.clip(at, 0, len(rows) - 1), INDEX["onset_strength"]]


def score(audio: Path, seconds: float, theme: str, size: int, shifts: list[float], fps: float = 30.0) -> dict:
    def render(shift_seconds: float):  # noqa: ANN202
        return render_visuals(VisualRenderRequest(audio=audio, out=None, seconds=seconds, theme=theme, width=size,
                                                  height=size, fps=fps, feature_shift_seconds=shift_seconds,
                                                  progress=False))

    aligned = render(0.0)
    envelope = envelope_at_frames(audio, seconds, fps, aligned.frames)[1:]
    baseline = [float(np.corrcoef(envelope, render(shift).frame_change[1:])[0, 1]) for shift in shifts]
    return {"audio": audio.name, "theme": theme, "seconds": seconds, "size": size,
            "sync_correlation": round(float(np.corrcoef(envelope, aligned.frame_change[1:])[0, 1]), 3),
            "shifted_baseline_correlation": round(float(np.mean(baseline)), 3),
            "shifted_each": [round(b, 3) for b in baseline], "shift_seconds": shifts,
            "render_fps": round(aligned.frames / aligned.wall_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    # Several shifts, none a whole number of beats at common tempi: one shift of exactly 8 beats would
    # line the motion up with the music again and flatter the baseline.
    parser.add_argument("--shifts", type=float, nargs="+", default=[1.3, 2.9, 4.1, 5.3])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--themes", nargs="+", default=["nebula", "strobe"])
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if not MUSIC.is_dir():
        raise SystemExit(f"{MUSIC} is not here (../shared beside the checkout)")
    results = [score(path, args.seconds, theme, args.size, args.shifts)
               for path in sorted(MUSIC.glob("*.ogg")) for theme in args.themes]
    for r in results:
        print(json.dumps(r), file=sys.stderr)
    summary = {"benchmark": "av_sync", "results": results,
               "median_sync": float(np.median([r["sync_correlation"] for r in results])),
               "median_shifted": float(np.median([r["shifted_baseline_correlation"] for r in results]))}
    print(json.dumps(summary, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
