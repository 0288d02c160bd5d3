"""Live soak under a hostile neighbour: rtmixer's C callback against a plain Python callback.

For each model (the default one and a stand-in as costly as a full-size RAVE v2) and each callback
kind, the engine plays on a JACK dummy server (48 kHz, blocksize 256) for `--minutes` while
 - a Python thread in the engine's process spins on pure-Python work and forces a full garbage
   collection every 10 ms, and
 - a busy process keeps the other core at 100 %;
or, with `--neighbours two-spinners` (issue 10's load), two processes each spin a core in pure Python.
`--costly-ms` sets the stand-in's decode cost per frame (a full-size RAVE v2 export: 17.4 ms idle here,
docs/NN_TILDE_FORMAT.md). Reports underruns, callbacks, decode times and the latency budget (at the end, and its
time-weighted median and range over the run) against nn~'s 2 x 4096 samples,
and the time the host stole from the machine's virtual CPUs (steal_monitor.py) beside the near-misses.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from costly_model import build as build_costly  # noqa: E402
from jack_server import jack_dummy  # noqa: E402
from steal_monitor import StealMonitor  # noqa: E402

from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.session.config import SessionConfig  # noqa: E402
from engine.session.session import LiveSession  # noqa: E402


class HostileThread(threading.Thread):
    """Pure-Python busy work holding the GIL, with a forced full GC every 10 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="hostile")
        self.halt = threading.Event()
        self.collections = 0

    def run(self) -> None:
        junk: list[object] = []
        next_gc = time.perf_counter()
        while not self.halt.is_set():
            junk.append({"k": [i * 1.5 for i in range(50)]})  # garbage with reference cycles to collect
            junk[-1]["self"] = junk[-1]
            if len(junk) > 2000:
                junk.clear()
            if time.perf_counter() >= next_gc:
                gc.collect()
                self.collections += 1
                next_gc += 0.010


def soak(model: Path, python_callback: bool, seconds: float, blocksize: int, lookahead: int | None,
         neighbours: str = "gc-thread", neighbour_nice: int = 0, lookahead_min_ms: float | None = None) -> dict:
    """`neighbours`: "gc-thread" (a GC-forcing thread in the engine's process and one spinning process)
    or "two-spinners" (two processes each spinning a core in pure Python, nothing in the engine's)."""
    engine = LiveSession(SessionConfig(model=model, scene="Intense", samplerate=48000, blocksize=blocksize,
                                   lookahead_blocks=lookahead, lookahead_min_ms=lookahead_min_ms,
                                   python_callback=python_callback, device="system"))
    hostile = HostileThread()
    spinners = 2 if neighbours == "two-spinners" else 1
    nice = ["nice", "-n", str(neighbour_nice)] if neighbour_nice else []
    busy = [subprocess.Popen([*nice, sys.executable, "-c", "while True: pass"]) for _ in range(spinners)]
    steal = StealMonitor()
    try:
        with steal:
            started = time.monotonic()
            engine.start()
            if neighbours == "gc-thread":
                hostile.start()
            engine.run(seconds)
    finally:
        hostile.halt.set()
        for process in busy:
            process.terminate()
        engine.stop()
    report = engine.report()
    if engine.lookahead is not None and engine.lookahead.started is not None:
        started = engine.lookahead.started  # the history's seconds count from here (time.monotonic too)
    report["steal"] = steal_report(steal.since(started), report["lookahead"]["history"] if engine.lookahead else [])
    if engine.lookahead is not None:
        report["latency_over_time"] = latency_over_time(report, engine.config.samplerate)
    report["gc_collections_forced"] = hostile.collections
    report["neighbours"] = neighbours
    report["neighbour_nice"] = neighbour_nice
    return report


