"""Render-graph overhead: the render graph as the live decoder thread drives it (frames handed out in
256-sample blocks by `GraphFeed`: the master stage once per frame, the controls after it per block)
against a bare `model.decode` loop on the same latents.

Both run in the same process on one torch thread, alternating, several rounds; medians are reported,
of wall time (the target) and of the thread's CPU time (steadier on a machine shared with other work).
Target: overhead at most 10 % of the bare decode time, with nothing consuming the analysis (the
default); `--analysis` measures the graph with the analysis tap running, as when the visuals, OSC
subscribers or a modulation slot read it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.decoder import GraphFeed  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.params import ParamStore, build_param_table  # noqa: E402
from engine.presets.scenes import load_scene  # noqa: E402
from engine.render.graph import RenderGraph  # noqa: E402


def make_graph(model: NNModel, scene: str, analysis: bool = False, master: bool = True) -> RenderGraph:
    store = ParamStore(build_param_table(model.latent_size or 0))
    store.set_many(load_scene(scene, store).values)
    graph = RenderGraph(model, store, seed=0, master=master)
    graph.analysis.wanted = analysis
    return graph


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds) of `run()`."""
    wall, cpu = time.perf_counter(), time.thread_time()
    run()
    return time.perf_counter() - wall, time.thread_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--frames", type=int, default=400, help="latent frames per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scene", default="Intense", help="a scene with LFOs on, so the controls do real work")
    parser.add_argument("--analysis", action="store_true", help="run the analysis tap, as when something reads it")
    parser.add_argument("--no-master", dest="master", action="store_false",
                        help="leave the master stage out (render --no-master): the graph's own work only")
    parser.add_argument("--block", type=int, default=256,
                        help="finish frames in blocks of this many samples, as live (0: whole frames, as offline before)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    torch.set_num_threads(1)
    model = NNModel.load(args.model)
    model.warm_up()
    graph = make_graph(model, args.scene, args.analysis, args.master)
    latents = []
    for _ in range(args.frames):
        graph.next_frame()
        latents.append(torch.from_numpy(graph.latent).float().reshape(1, -1, 1))
    decode = model.module.decode  # the TorchScript method itself: no wrapper, no checks

    def bare_loop() -> None:
        with torch.inference_mode():
            for z in latents:
                decode(z).numpy()

    def graph_loop() -> None:
        if args.block == 0:
            for _ in range(args.frames):
                graph.next_frame()
            return
        feed = GraphFeed(graph, graph.channels)
        for _ in range(args.frames * graph.frame_samples // args.block):
            feed.take(args.block)

    bare, full = [], []
    for _ in range(args.rounds):
        model.reset()
        bare.append(timed(bare_loop))
        graph = make_graph(model, args.scene, args.analysis, args.master)
        full.append(timed(graph_loop))

    bare_s, full_s = (statistics.median(t[0] for t in runs) for runs in (bare, full))
    bare_cpu, full_cpu = (statistics.median(t[1] for t in runs) for runs in (bare, full))
    per_frame = [f[0] - b[0] for f, b in zip(full, bare, strict=True)]
    audio_seconds = args.frames * graph.frame_seconds
    result = {
        "model": str(args.model),
        "frames": args.frames,
        "rounds": args.rounds,
        "analysis": args.analysis,
        "master": args.master,
        "block": args.block,
        "audio_seconds_per_round": round(audio_seconds, 3),
        "bare_decode_s_median": round(bare_s, 4),
        "render_graph_s_median": round(full_s, 4),
        "overhead_ms_per_frame_median": round(statistics.median(per_frame) / args.frames * 1000, 4),
        "overhead_ratio_median": round(full_s / bare_s - 1.0, 4),
        "overhead_ratio_cpu_median": round(full_cpu / bare_cpu - 1.0, 4),
        "render_x_realtime_median": round(audio_seconds / full_s, 1),
        "target_overhead_ratio": 0.10,
    }
    result["pass"] = result["overhead_ratio_median"] <= result["target_overhead_ratio"]
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
