"""The performer console's cost beside a playing engine: its CPU (% of one core, from /proc) while it
redraws at 30 fps, and the engine's underruns with and without it.

Starts a JACK dummy server (or uses the running one) and a virtual X display (Xvfb), then plays the
engine twice for `--seconds`: alone, and with `run_engine.py console` connected (every stream
subscribed: feedback, features, meters, scope). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jack_server import jack_dummy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (its threads included) from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def engine_underruns(port: int, process: subprocess.Popen[bytes], timeout: float = 120.0) -> int:
    """The engine's underruns so far, from `/engine/status`; waits until it answers (a loaded machine
    takes a while to load the model)."""
    sys.path.insert(0, str(ROOT))
    from engine.control.osc_codec import encode_message, parse_packet

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            sock.sendto(encode_message("/engine/status"), ("127.0.0.1", port))
            try:
                data, _ = sock.recvfrom(65536)
            except OSError:
                time.sleep(0.5)
                continue
            messages, _ = parse_packet(data)
            return int(messages[0].args[1])  # type: ignore[call-overload]
    raise SystemExit(f"the engine on port {port} never answered (exit {process.poll()})")


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("Xvfb") is None:
        raise SystemExit("Xvfb is not installed (Debian package xvfb)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                               pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        return process, ":" + pipe.readline().strip()


def play(seconds: float, display: str | None, warmup: float) -> dict[str, object]:
    port = free_port()
    report = Path(f"/tmp/bench_console_{os.getpid()}_{port}.json")
    engine = subprocess.Popen([sys.executable, "run_engine.py", "live", "--device", "system", "--samplerate", "48000",
                               "--osc-port", str(port), "--seconds", str(seconds + 2 * warmup + 150), "--report",
                               str(report)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result: dict[str, object] = {}
    console = None
    try:
        engine_underruns(port, engine)
        time.sleep(warmup)  # the first blocks, the lookahead settling
        before = engine_underruns(port, engine)
        if display is not None:
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
                   "RAVE_ENGINE_CONSOLE_SETTINGS": f"/tmp/bench_console_{os.getpid()}.ini"}
            console = subprocess.Popen([sys.executable, "run_engine.py", "console", "--connect", f"127.0.0.1:{port}",
                                        "--seconds", str(seconds + 20)], cwd=ROOT, env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(warmup)  # Qt, pyqtgraph and the parameter list
        started = engine_underruns(port, engine)
        engine_cpu0 = cpu_seconds(engine.pid)
        console_cpu0 = cpu_seconds(console.pid) if console else 0.0
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        result["underruns_in_measured_seconds"] = engine_underruns(port, engine) - started
        result["underruns_while_the_console_started"] = started - before
        result["engine_cpu_percent"] = round(100 * (cpu_seconds(engine.pid) - engine_cpu0) / elapsed, 1)
        if console is not None:
            result["console_cpu_percent_of_one_core"] = round(100 * (cpu_seconds(console.pid) - console_cpu0)
                                                              / elapsed, 1)
            result["console_alive"] = console.poll() is None
    finally:
        if console is not None and console.poll() is None:
            console.terminate()
            console.wait(10)
        engine.send_signal(15)  # SIGTERM, as a process manager stops it: cleanly, the report written
        engine.wait(60)
    data = json.loads(report.read_text())
    report.unlink()
    result["underruns"] = data["underruns"]
    result["callbacks"] = data["callbacks"]
    result["seconds_played"] = data["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    xvfb, display = start_xvfb()
    try:
        with jack_dummy():
            alone = play(args.seconds, None, args.warmup)
            beside = play(args.seconds, display, args.warmup)
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    out = {"seconds": args.seconds, "cores": os.cpu_count(), "engine_alone": alone, "with_console": beside,
           "console_budget_percent": 15.0}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
