"""Quantised-launch benchmark: where a launched scene is heard, against the grid line it was meant for.

Offline, on the default model (the render graph live play runs too): the output is silent
(`/transport/play 0`), a scene that sets `/transport/play 1` is launched at a random moment with
`/launch/quantize` beat or bar, and the first output sample above -80 dBFS is where the launch is heard
(silence to sound: the one level change whose start is exact; a gain step glides over its parameter's
60 ms smoothing and its start drowns in the model's own level changes). Also given: where the landing
frame starts against the line (the scheduler's own error, before the master's look-ahead and the fade-in
ramp across the first frame). Timing error = where it is heard - the grid line, in samples and ms at 48 kHz. Tempos 97, 120, 133 and 151 BPM; the level returns to quiet (at once) between launches.
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

SILENT = {"/master/agc": False, "/transport/play": False, "/scene/morph_time": 0.0}


def _onset(audio: np.ndarray, start: int) -> int | None:
    """The first sample above -80 dBFS (the master's DC blocker leaves a tail far below that in silence)."""
    nonzero = np.flatnonzero(np.abs(audio[start:]) > 1e-4)
    return None if nonzero.size == 0 else start + int(nonzero[0])


def run(launches: int, seed: int, model: NNModel) -> dict[str, object]:
    rng = random.Random(seed)
    scene, quiet = "play", SILENT
    errors: list[int] = []
    frame_errors: list[int] = []
    missed = 0
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "play.toml").write_text('name = "play"\n[params]\n"/transport/play" = true\n')
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
                step = _onset(audio, asked - rate // 10)
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
            "heard_vs_grid": summary(err), "landing_frame_vs_grid": summary(np.asarray(frame_errors))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launches", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    model = NNModel.load(DEFAULT_MODEL)
    text = json.dumps(run(args.launches, args.seed, model), indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
