"""A real audio server for the live-engine tests: JACK with its dummy driver, clocked like hardware.

`jack_server` (session scope) starts `jackd -d dummy -r 48000 -p 256` unless a JACK server is
already running (a developer's machine), in which case it reuses that one and leaves it alone.
`JACK_DEFAULT_SERVER` names the server, as for every JACK program: set it to a free name to get a
private server beside a running one. After the server is up PortAudio is re-initialised, because
sounddevice scans the host APIs once, at import.

`JackCapture` records the engine's output ports from a second JACK client, `JackPlayer` plays a
signal into the engine's input ports; both work in their JACK process callback on preallocated
arrays.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np
import pytest
from waiting import wait_until

SAMPLERATE = 48000
PERIOD = 256
START_TIMEOUT_S = 10
STOP_TIMEOUT_S = 5


@dataclass
class JackServer:
    name: str | None  # None: JACK's default server
    samplerate: int
    period: int
    started: bool  # False: an already running server, reused and not stopped
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    device: int = -1  # PortAudio's JACK device index (after re-initialisation)
    env: dict[str, str] = field(default_factory=dict)  # for subprocesses: the same server


def _server_args(name: str | None) -> list[str]:
    return ["-s", name] if name else []


def jack_running(name: str | None) -> bool:
    """`jack_wait -c` prints "running" or "not running" and exits 0 either way."""
    done = subprocess.run(["jack_wait", "-c", *_server_args(name)], capture_output=True, text=True, timeout=10,
                          check=False)
    return done.stdout.strip() == "running"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def _wait_for_server(process: subprocess.Popen[bytes], name: str | None) -> bool:
    """`jack_wait -w -t 10`, given up early when jackd has already exited."""
    waiter = subprocess.Popen(["jack_wait", "-w", "-t", str(START_TIMEOUT_S), *_server_args(name)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: waiter.poll() is not None or process.poll() is not None, START_TIMEOUT_S + 1, 0.05)
        return waiter.returncode == 0 and process.poll() is None
    finally:
        _stop(waiter)


def _reinit_portaudio() -> None:
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


def jack_output_device() -> int:
    """Index of PortAudio's JACK device with at least two outputs."""
    import sounddevice as sd

    for index, device in enumerate(sd.query_devices()):  # type: ignore[arg-type]
        api = sd.query_hostapis(device["hostapi"])["name"]  # type: ignore[index,call-overload]
        if "JACK" in api and device["max_output_channels"] >= 2:  # type: ignore[index]
            return index
    apis = ", ".join(api["name"] for api in sd.query_hostapis())  # type: ignore[index,union-attr]
    raise RuntimeError(f"PortAudio lists no JACK output device (host APIs: {apis})")


def _server_rate(name: str | None) -> tuple[int, int]:
    import jack

    client = jack.Client("rate_probe", no_start_server=True, servername=name)
    try:
        return int(client.samplerate), int(client.blocksize)
    finally:
        client.close()


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    jackd = shutil.which("jackd")
    if jackd is None or shutil.which("jack_wait") is None:
        pytest.skip("jackd is not installed (Debian: apt-get install jackd2): no audio server for the live tests")
    pytest.importorskip("jack", reason="JACK-Client is not installed (pip install JACK-Client)")
    name = os.environ.get("JACK_DEFAULT_SERVER") or None
    env = dict(os.environ)
    if jack_running(name):
        rate, period = _server_rate(name)
        if rate != SAMPLERATE:
            pytest.skip(f"the running JACK server {name or 'default'!r} runs at {rate} Hz, these tests need "
                        f"{SAMPLERATE}; stop it or set JACK_DEFAULT_SERVER to a free name")
        server = JackServer(name, rate, period, started=False, env=env)
    else:
        log = tmp_path_factory.mktemp("jackd") / "jackd.log"
        cmd = [jackd, *(["-n", name] if name else []), "-d", "dummy", "-r", str(SAMPLERATE), "-p", str(PERIOD)]
        with log.open("wb") as sink:
            process = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not _wait_for_server(process, name) or process.poll() is not None:
            _stop(process)
            pytest.fail(f"{' '.join(cmd)} did not start within {START_TIMEOUT_S} s "
                        f"(exit {process.returncode}): {log.read_text(errors='replace')[-2000:]}", pytrace=False)
        server = JackServer(name, SAMPLERATE, PERIOD, started=True, process=process, log=log, env=env)
    try:
        _reinit_portaudio()
        server.device = jack_output_device()
        yield server
    finally:
        if server.process is not None:
            import sounddevice as sd

            sd._terminate()  # close PortAudio's JACK client while its server is still there
            _stop(server.process)
            sd._initialize()


