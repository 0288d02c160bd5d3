"""The audio device can go away mid-set: the JACK server under a playing `live` is killed and started
again. The session notices within a second, says so (OSC status, the report), keeps the control path
answering, and plays again when the server is back; `--seconds` and `--report` work throughout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from jack_fixtures import SAMPLERATE
from osc_fixtures import Listener, free_port
from waiting import wait_until

from engine.control.osc_codec import encode_message

ROOT = Path(__file__).resolve().parents[1]
PERIOD = 256


class PrivateJack:
    """A JACK dummy server of our own, so that killing it touches no other test."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(["jackd", "-n", self.name, "-d", "dummy", "-r", str(SAMPLERATE),
                                             "-p", str(PERIOD)], stdout=sink, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        done = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], capture_output=True, check=False)
        assert done.returncode == 0, self.log.read_text(errors="replace")[-2000:]

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # as a crash or an unplugged interface: no orderly goodbye to clients
        self.process.wait(timeout=5)


@contextmanager
def private_jack(tmp_path: Path) -> Iterator[PrivateJack]:
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed")
    jack = PrivateJack(f"rave-outage-{os.getpid()}", tmp_path / "jackd.log")
    jack.start()
    try:
        yield jack
    finally:
        if jack.process is not None and jack.process.poll() is None:
            jack.process.terminate()
            jack.process.wait(timeout=5)


# One process talks to one JACK server (libjack keeps one connection per process), and the test
# process already talks to the session's server: the capture runs in a process of its own.
CAPTURE = """
import sys, time, numpy as np, jack
client = jack.Client("outage_capture", no_start_server=True, servername=sys.argv[1])
frames = int(float(sys.argv[2]) * client.samplerate)
audio, done = np.zeros(frames, dtype=np.float32), [0]
port = client.inports.register("in")
@client.set_process_callback
def process(n):
    k = min(n, frames - done[0])
    audio[done[0]:done[0] + k] = port.get_array()[:k]
    done[0] += k
client.activate()
sources = [p.name for p in client.get_ports(is_audio=True, is_output=True) if not p.name.startswith("system:")]
client.connect(sources[0], port)
deadline = time.monotonic() + 10
while done[0] < frames and time.monotonic() < deadline:
    time.sleep(0.05)
print(float(np.sqrt(np.mean(audio[:done[0]].astype(np.float64) ** 2))) if done[0] == frames else -1.0)
"""


def capture_rms(server: str, seconds: float) -> float:
    """RMS of what the engine's first output port plays on `server` for `seconds`."""
    done = subprocess.run([sys.executable, "-c", CAPTURE, server, str(seconds)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return float(done.stdout.strip().splitlines()[-1])


def status(port: int, listener: Listener) -> list[object] | None:
    """`/engine/status/reply`'s arguments, or None when no reply came within a second."""
    listener.received.clear()
    listener.send(port, encode_message("/engine/status"))
    try:
        listener.wait_for(lambda r: any(a == "/engine/status/reply" for a, _ in r), timeout=1.0)
    except AssertionError:
        return None
    return listener.messages("/engine/status/reply")[-1]


@pytest.mark.realtime
def test_jack_server_killed_and_restarted_under_a_playing_engine(tmp_path: Path) -> None:
    port, seconds = free_port(), 16.0
    report = tmp_path / "report.json"
    listener = Listener()
    with private_jack(tmp_path) as jack:
        env = {**os.environ, "JACK_DEFAULT_SERVER": jack.name, "JACK_NO_START_SERVER": "1"}
        engine = subprocess.Popen([sys.executable, "run_engine.py", "live", "--device", "system", "--samplerate",
                                   str(SAMPLERATE), "--seconds", str(seconds), "--osc-port", str(port),
                                   "--report", str(report)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        started = time.monotonic()
        try:
            assert wait_until(lambda: (s := status(port, listener)) is not None and s[8] == 1, 20), \
                "the engine never reported a playing device"
            jack.kill()
            killed = time.monotonic()
            assert wait_until(lambda: (s := status(port, listener)) is not None and s[8] == 0, 3), \
                "the engine did not notice that its device went away"
            noticed = time.monotonic() - killed
            assert noticed < 1.5, f"the outage was noticed after {noticed:.2f} s"
            got = status(port, listener)
            assert got is not None, "OSC stopped answering during the outage"
            assert got[9] == 1  # one outage counted

            time.sleep(1.0)  # the device stays away a while, as a reboot of the interface would
            jack.start()
            assert wait_until(lambda: (s := status(port, listener)) is not None and s[8] == 1, 10), \
                "the engine did not play again once the server was back"
            level = capture_rms(jack.name, seconds=1.0)
            assert level > 1e-3, f"the engine reconnected but plays silence (RMS {level:.2e})"
            engine.wait(timeout=seconds + 15 - (time.monotonic() - started))
        finally:
            if engine.poll() is None:
                engine.kill()
                engine.wait()
            listener.close()
        stderr = engine.stderr.read().decode(errors="replace") if engine.stderr else ""
    assert engine.returncode == 0, stderr[-3000:]
    assert "audio device lost" in stderr and "audio device back" in stderr, stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["device"]["outages"] == 1
    assert data["device"]["state"] == "stopped"
    assert 1.0 <= data["device"]["outage_seconds"] < 8.0, data["device"]
    assert data["seconds"] == pytest.approx(seconds, abs=1.0)
