"""A real X display for the console's GUI tests: Xvfb on a free display number, started once.

Only tests that ask for `qapp` (pytest-qt's `qtbot` does) get it: the fixture sets DISPLAY and
QT_QPA_PLATFORM=xcb while they run and makes the process's QApplication on that display. The rest of
the suite never starts Xvfb. Without Xvfb installed the GUI tests skip, naming the package.

`engine_process` starts a real engine (`run_engine.py live`) on the JACK test server with OSC on a
free port, as a separate process the way a console meets it on stage.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from jack_fixtures import SAMPLERATE, JackServer
from osc_fixtures import Listener, free_port
from waiting import wait_until

from engine.control.osc_codec import encode_message

ROOT = Path(__file__).resolve().parents[1]
SCREEN = "1280x800x24"
ENGINE_START_TIMEOUT = 60.0


@dataclass
class XDisplay:
    name: str  # ":N"
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name, "QT_QPA_PLATFORM": "xcb"}


@pytest.fixture(scope="session")
def xvfb() -> Iterator[XDisplay]:
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb): no X display for the console's GUI tests")
    read_fd, write_fd = os.pipe()
    # A shell minds the server: it stops Xvfb once this test process has gone, so the QApplication (which
    # lives until the interpreter exits) never sees its display die under it.
    minder = (f'"$0" -displayfd {write_fd} -screen 0 {SCREEN} -nolisten tcp & x=$!; '
              f'while kill -0 {os.getpid()} 2>/dev/null && kill -0 $x 2>/dev/null; do sleep 0.5; done; kill $x')
    process = subprocess.Popen(["sh", "-c", minder, binary], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()  # Xvfb writes the display it took once it accepts clients
    if not number.isdigit():
        process.kill()
        process.wait()
        pytest.fail(f"Xvfb did not report a display (exit {process.poll()})", pytrace=False)
    display = XDisplay(f":{number}", process)
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "QT_QPA_PLATFORM")}
    os.environ.update(DISPLAY=display.name, QT_QPA_PLATFORM="xcb")
    try:
        yield display
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        # Xvfb stops with this process (see above): a window still open must not lose its display now.


@pytest.fixture(scope="session")
def qapp(xvfb: XDisplay):  # noqa: ANN201 - pytest-qt's fixture, made on the Xvfb display
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from engine.gui.app import application
    from engine.gui.theme import apply_dark_theme

    app = application()  # an earlier test's QApplication (another platform) is reused as it is
    apply_dark_theme(app)
    return app


@pytest.fixture(autouse=False)
def console_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The console's window state goes to this test's folder, never the user's home."""
    from engine.gui.settings import SETTINGS_ENV

    path = tmp_path / "console.ini"
    monkeypatch.setenv(SETTINGS_ENV, str(path))
    return path


@dataclass
class EngineProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # faulthandler (PYTHONFAULTHANDLER, set at start) writes every thread's stack to the log
                self.process.send_signal(signal.SIGABRT)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()


def status_reply(port: int, timeout: float = 1.0) -> list[object] | None:
    listener = Listener()
    try:
        listener.send(port, encode_message("/engine/status"))
        try:
            listener.wait_for(lambda r: any(a == "/engine/status/reply" for a, _ in r), timeout=timeout)
        except AssertionError:
            return None
        return listener.messages("/engine/status/reply")[-1]
    finally:
        listener.close()


def start_engine(server: JackServer, model: Path, log: Path, port: int | None = None, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> EngineProcess:
    """`run_engine.py live` on the JACK test server, answering OSC on `port` (a free one if None), with
    `extra` arguments and `env` added to the server's environment."""
    port = port or free_port()
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "run_engine.py", "live", "--model", str(model), "--device", str(server.device),
             "--samplerate", str(SAMPLERATE), "--osc-port", str(port), "--seconds", "600", *extra],
            cwd=ROOT, env={**server.env, "PYTHONFAULTHANDLER": "1", **(env or {})}, stdout=sink, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    engine = EngineProcess(process, port, log)
    if not wait_until(lambda: not engine.alive() or status_reply(port) is not None, ENGINE_START_TIMEOUT, 0.2) \
            or not engine.alive():
        engine.stop(signal.SIGKILL)
        pytest.fail(f"the engine did not answer OSC: {log.read_text(errors='replace')[-2000:]}", pytrace=False)
    return engine


@pytest.fixture(scope="module")
def engine_process(jack_server: JackServer, live_model: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[EngineProcess]:
    engine = start_engine(jack_server, live_model, tmp_path_factory.mktemp("engine") / "engine.log")
    yield engine
    engine.stop()
