"""Start (or reuse) a JACK server with the dummy driver, clocked like hardware, for benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def jack_dummy(rate: int = 48000, period: int = 256) -> Iterator[None]:
    if shutil.which("jackd") is None:
        raise SystemExit("jackd is not installed (Debian package jackd2)")
    check = subprocess.run(["jack_wait", "-c"], capture_output=True, text=True)
    if "running" in check.stdout and "not running" not in check.stdout:  # jack_wait -c exits 0 either way
        yield  # a server is already running: use it, leave it running
        return
    server = subprocess.Popen(["jackd", "-d", "dummy", "-r", str(rate), "-p", str(period)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run(["jack_wait", "-w", "-t", "10"], check=True, capture_output=True)
        import sounddevice as sd

        sd._terminate()  # PortAudio scans host APIs at initialisation: rescan now that JACK is up
        sd._initialize()
        time.sleep(0.2)
        yield
    finally:
        import sounddevice as sd

        sd._terminate()  # PortAudio's JACK host API must let go before its server disappears
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
