"""Shared pieces for the OSC tests: a server on a free port, a UDP listener, and `oscsend`."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage
from waiting import wait_until

from engine.control.hub import ControlHub
from engine.control.osc_server import OscServer
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.presets.scenes import SCENES_DIR

LATENT = 8


class Listener:
    """A plain UDP socket on a free port that collects OSC replies and feedback."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.received: list[tuple[str, list[object]]] = []

    def send(self, server_port: int, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", server_port))

    def drain(self) -> None:
        try:
            while True:
                data, _ = self.sock.recvfrom(65536)
                message = OscMessage(data)
                self.received.append((message.address, list(message.params)))
        except TimeoutError:
            pass

    def wait_for(self, condition: Callable[[list[tuple[str, list[object]]]], bool], timeout: float = 3.0
                 ) -> list[tuple[str, list[object]]]:
        def arrived() -> bool:
            self.drain()  # waits up to the socket's timeout for the next message
            return condition(self.received)

        if not wait_until(arrived, timeout, interval=0):
            raise AssertionError(f"timed out; received {self.received[-10:]}")
        return self.received

    def messages(self, address: str) -> list[list[object]]:
        return [args for a, args in self.received if a == address]

    def close(self) -> None:
        self.sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oscsend(port: int, address: str, types: str = "", *values: str) -> None:
    """liblo's command-line client: nobody here wrote it."""
    if shutil.which("oscsend") is None:
        pytest.skip("oscsend is not installed (Debian: apt-get install liblo-tools)")
    subprocess.run(["oscsend", "localhost", str(port), address, types, *values], check=True, timeout=10)


def make_hub(tmp_path: Path, **kwargs: object) -> ControlHub:
    scenes = tmp_path / "scenes"
    shutil.copytree(SCENES_DIR, scenes)
    return ControlHub(ParamStore(build_param_table(LATENT)), scenes_dir=scenes, slots_dir=tmp_path / "slots",
                      **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def hub(tmp_path: Path) -> ControlHub:
    return make_hub(tmp_path)


@pytest.fixture
def server(hub: ControlHub) -> Iterator[OscServer]:
    with OscServer(hub, port=0) as srv:
        yield srv


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()