def longest_zero_run(signal: np.ndarray) -> int:
    """Length of the longest run of exact zeros in a 1-D signal."""
    edges = np.diff(np.concatenate([[0], (signal == 0).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if starts.size else 0


class _Client:
    def __init__(self, name: str, server: JackServer) -> None:
        import jack

        self.client = jack.Client(name, no_start_server=True, servername=server.name)
        self.samplerate = int(self.client.samplerate)

    def port_names(self) -> set[str]:
        return {port.name for port in self.client.get_ports(is_audio=True)}

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def engine_ports(client: _Client, before: set[str], *, is_output: bool) -> list[str]:
    """The audio ports that appeared since `before` (the engine's stream), sorted, excluding `client`'s own."""
    own = client.client.name + ":"
    ports = client.client.get_ports(is_audio=True, is_output=is_output, is_input=not is_output)
    return sorted(p.name for p in ports if p.name not in before and not p.name.startswith(own))


class JackCapture(_Client):
    """Records `channels` input ports into a preallocated (frames, channels) float32 array.

    The recorder is a Python client in the test process: a cycle it misses (its callback late for the
    GIL) is audio it never sees, so what it recorded runs on across the hole. Each cycle's JACK frame
    time is kept, and `stretches()` says which recorded spans are gap-free on the server's clock.
    """

    def __init__(self, server: JackServer, seconds: float, channels: int = 2, name: str = "capture") -> None:
        super().__init__(name, server)
        self.audio = np.zeros((int(seconds * self.samplerate), channels), dtype=np.float32)
        self.frames = 0  # recorded so far
        self.recording = False
        self._cycle_time = np.zeros(self.audio.shape[0] // 16 + 1, dtype=np.int64)  # JACK frame time of each cycle
        self._cycle_start = np.zeros_like(self._cycle_time)  # where each cycle's frames went
        self.cycles = 0
        self.ports = [self.client.inports.register(f"in_{i + 1}") for i in range(channels)]
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        if not self.recording:
            return
        n = min(frames, self.audio.shape[0] - self.frames)
        if n and self.cycles < self._cycle_time.size:
            self._cycle_time[self.cycles] = self.client.last_frame_time
            self._cycle_start[self.cycles] = self.frames
            self.cycles += 1
        for i, port in enumerate(self.ports):
            self.audio[self.frames:self.frames + n, i] = port.get_array()[:n]
        self.frames += n

    def stretches(self) -> list[tuple[int, int]]:
        """(start, stop) spans of `recorded` with no missed cycle inside, in order."""
        times, starts = self._cycle_time[:self.cycles], self._cycle_start[:self.cycles]
        breaks = [0, *(np.flatnonzero(np.diff(times) != np.diff(starts)) + 1).tolist(), self.cycles]
        return [(int(starts[a]), int(starts[b]) if b < self.cycles else self.frames)
                for a, b in zip(breaks[:-1], breaks[1:], strict=True) if b > a]

    def connect(self, sources: Sequence[str]) -> None:
        if len(sources) < len(self.ports):
            raise RuntimeError(f"{len(self.ports)} capture ports but only these sources: {sources}")
        for source, port in zip(sources, self.ports, strict=False):
            self.client.connect(source, port)

    def start(self) -> None:
        self.recording = True

    def stop(self) -> np.ndarray:
        self.recording = False
        return self.recorded

    @property
    def recorded(self) -> np.ndarray:
        return self.audio[: self.frames]

    def __enter__(self) -> JackCapture:
        return self


class JackPlayer(_Client):
    """Plays a (frames, channels) signal into the connected ports once, then silence."""

    def __init__(self, server: JackServer, signal: np.ndarray, name: str = "player") -> None:
        super().__init__(name, server)
        self.signal = np.ascontiguousarray(signal if signal.ndim == 2 else signal[:, None], dtype=np.float32)
        self.position = 0
        self.playing = False
        self.ports = [self.client.outports.register(f"out_{i + 1}") for i in range(self.signal.shape[1])]
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        n = min(frames, self.signal.shape[0] - self.position) if self.playing else 0
        for i, port in enumerate(self.ports):
            out = port.get_array()
            out[:n] = self.signal[self.position:self.position + n, i]
            out[n:] = 0.0
        self.position += n

    def connect(self, destinations: Sequence[str]) -> None:
        for i, destination in enumerate(destinations):
            self.client.connect(self.ports[i % len(self.ports)], destination)

    def start(self) -> None:
        self.playing = True

    @property
    def done(self) -> bool:
        return self.position >= self.signal.shape[0]

    def __enter__(self) -> JackPlayer:
        return self
