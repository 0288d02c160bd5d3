"""Quantised-launch benchmark: where a launched scene is heard, against the grid line it was meant for.

Offline, on the default model (the render graph live play runs too), two measures over the same
launches, each a scene launched at a random moment with `/launch/quantize` beat or bar:
- `onset`: the output is silent (`/transport/play 0`) and the scene sets `/transport/play 1`; the first
  output sample above -80 dBFS is where the launch is heard;
- `level_step`: the level sits at -60 dB (`/master/agc 0`) and the scene sets `/master/gain_db 0`; the
  step is the first 32-sample hop 10 dB above the quiet part's loudest (the gain then glides up over
  /master/gain_db's 60 ms smoothing, so this one is later by the glide's first stretch).
Timing error = where it is heard - the grid line, in samples and ms at 48 kHz. Tempos 97, 120, 133 and 151 BPM; the level returns to quiet (at once) between launches.
What to expect: a launch lands on the latent frame whose start is nearest its line (2048 samples a
frame), so the error is spread over about +-1024 samples, plus the master's 3 ms look-ahead.
Printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.control.hub import ControlHub  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.params.store import ParamStore  # noqa: E402
from engine.params.table import build_param_table  # noqa: E402
from engine.render.graph import RenderGraph  # noqa: E402

HOP = 32
QUIET = {"/master/agc": False, "/master/gain_db": -60.0, "/scene/morph_time": 0.0}
SILENT = {"/master/agc": False, "/transport/play": False, "/scene/morph_time": 0.0}
SCENES = {"level_step": ("loud", QUIET, '"/master/gain_db" = 0.0'), "onset": ("play", SILENT, '"/transport/play" = true')}


def _step(audio: np.ndarray, quiet_from: int, quiet_to: int) -> int | None:
    """The first sample of the first hop after `quiet_to` louder by 10 dB than any hop of the quiet part
    (`quiet_from`..`quiet_to`): where the step begins (the gain then rises over /master/gain_db's 60 ms
    smoothing)."""
    x = audio[quiet_from:]
    hops = x[: x.size // HOP * HOP].reshape(-1, HOP)
    level = 20 * np.log10(np.sqrt((hops ** 2).mean(axis=1)) + 1e-12)
    n_quiet = (quiet_to - quiet_from) // HOP
    above = np.flatnonzero(level[n_quiet:] > level[:n_quiet].max() + 10.0)
    return None if above.size == 0 else quiet_from + (n_quiet + int(above[0])) * HOP


def _onset(audio: np.ndarray, start: int) -> int | None:
    """The first sample above -80 dBFS (the master's DC blocker leaves a tail far below that in silence)."""
    nonzero = np.flatnonzero(np.abs(audio[start:]) > 1e-4)
    return None if nonzero.size == 0 else start + int(nonzero[0])


def run(launches: int, seed: int, measure: str, model: NNModel) -> dict[str, object]:
    rng = random.Random(seed)
    scene, quiet, line = SCENES[measure]
    errors: list[int] = []
    frame_errors: list[int] = []
    missed = 0
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, f"{scene}.toml").write_text(f'name = "{scene}"\n[params]\n{line}\n')
        tempos = (97.0, 120.0, 133.0, 151.0)
        for bpm in tempos:
            store = ParamStore(build_param_table(model.latent_size or 1))
            store.set_many({**quiet, "/tempo/bpm": bpm})
            graph = RenderGraph(model, store, seed=seed, output_rate=48000)
            hub = ControlHub(store, timeline=lambda g=graph: g.timeline, scenes_dir=Path(folder))
            rate = graph.output_rate
            frames: list[np.ndarray] = []

            def render_until(seconds: float, graph: RenderGraph = graph, frames: list[np.ndarray] = frames) -> None:
                while graph.time_seconds < seconds:
                    frames.append(graph.next_frame()[:, 0].copy())

            for _ in range(launches // len(tempos)):
                store.set_many(quiet)
                render_until(graph.time_seconds + 0.6)
                quantize = rng.choice(("beat", "bar"))
                render_until(graph.time_seconds + rng.uniform(0.0, (1 if quantize == "beat" else 4) * 60.0 / bpm))
                asked = sum(f.size for f in frames)
                hub.recall_scene(scene, quantize=quantize)
                while graph.timeline.launches.pending:
                    render_until(graph.time_seconds + graph.frame_seconds)
                render_until(graph.time_seconds + 0.3)
                landed = graph.timeline.launches.landed[-1]
                audio = np.concatenate(frames)
                step = (_onset(audio, asked - rate // 10) if measure == "onset"
                        else _step(audio, asked - rate // 5, asked - rate // 10))
                if step is None:
                    missed += 1
                    continue
                errors.append(step - round(landed.grid_seconds * rate))
                frame_errors.append(round((landed.seconds - landed.grid_seconds) * rate))
    err = np.asarray(errors)
    to_ms = 1000.0 / 48000

    def summary(values: np.ndarray) -> dict[str, float]:
        return {"median_samples": float(np.median(values)), "median_abs_samples": float(np.median(np.abs(values))),
                "worst_abs_samples": int(np.abs(values).max()),
                "median_abs_ms": round(float(np.median(np.abs(values))) * to_ms, 3),
                "worst_abs_ms": round(float(np.abs(values).max()) * to_ms, 3)}

    return {"launches": len(errors), "missed": missed, "frame_samples": 2048, "rate": 48000,
            "audio_step_vs_grid": summary(err), "landing_frame_vs_grid": summary(np.asarray(frame_errors))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launches", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    model = NNModel.load(DEFAULT_MODEL)
    result = {measure: run(args.launches, args.seed, measure, model) for measure in SCENES}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