def latency_over_time(report: dict, samplerate: int) -> dict:
    """The latency each moment of the soak, from the lookahead's history (the rest of the budget is
    fixed): its time-weighted median and the range it moved in. The figure at the end alone says
    only where the last near-miss or stall left it."""
    breakdown = report["latency_breakdown"]
    fixed = breakdown["total_s"] - breakdown["lookahead_s"]
    history = report["lookahead"]["history"]
    spans = []  # (latency in s, seconds held)
    for change, following in zip(history, [*history[1:], None], strict=True):
        end = following["seconds"] if following else report["seconds"]
        spans.append((fixed + change["frames"] / samplerate, max(0.0, end - change["seconds"])))
    spans.sort()
    held, half = 0.0, sum(s for _, s in spans) / 2
    median = spans[-1][0]
    for latency, span in spans:
        held += span
        if held >= half:
            median = latency
            break
    return {"median_s": round(median, 5), "min_s": round(spans[0][0], 5), "max_s": round(spans[-1][0], 5),
            "from_s": history[0]["seconds"]}  # later than 0 when the history's oldest changes were dropped


def steal_report(events: list[dict], history: list[dict]) -> dict:
    """The host's steals of 30 ms or more, and which of the lookahead's near-misses and underruns came
    within a second after one (a stalled CPU stalls every thread on it). The monitor samples every
    10 ms, so a steal may be logged a little after the decoder saw its near-miss."""
    troubles = [h for h in history if h["reason"].startswith(("near-miss", "underrun"))]
    after_steal = [h for h in troubles if any(-0.05 <= h["seconds"] - e["seconds"] <= 1.0 for e in events)]
    return {"events": events, "events_over_80ms": sum(e["ms"] >= 80 for e in events),
            "troubles": len(troubles), "troubles_within_1s_after_a_steal": len(after_steal)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="per soak (4 soaks in all)")
    parser.add_argument("--blocksize", type=int, default=256)
    parser.add_argument("--lookahead-blocks", type=int, help="default: chosen per model from its decode time")
    parser.add_argument("--lookahead-min-ms", type=float, help="the adaptive lookahead's floor (default 40 ms)")
    parser.add_argument("--models", default="default,costly", help="comma list of: default, costly")
    parser.add_argument("--callbacks", default="rtmixer,python")
    parser.add_argument("--neighbours", choices=("gc-thread", "two-spinners"), default="gc-thread",
                        help="gc-thread: a GC-forcing thread in the engine plus one spinning process; "
                             "two-spinners: two processes each spinning a core in pure Python")
    parser.add_argument("--costly-ms", type=float, default=17.0,
                        help="decode cost of the stand-in per 2048-sample frame on one thread")
    parser.add_argument("--neighbour-nice", type=int, default=0,
                        help="run the spinning processes at this nice value (a diagnosis: the decoder thread is "
                             "real-time where allowed, the engine's other threads are not)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    models = {}
    if "default" in args.models:
        models["default"] = DEFAULT_MODEL
    if "costly" in args.models:
        path, ms, width = build_costly(Path("/tmp/costly_rave_v2_standin.ts"), args.costly_ms)
        models["costly"] = path
        print(f"costly stand-in: {ms:.1f} ms per 2048-sample decode (width {width})", file=sys.stderr)
    results = {}
    with jack_dummy(48000, args.blocksize):
        for kind in args.callbacks.split(","):  # ours first for every model, then the baseline
            for name, path in models.items():
                print(f"soak {name} / {kind}: {args.minutes} min", file=sys.stderr, flush=True)
                r = soak(path, kind == "python", args.minutes * 60, args.blocksize, args.lookahead_blocks,
                         args.neighbours, args.neighbour_nice, args.lookahead_min_ms)
                results[f"{name}/{kind}"] = {k: r[k] for k in (
                    "callbacks", "expected_callbacks", "underruns", "lookahead_blocks", "decode_ms",
                    "model_decode_ms_at_load", "cpu_load", "latency", "latency_breakdown",
                    "nn_tilde_default_latency_s", "seconds", "gc_collections_forced", "neighbours", "neighbour_nice",
                    "lookahead", "latency_over_time", "decoder_priority", "steal") if k in r}
                r2 = results[f"{name}/{kind}"]
                r2["latency_lower_than_nn_tilde"] = r2["latency"] < r2["nn_tilde_default_latency_s"]
                print(json.dumps({f"{name}/{kind}": r2}), file=sys.stderr, flush=True)
    summary = {"minutes_per_soak": args.minutes, "samplerate": 48000, "blocksize": args.blocksize,
               "results": results}
    print(json.dumps(summary, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
