"""OSC benchmark: throughput and message-to-sound latency with the live engine playing on JACK.

The engine plays on a JACK dummy server (48 kHz, blocksize 256; see bench/jack_server.py) with its
OSC server on a free port. Prints one JSON object.

Throughput: a separate process sends `/rave/energy f` datagrams over loopback (a burst as fast as
it can, then a paced run); we count what the server handled per second, what the kernel dropped
(sent - handled) and the engine's underruns during each phase.

Latency, from an OSC message's arrival to the first output sample that reflects it. `--probe gain`
(the default): the gain sits at -60 dB until its output is settled; a client then sends
`/master/gain_db 0`, a control after the model that is read per output block; turned up, it acts
from the next latent frame, where the limiter sees it. `--probe gain_down`: the other way, 0 to
-60 dB, which acts on the next block (engine/render/frame_end.py). `--probe play`: the transport is
stopped (exact silence); a client sends `/transport/play 1`, which acts from the next latent frame,
as every control of the latent does (without their 60 ms smoothing). The decoder's `on_block` hook
(the decoder thread, just before the ring write) finds the first block with a sample above 4x the
settled peak (gain_down: the first block whose peak is under a quarter of the quietest of the 16
settled blocks before). That sample reaches the device after the frames queued ahead of it in the
ring, its index in the block, and the device latency, so
    latency = (block time - arrival time) + (ring frames queued + index) / rate + device latency
where arrival time is the server's receive time (`OscServer.last_packet_at`). The probe goes back to
quiet between trials (not measured). Median and worst over `--trials` messages.

Each message waits a random time (uniform over two latent frames, seeded) before it is sent, so it
arrives at a random point of the decoder's frame clock, as a performer's does. Without it the trials
lock to one phase: a trial starts a fixed time after the previous hit, which came at a frame boundary,
so every message met the same wait for the next frame (session 18's play figures, 46.9-61.2 ms).

The lookahead adapts: `--lookahead-min-ms 10 --settle-seconds 40 --no-throughput` lets it shrink to its
floor before the latency is measured (it shrinks one step per 5 s of steady playback).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from jack_server import jack_dummy  # noqa: E402

from engine.control.osc_codec import encode_message  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.session.config import SessionConfig  # noqa: E402
from engine.session.session import LiveSession  # noqa: E402

SENDER = """
import socket, sys, time
port, count, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
packets = [bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[5])]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.perf_counter()
for i in range(count):
    if rate > 0:
        while time.perf_counter() < start + i / rate:
            pass
    s.sendto(packets[i & 1], ("127.0.0.1", port))
