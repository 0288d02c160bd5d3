"""OSC reply latency for a well-behaved client while another client floods the engine with bad packets.

The engine runs as `run_engine.py live` on a JACK dummy server (48 kHz, blocksize 256; see
bench/jack_server.py) with its stdout and stderr on pipes nobody reads while it plays, as when it
is started detached. A good client sends `/engine/get /rave/energy` every 20 ms and times the
round trip: first for `--baseline-seconds` with no other traffic, then for `--flood-seconds`
while a second process sends bad datagrams (tests/osc_junk.py: random bytes, truncated
messages, unknown type tags, NaN, unknown addresses, oversized strings and blobs, deep bundles,
wildcards) at `--paced-rate` a second (below what the engine handles), then again as fast as it
can. A request with no reply within a second is counted as lost: over UDP the kernel drops what
arrives while the engine's receive buffer is full, the good client's datagrams among them, so
under the saturating flood most requests are lost before the engine sees them. Prints a text summary and, with `--json FILE`, writes the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from jack_server import jack_dummy  # noqa: E402
from pythonosc.osc_message import OscMessage  # noqa: E402

from engine.control.osc_codec import encode_message  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402

FLOODER = """
import socket, sys, time
sys.path.insert(0, sys.argv[4])
from osc_junk import bad_packets
port, seconds, rate = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
packets = bad_packets(20000, seed=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("flooding", flush=True)
sent, start = 0, time.monotonic()
while time.monotonic() < start + seconds:
    for packet in packets[sent % len(packets):][:50]:
        s.sendto(packet, ("127.0.0.1", port))
    sent += 50
    if rate > 0:
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
print(sent, flush=True)
"""
QUERY = encode_message("/engine/get", "/rave/energy")
PERIOD = 0.02
TIMEOUT = 1.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _round_trip(sock: socket.socket, port: int) -> float | None:
    """Seconds from `/engine/get /rave/energy` to its reply; None when none came within TIMEOUT."""
    sock.setblocking(False)
    try:
        while True:
            sock.recv(65536)  # a reply that came after its request was given up
    except BlockingIOError:
        pass
    sock.setblocking(True)
    started = time.perf_counter()
    sock.sendto(QUERY, ("127.0.0.1", port))
    while True:
        left = started + TIMEOUT - time.perf_counter()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return None
        if OscMessage(data).address == "/rave/energy":
            return time.perf_counter() - started


def measure(sock: socket.socket, port: int, seconds: float) -> dict[str, Any]:
    times: list[float] = []
    lost = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rtt = _round_trip(sock, port)
        if rtt is None:
            lost += 1
        else:
            times.append(rtt * 1000)
        time.sleep(PERIOD)
    times.sort()
    return {"requests": len(times) + lost, "answered": len(times), "lost": lost,
            "median_ms": round(statistics.median(times), 3) if times else None,
            "p99_ms": round(times[int(0.99 * (len(times) - 1))], 3) if len(times) >= 100 else None,
            "worst_ms": round(times[-1], 3) if times else None}


def flooded(sock: socket.socket, port: int, seconds: float, rate: float) -> dict[str, Any]:
    """`measure` while a flooder process sends bad packets at `rate` a second (0: as fast as it can)."""
    flooder = subprocess.Popen([sys.executable, "-c", FLOODER, str(port), str(seconds), str(rate), str(ROOT / "tests")],
                               stdout=subprocess.PIPE, text=True)
    assert flooder.stdout is not None
    flooder.stdout.readline()  # "flooding": its packets are built
    errors_before = _status(sock, port)[4]
    result = measure(sock, port, seconds)
    result["packets_sent"] = int(flooder.communicate(timeout=30)[0])
    result["packets_per_second_sent"] = round(result["packets_sent"] / seconds)
    result["bad_messages_handled"] = _status(sock, port)[4] - errors_before
    return result


def _status(sock: socket.socket, port: int) -> list[Any]:
    for _ in range(20):
        sock.sendto(encode_message("/engine/status"), ("127.0.0.1", port))
        sock.settimeout(0.25)
        try:
            message = OscMessage(sock.recv(65536))
        except TimeoutError:
            continue
        if message.address == "/engine/status/reply":
            return list(message.params)
    raise SystemExit("the engine did not answer /engine/status")


def _model() -> Path:
    if DEFAULT_MODEL.exists():
        return DEFAULT_MODEL
    from model_factories import make_new_style_model  # the stand-in the live tests use

    return make_new_style_model(Path(tempfile.mkdtemp()), latent_size=8, sr=48000)


def run(baseline_seconds: float, flood_seconds: float, paced_rate: float) -> dict[str, Any]:
    port = _free_port()
    report_path = Path(tempfile.mkdtemp()) / "report.json"
    engine_seconds = baseline_seconds + 2 * flood_seconds + 12
    engine = subprocess.Popen(
        [sys.executable, "run_engine.py", "live", "--device", "system", "--samplerate", "48000", "--seconds",
         str(engine_seconds), "--osc-port", str(port), "--model", str(_model()), "--report", str(report_path)],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # unread while it plays
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        deadline = time.monotonic() + 20
        while _round_trip(sock, port) is None:
            if time.monotonic() > deadline or engine.poll() is not None:
                raise SystemExit(f"the engine did not answer OSC (exit {engine.poll()})")
        phases = {"baseline": measure(sock, port, baseline_seconds),
                  "paced_flood": flooded(sock, port, flood_seconds, paced_rate),
                  "saturating_flood": flooded(sock, port, flood_seconds, 0.0),
                  "after_flood": measure(sock, port, 2.0)}
        engine.wait(timeout=engine_seconds + 30)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        sock.close()
    report = json.loads(report_path.read_text())
    log = engine.stderr.read() if engine.stderr else b""
    return {**phases, "engine_exit": engine.returncode,
            "underruns": report["underruns"], "callbacks": report["callbacks"], "log_bytes": len(log),
            "log_lines": log.count(b"\n"), "model": report["model"]}


def _text(result: dict[str, Any]) -> str:
    lines = []
    for phase in ("baseline", "paced_flood", "saturating_flood", "after_flood"):
        r = result[phase]
        lines.append(f"{phase:17} /engine/get round trip: median {r['median_ms']} ms, p99 {r['p99_ms']} ms, "
                     f"worst {r['worst_ms']} ms ({r['answered']}/{r['requests']} answered, {r['lost']} lost)")
        if "packets_sent" in r:
            lines.append(f"{'':17} {r['packets_sent']:,} bad packets sent ({r['packets_per_second_sent']:,}/s), "
                         f"{r['bad_messages_handled']:,} bad messages handled by the engine")
    lines.append(f"engine: exit {result['engine_exit']}, {result['underruns']} underruns in {result['callbacks']} "
                 f"callbacks; {result['log_lines']} log lines ({result['log_bytes']:,} bytes) on its stderr")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-seconds", type=float, default=6.0)
    parser.add_argument("--flood-seconds", type=float, default=8.0, help="each of the two floods")
    parser.add_argument("--paced-rate", type=float, default=5000.0, help="bad packets a second in the paced flood")
    parser.add_argument("--json-out", type=Path, metavar="FILE", help="also write the result as JSON")
    args = parser.parse_args()
    with jack_dummy():
        result = run(args.baseline_seconds, args.flood_seconds, args.paced_rate)
    print(_text(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
