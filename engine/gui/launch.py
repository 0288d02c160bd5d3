"""Spawn the console beside a live engine (`live --console`) as its own process: no Qt is imported here,
and the engine never waits on it; a console that dies or hangs is only a window that went away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN_ENGINE = Path(__file__).resolve().parents[2] / "run_engine.py"
CONSOLE_NICENESS = 10  # the console yields the CPU to the audio, its start-up burst (Qt, pyqtgraph) included


def lower_priority() -> None:
    """Called by the console itself before it imports Qt, wherever it was started from."""
    if hasattr(os, "nice"):
        os.nice(CONSOLE_NICENESS)


def spawn_console(host: str, port: int) -> subprocess.Popen[bytes]:
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return subprocess.Popen([sys.executable, str(RUN_ENGINE), "console", "--connect", f"{connect_host}:{port}",
                             "--follow-pid", str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_console(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=3)