print(time.perf_counter() - start)
"""


def _model() -> Path:
    if DEFAULT_MODEL.exists():
        return DEFAULT_MODEL
    from model_factories import (
        make_new_style_model,  # the stand-in the live tests use until default.ts exists
    )

    return make_new_style_model(Path(tempfile.mkdtemp()), latent_size=8, sr=48000)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def throughput(engine: LiveSession, count: int, rate: float) -> dict[str, float | int]:
    assert engine.osc is not None
    stats = engine.osc.stats
    before, underruns = stats["messages"], engine.output.underruns
    packets = [encode_message("/rave/energy", 0.8).hex(), encode_message("/rave/energy", 1.2).hex()]
    sender = subprocess.Popen([sys.executable, "-c", SENDER, str(engine.osc.port), str(count), str(rate), *packets],
                              stdout=subprocess.PIPE, text=True)
    while stats["messages"] == before and sender.poll() is None:  # time from the first arrival
        time.sleep(0.0005)
    started = time.perf_counter()
    send_seconds = float(sender.communicate(timeout=120)[0])
    last, stable_since = -1, time.perf_counter()
    while time.perf_counter() - stable_since < 0.2:  # until the server has drained its queue
        if stats["messages"] != last:
            last, stable_since = stats["messages"], time.perf_counter()
        time.sleep(0.002)
    handled = stats["messages"] - before
    seconds = stable_since - started
    return {"sent": count, "handled": handled, "dropped_by_kernel": count - handled,
            "send_seconds": round(send_seconds, 3), "handled_per_second": round(handled / seconds, 1),
            "underruns": engine.output.underruns - underruns}


class Detector:
    """Decoder-thread hook: remembers block peaks, and when armed finds the first loud sample."""

    def __init__(self, engine: LiveSession) -> None:
        self.engine = engine
        self.peaks: list[float] = []
        self.threshold = 0.0
        self.armed = False
        self.hit: tuple[float, int, int] | None = None  # (time.time(), ring frames queued, index in block)
        self.falling = False  # look for a block under the threshold instead of a sample over it
        self.event = threading.Event()

    def __call__(self, block: np.ndarray) -> None:
        level = np.abs(block).max(axis=1)
        self.peaks.append(float(level.max()))
        if self.armed and self.falling:
            if level.max() < self.threshold:
                self.hit = (time.time(), self.engine.ring.read_available, 0)
                self.armed = False
                self.event.set()
        elif self.armed:
            over = np.flatnonzero(level > self.threshold)
            if over.size:
                self.hit = (time.time(), self.engine.ring.read_available, int(over[0]))
                self.armed = False
                self.event.set()


# How each probe is settled, then changed by one OSC message.
PROBES = {
    # After the model, read per output block (engine/render/post_controls.py): turned up it acts from
    # the next frame, turned down from the next block (engine/render/frame_end.py).
    "gain": ("/master/gain_db", -60.0, 0.0),
    "gain_down": ("/master/gain_db", 0.0, -60.0),
    # Per latent frame, unsmoothed: the transport's fade in starts at the next frame.
    "play": ("/transport/play", 0, 1),
}
SILENT_THRESHOLD = 1e-4  # a stopped transport is exact silence: the first sample above this is the start


def latency(engine: LiveSession, trials: int, probe: str = "gain") -> dict[str, object]:
    assert engine.osc is not None
    address, quiet_value, loud_value = PROBES[probe]
    before = engine.store.get(address)  # put back after: the next probe must not play 60 dB down
    falling = loud_value < quiet_value  # gain_down: look for the level to drop
    detector = Detector(engine)
    engine.decoder.on_block = detector
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rate = engine.samplerate
    results: list[float] = []
    misses = 0
    rng = np.random.default_rng(0)
    frame_seconds = engine.decoder.graph.frame_seconds
    for _ in range(trials):
        engine.hub.set(address, quiet_value)
        time.sleep(0.25)  # smoothing (60 ms) plus the queued audio, then settled
        time.sleep(rng.uniform(0.0, 2.0 * frame_seconds))  # the message lands at a random phase of the frame clock
        detector.peaks.clear()
        time.sleep(0.05)
        quiet = max(detector.peaks[-8:], default=0.0)
        settled_low = min(detector.peaks[-16:], default=0.0)
        if (settled_low if falling else quiet) <= 0.0 and probe != "play":
            misses += 1  # silent model output: nothing to detect
            continue
        detector.threshold = settled_low / 4.0 if falling else max(4.0 * quiet, SILENT_THRESHOLD)
        detector.falling = falling
        detector.hit, detector.armed = None, True
        detector.event.clear()
        client.sendto(encode_message(address, loud_value), ("127.0.0.1", engine.osc.port))
        if not detector.event.wait(1.0) or detector.hit is None:
            misses += 1
            detector.armed = False
            continue
        at, queued, index = detector.hit
        arrival = engine.osc.last_packet_at
        results.append(at - arrival + (queued + index) / rate + engine.output.device_latency)
    engine.decoder.on_block = None
    engine.hub.set(address, before)
    time.sleep(0.25)  # heard again before the next probe settles
    client.close()
    results_in_order = [r * 1000 for r in results]  # to see when an outlier came
    ms = sorted(results_in_order)
    return {"probe": address, "trials": trials, "measured": len(ms), "misses": misses,
            "median_ms": round(statistics.median(ms), 2) if ms else None,
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2) if ms else None,
            "worst_ms": round(ms[-1], 2) if ms else None, "best_ms": round(ms[0], 2) if ms else None,
            "trials_ms": [round(m, 1) for m in results_in_order],
            "latency_budget_ms": {k: round(v * 1000, 2) for k, v in engine.latency_breakdown().items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200, help="latency messages (default 200)")
    parser.add_argument("--burst", type=int, default=20000, help="messages in the throughput burst")
    parser.add_argument("--paced-rate", type=float, default=2000.0, help="messages per second in the paced run")
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    parser.add_argument("--lookahead-min-ms", type=float, help="floor of the adaptive lookahead (default 40)")
    parser.add_argument("--settle-seconds", type=float, default=0.5,
                        help="play this long before measuring (the adaptive lookahead shrinks while steady)")
    parser.add_argument("--no-throughput", action="store_true", help="measure the latency only")
    parser.add_argument("--probe", choices=sorted(PROBES), nargs="+", default=["gain"],
                        help="controls to time: gain (/master/gain_db up, acts per latent frame), gain_down "
                             "(down, acts per block), play (/transport/play, acts per latent frame)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    with jack_dummy():
        engine = LiveSession(SessionConfig(model=_model(), samplerate=48000, blocksize=256, device="system",
                                       osc_port=_free_port(), lookahead_min_ms=args.lookahead_min_ms))
        engine.start()
        try:
            engine.run(args.settle_seconds)
            result: dict[str, object] = {} if args.no_throughput else {
                "burst": throughput(engine, args.burst, 0.0),
                "paced": throughput(engine, int(args.paced_rate * args.paced_seconds), args.paced_rate),
            }
            for probe in args.probe:
                result["latency" if probe == "gain" else f"latency_{probe}"] = latency(engine, args.trials, probe)
        finally:
            engine.stop()
    report = engine.report()
    assert engine.osc is not None
    result.update({"underruns_total": report["underruns"], "callbacks": report["callbacks"],
                   "seconds": report["seconds"], "lookahead_blocks": report["lookahead_blocks"],
                   "osc_stats": engine.osc.stats, "model": report["model"], "lookahead": report["lookahead"],
                   "decode_setting": report["decode_setting"]})
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)


if __name__ == "__main__":
    main()
