"""A misbehaving OSC client cannot silence the engine: `live` as a subprocess whose stdout and stderr
are pipes nobody reads takes 100,000 bad packets, then answers a well-behaved client at once.

Before bounded logging, every new bad address was logged, Python's last-resort handler wrote to
stderr synchronously, and once the pipe buffer was full the OSC thread blocked for good.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from jack_fixtures import SAMPLERATE, JackServer
from osc_fixtures import Listener, free_port
from osc_junk import bad_packets
from pythonosc.osc_message import OscMessage

from engine.control.osc_codec import encode_message

pytestmark = pytest.mark.realtime

ROOT = Path(__file__).resolve().parents[1]
FLOOD = 100_000
ENGINE_SECONDS = 20.0  # startup (~3 s) + flood + queries fit with room to spare
QUERIES = ("/rave/energy", "/master/gain_db", "/rave/latent/*/bias", "/rave/source/a")
RETRY_SECONDS = 0.1
ERRORS_PER_SECOND = 20  # the /engine/error budget (engine/control/feedback.py)


class GoodClient:
    """A well-behaved client: one request at a time, asked again every 100 ms until answered (UDP: the
    kernel drops datagrams that arrive while the engine's receive buffer is full)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def get(self, pattern: str, replies: int, timeout: float) -> tuple[dict[str, object], float]:
        """`/engine/get PATTERN`: the values of its `replies` addresses, and the seconds they took."""
        started = time.monotonic()
        values: dict[str, object] = {}
        asked = 0.0
        while len(values) < replies:
            now = time.monotonic()
            if now >= started + timeout:
                raise TimeoutError(f"/engine/get {pattern}: {len(values)} of {replies} replies in {timeout} s")
            if not values and now >= asked + RETRY_SECONDS:
                self.sock.sendto(encode_message("/engine/get", pattern), ("127.0.0.1", self.port))
                asked = now
            self.sock.settimeout(max(0.001, min(asked + RETRY_SECONDS, started + timeout) - now))
            try:
                message = OscMessage(self.sock.recvfrom(65536)[0])
            except TimeoutError:
                continue
            if fnmatchcase(message.address, pattern):  # not a late reply to an earlier request
                values[message.address] = message.params[0]
        return values, time.monotonic() - started

    def snapshot(self, timeout: float) -> tuple[dict[str, object], float]:
        values: dict[str, object] = {}
        worst = 0.0
        for pattern in QUERIES:
            got, seconds = self.get(pattern, 8 if "*" in pattern else 1, timeout)
            values.update(got)
            worst = max(worst, seconds)
        return values, worst

    def status(self, timeout: float) -> list[object]:
        """CPU_LOAD UNDERRUNS SAMPLERATE MESSAGES ERRORS DROPPED SUBSCRIBERS"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.sendto(encode_message("/engine/status"), ("127.0.0.1", self.port))
            self.sock.settimeout(RETRY_SECONDS)
            try:
                message = OscMessage(self.sock.recvfrom(65536)[0])
            except TimeoutError:
                continue
            if message.address == "/engine/status/reply":
                return list(message.params)
        raise TimeoutError(f"no /engine/status reply in {timeout} s")

    def wait_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                self.get("/rave/energy", 1, 0.5)
                return
            except (TimeoutError, ConnectionRefusedError):
                continue
        raise AssertionError(f"the engine did not answer OSC within {timeout} s (exit {process.poll()})")

    def close(self) -> None:
        self.sock.close()


class Subscriber(Listener):
    """`/engine/subscribe`d, collecting everything the engine sends on a thread of its own."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self._halt = threading.Event()
        self.send(port, encode_message("/engine/subscribe"))
        self.wait_for(lambda r: ("/done", ["/engine/subscribe"]) in r)
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._halt.is_set():
            self.drain()

    def errors(self) -> list[list[object]]:
        return self.messages("/engine/error")

    def close(self) -> None:
        self._halt.set()
        self._thread.join(2)
        super().close()


def test_flood_of_bad_packets_leaves_osc_answering_at_once(jack_server: JackServer, default_model_path: Path,
                                                           tmp_path: Path) -> None:
    packets = bad_packets(FLOOD, seed=9)  # built before the engine starts: its clock is running
    port, report_path = free_port(), tmp_path / "report.json"
    engine = subprocess.Popen(
        [sys.executable, "run_engine.py", "live", "--device", str(jack_server.device), "--samplerate",
         str(SAMPLERATE), "--seconds", str(ENGINE_SECONDS), "--osc-port", str(port), "--model",
         str(default_model_path), "--report", str(report_path)],
        cwd=ROOT, env=jack_server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # never read while it runs
    client, flooder = GoodClient(port), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    subscriber: Subscriber | None = None
    try:
        client.wait_ready(engine, timeout=15.0)
        subscriber = Subscriber(port)
        before, _ = client.snapshot(timeout=1.0)
        assert len(before) == 3 + 8
        flood_started = time.monotonic()
        for packet in packets:
            flooder.sendto(packet, ("127.0.0.1", port))
        flood_seconds = time.monotonic() - flood_started

        after, worst = client.snapshot(timeout=1.0)  # each answered within a second of first asking
        assert after == before
        status = client.status(timeout=1.0)
        assert status[4] >= 2000, status  # the flood did reach the engine (the kernel drops what overflows)
        assert subscriber.wait_for(lambda r: any("more errors in" in str(args[2]) for a, args in r
                                                 if a == "/engine/error"), timeout=3.0)
        errors = subscriber.errors()
        elapsed = time.monotonic() - flood_started
        summaries = [e for e in errors if e[:2] == ["engine", "-"]]
        assert len(errors) - len(summaries) <= ERRORS_PER_SECOND * (elapsed + 1)  # the budget, not the flood
        assert max(len(str(e[1])) + len(str(e[2])) for e in errors) < 400  # client text clipped

        assert engine.wait(timeout=ENGINE_SECONDS + 30) == 0
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        flooder.close()
        client.close()
        if subscriber is not None:
            subscriber.close()
    report = json.loads(report_path.read_text())
    assert report["underruns"] == 0, report
    stderr = engine.stderr.read().decode(errors="replace") if engine.stderr else ""
    assert "more bad messages in" in stderr and "played" in stderr
    assert len(stderr) < 32_768, f"{len(stderr)} bytes of log for one flood"
    assert max(len(line) for line in stderr.splitlines()) < 500
    print(f"flood: {FLOOD} packets sent in {flood_seconds:.2f} s; slowest reply after it {worst * 1000:.1f} ms; "
          f"engine errors counted {status[4]}; /engine/error sent {len(errors)}; log {len(stderr)} bytes")
