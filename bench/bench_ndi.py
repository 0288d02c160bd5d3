"""NDI out at 512x512: frames per second and the latency it adds, offer to a local NDI receiver.

The sender is the engine's own `NdiOut` (engine/visual/outputs/ndi_out.py) in this process; the
receiver is a second process on the same machine (`--receiver`, started by this script), found at
127.0.0.1 without mDNS, asking for frames as NDI's default UYVY (what VJ software takes). Both
note times on CLOCK_MONOTONIC, which Linux shares between processes, so the latency of each frame
is (received at) - (offered at); the frame is known by its timecode, which carries a unique
audio time per frame. Frames are moving gradients with noise, so SpeedHQ has real work to do.

Phases, each after a warm-up second:
- paced at 30 and at 60 fps (a generator's rates): latency median / p95, frames received per second;
- flood: offered at 1 kHz, the mailbox keeping only the newest: the most frames a second NDI takes.
Also the generator's side: the cost of one `offer` call (median, microseconds), and the sender
thread's CPU time per frame for fit + send (thread CPU time: what a loaded machine does not blur).

`--live-seconds S` (default 10; 0 leaves it out) then plays the engine itself (default model, scene
Intense, JACK dummy server at 48 kHz / 256) with `live --ndi` at 512x512 (cppn generator at 512x512,
/visual/fps 30) for S seconds and reports the frames the generator made, the frames the receiver got
per second, the audio's underruns, and the delay from a frame's audio being heard (its timecode, on
the engine's audio clock) to the frame arriving at the receiver: render + fan-out + NDI, end to end.
Prints JSON; `--json-out` writes it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.visual.outputs.ndi_out import TIMECODE_UNITS_PER_SECOND, NdiOut  # noqa: E402

SIZE = (512, 512)
PHASE_STRIDE_S = 1000.0  # audio time of phase k starts at k * 1000 s: timecodes never collide
FRAMES = 32  # distinct frames cycled through


def frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    width, height = size
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for i in range(count):
        phase = 2 * np.pi * i / count
        rgb = np.stack([127 + 120 * np.sin(x / 37 + phase), 127 + 120 * np.sin(y / 23 - phase),
                        127 + 120 * np.sin((x + y) / 51 + 2 * phase)], axis=-1)
        rgb += rng.normal(0, 12, rgb.shape)
        out.append(np.clip(rgb, 0, 255).astype(np.uint8))
    return out


def receive(name: str, seconds: float, out: Path) -> None:
    """The receiver process: (timecode, received at) of every video frame for `seconds`, to `out`."""
    import NDIlib as ndi

    assert ndi.initialize()
    settings = ndi.FindCreate()
    settings.show_local_sources, settings.extra_ips = True, "127.0.0.1"
    finder = ndi.find_create_v2(settings)
    source = None
    deadline = time.monotonic() + 30
    while source is None and time.monotonic() < deadline:
        ndi.find_wait_for_sources(finder, 200)
        source = next((s for s in ndi.find_get_current_sources(finder) if str(s.ndi_name).endswith(f"({name})")), None)
    if source is None:
        raise SystemExit(f"no NDI source {name!r} at 127.0.0.1")
    recv = ndi.recv_create_v3(ndi.RecvCreateV3())
    ndi.recv_connect(recv, source)
    got: list[tuple[int, float]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        kind, video, _, _ = ndi.recv_capture_v2(recv, 100)
        if kind == ndi.FRAME_TYPE_VIDEO:
            got.append((int(video.timecode), time.monotonic()))
            ndi.recv_free_video_v2(recv, video)
    ndi.recv_destroy(recv)
    out.write_text(json.dumps(got))


def run_phase(out: NdiOut, images: list[np.ndarray], phase: int, fps: float, seconds: float,
              offers: dict[int, float], offer_us: list[float]) -> tuple[float, float]:
    """Offer at `fps` for `seconds`; returns the phase's (start, end) on the monotonic clock."""
    period = 1.0 / fps
    start = time.monotonic()
    i = 0
    while (now := time.monotonic()) < start + seconds:
        audio_time_s = phase * PHASE_STRIDE_S + i * period
        t0 = time.perf_counter()
        out.offer(images[i % len(images)], audio_time_s)
        offer_us.append((time.perf_counter() - t0) * 1e6)
        offers[round(audio_time_s * TIMECODE_UNITS_PER_SECOND)] = now
        i += 1
        time.sleep(max(0.0, start + i * period - time.monotonic()))
    return start, time.monotonic()


def summarize(received: list[tuple[int, float]], offers: dict[int, float], span: tuple[float, float],
              offered_fps: float) -> dict[str, object]:
    start, end = span
    mine = [(tc, at) for tc, at in received if tc in offers and start <= offers[tc] < end]
    latencies = sorted((at - offers[tc]) * 1000 for tc, at in mine)
    windows = [sum(1 for _, at in mine if s <= at < s + 1.0) for s in np.arange(start, end - 1.0 + 1e-9, 1.0)]
    offered = sum(1 for at in offers.values() if start <= at < end)
    return {"offered_fps": offered_fps, "offered_fps_actual": round(offered / (end - start), 1),
            "received": len(mine),
            "received_fps_median": statistics.median(windows) if windows else 0.0,
            "latency_ms_median": round(statistics.median(latencies), 2) if latencies else None,
            "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None}


def live(seconds: float) -> dict[str, object]:
    """The engine playing with `--ndi` at 512x512, a receiver process beside it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from jack_server import jack_dummy

    from engine.session.config import SessionConfig
    from engine.session.session import LiveSession

    name = f"rave-bench-live-{time.monotonic_ns() % 10**8}"
    result_file = Path(f"/tmp/{name}.json")
    with jack_dummy():
        engine = LiveSession(SessionConfig(scene="Intense", samplerate=48000, blocksize=256, device="system",
                                           osc_port=None, visuals=True, visual_size=SIZE, ndi=name, ndi_size=SIZE,
                                           sets=["/visual/fps=30"]))
        receiver = None
        clock: list[float] = []  # timeline seconds minus monotonic seconds, sampled while playing
        try:
            engine.start()
            assert engine.visuals is not None and engine.visuals.outputs is not None
            engine.visuals.host.wait_ready(120)
            receiver = subprocess.Popen([sys.executable, __file__, "--receiver", name, str(seconds + 4),
                                         str(result_file)])
            frames_before = engine.visuals.host.state.visual_frames
            started = time.monotonic()
            while time.monotonic() < started + seconds + 4:
                engine.run(0.5)
                clock.append(engine.audio_time(time.time()) - time.monotonic())
            frames_made = engine.visuals.host.state.visual_frames - frames_before
            receiver.wait(timeout=60)
        finally:
            if receiver is not None and receiver.poll() is None:
                receiver.kill()
            engine.stop()
    report = engine.report()
    received = json.loads(result_file.read_text()) if result_file.exists() else []
    result_file.unlink(missing_ok=True)
    offset = statistics.median(clock)
    delays = sorted((at - (tc / TIMECODE_UNITS_PER_SECOND - offset)) * 1000 for tc, at in received[10:])
    span = (received[-1][1] - received[10][1]) if len(received) > 11 else 0.0
    outputs = (report["visuals"] or {}).get("outputs", [{}])  # type: ignore[union-attr]
    return {"seconds": seconds, "generator_frames_per_s": round(frames_made / (seconds + 4), 1),
            "ndi_received_per_s": round((len(received) - 11) / span, 1) if span else 0.0,
            "heard_to_received_ms_median": round(statistics.median(delays), 1) if delays else None,
            "heard_to_received_ms_p95": round(delays[int(0.95 * (len(delays) - 1))], 1) if delays else None,
            "underruns": report["underruns"], "callbacks": report["callbacks"],
            "sender": {k: outputs[0].get(k) for k in ("sent", "dropped", "errors", "send_cpu_ms_mean")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per phase (default 6)")
    parser.add_argument("--live-seconds", type=float, default=10.0,
                        help="then the engine with --ndi for this long (default 10; 0: leave it out)")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--receiver", nargs=3, metavar=("NAME", "SECONDS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receive(args.receiver[0], float(args.receiver[1]), Path(args.receiver[2]))
        return 0

    images = frames(FRAMES, SIZE)
    name = f"rave-bench-{time.monotonic_ns() % 10**8}"
    out = NdiOut(name, SIZE)
    plan = [(30.0, args.seconds), (60.0, args.seconds), (1000.0, args.seconds)]
    total = 3.0 + sum(1.0 + s for _, s in plan) + 2.0
    result_file = Path(f"/tmp/{name}.json")
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", name, str(total), str(result_file)])
    deadline = time.monotonic() + 30
    while out.sink.connections() < 1:  # type: ignore[attr-defined]
        if time.monotonic() > deadline or receiver.poll() is not None:
            raise SystemExit("the NDI receiver never connected")
        out.offer(images[0], 0.0)
        time.sleep(0.05)
    offers: dict[int, float] = {}
    spans = []
    offer_us: list[float] = []
    send_cpu_ms: list[float] = []
    for phase, (fps, seconds) in enumerate(plan, start=1):
        run_phase(out, images, 100 + phase, fps, 1.0, {}, [])  # warm-up, not counted
        sent_before, cpu_before = out.sent, out.send_cpu_ms_total
        spans.append(run_phase(out, images, phase, fps, seconds, offers, offer_us))
        send_cpu_ms.append((out.send_cpu_ms_total - cpu_before) / max(1, out.sent - sent_before))
        print(f"phase {fps:g} fps: sent {out.sent - sent_before}, dropped so far {out.dropped}", file=sys.stderr)
    receiver.wait(timeout=total + 30)
    out.close()
    received = [tuple(r) for r in json.loads(result_file.read_text())]
    result_file.unlink()
    summary = {
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "paced_30fps": summarize(received, offers, spans[0], 30.0),
        "paced_60fps": summarize(received, offers, spans[1], 60.0),
        "flood": summarize(received, offers, spans[2], 1000.0),
        "offer_call_us_median": round(statistics.median(offer_us), 1),
        "sender_cpu_ms_per_frame": [round(v, 2) for v in send_cpu_ms],  # fit + NDI send, per phase
        "note": "CLOCK_MONOTONIC across two processes on one machine; flood: offered at 1 kHz, the mailbox keeps the newest",
    }
    if args.live_seconds > 0:
        summary["live"] = live(args.live_seconds)
    print(json.dumps(summary, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
