"""The performer console in a real Qt (xcb on Xvfb) against a real engine process on the JACK test server:
a dragged fader sets the engine, another client's value moves the fader, a scene recall glides the
faders, and the console notices an engine that died and follows the one that replaces it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from gui_fixtures import ROOT, EngineProcess, XDisplay, start_engine  # noqa: E402
from jack_fixtures import JackServer  # noqa: E402
from osc_fixtures import Listener  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from engine.control.osc_codec import encode_message  # noqa: E402
from engine.gui.main_window import ConsoleWindow  # noqa: E402
from engine.gui.osc_link import EngineLink  # noqa: E402
from engine.gui.widgets.fader import Fader  # noqa: E402
from engine.presets.scenes import SCENES_DIR  # noqa: E402

WAIT_MS = 20_000


@pytest.fixture
def console(qtbot, engine_process: EngineProcess, console_settings_file: Path) -> Iterator[ConsoleWindow]:
    window = open_window(qtbot, engine_process.port)
    yield window
    window.close()


def open_window(qtbot, port: int) -> ConsoleWindow:
    window = ConsoleWindow(EngineLink("127.0.0.1", port))
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: "macros" in window.panels and window.model.values.get("/rave/energy") is not None,
                    timeout=WAIT_MS)
    return window


def engine_value(port: int, address: str) -> object:
    """What the engine says, through its own `/engine/get`, from a client that is not the console."""
    listener = Listener()
    try:
        listener.send(port, encode_message("/engine/get", address))
        listener.wait_for(lambda r: any(a == address for a, _ in r), timeout=5.0)
        return listener.messages(address)[-1][0]
    finally:
        listener.close()


def handle_centre(fader: Fader) -> QtCore.QPoint:
    slider = fader.slider
    option = QtWidgets.QStyleOptionSlider()
    slider.initStyleOption(option)
    rect = slider.style().subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, option,
                                         QtWidgets.QStyle.SubControl.SC_SliderHandle, slider)
    return rect.center()


def drag(fader: Fader, dy: int) -> None:
    """Press the handle with the mouse, move it in steps, let go: what a hand does."""
    slider = fader.slider
    start = handle_centre(fader)
    QTest.mousePress(slider, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 11):
        point = QtCore.QPointF(start.x(), start.y() + dy * k / 10)
        event = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, point, slider.mapToGlobal(point),
                                  QtCore.Qt.MouseButton.NoButton, QtCore.Qt.MouseButton.LeftButton,
                                  QtCore.Qt.KeyboardModifier.NoModifier)
        QtWidgets.QApplication.sendEvent(slider, event)
    end = QtCore.QPoint(start.x(), start.y() + dy)
    QTest.mouseRelease(slider, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, end)


def test_a_dragged_fader_sets_the_engine(qtbot, console: ConsoleWindow, engine_process: EngineProcess) -> None:
    fader = console.macros.faders["/rave/chaos"]
    assert fader.value == pytest.approx(0.0)
    drag(fader, -fader.slider.height() // 2)  # up: more chaos
    assert fader.value > 0.2, fader.value
    qtbot.waitUntil(lambda: abs(float(engine_value(engine_process.port, "/rave/chaos")) - fader.value) < 1e-3,
                    timeout=WAIT_MS)
    fader = console.latent.faders["/rave/latent/1/bias"]
    drag(fader, fader.slider.height() // 3)  # down: a negative bias
    assert fader.value < -0.5, fader.value
    qtbot.waitUntil(lambda: abs(float(engine_value(engine_process.port, "/rave/latent/1/bias")) - fader.value)
                    < 1e-3, timeout=WAIT_MS)


def test_another_clients_value_moves_the_fader(qtbot, console: ConsoleWindow, engine_process: EngineProcess) -> None:
    fader = console.macros.faders["/rave/texture"]
    position = fader.slider.value()
    other = Listener()
    try:
        other.send(engine_process.port, encode_message("/rave/texture", 0.85))
        qtbot.waitUntil(lambda: fader.value == pytest.approx(0.85, abs=1e-4), timeout=WAIT_MS)
    finally:
        other.close()
    assert fader.slider.value() == 850 != position
    assert fader.readout.text() == "0.85"


def test_a_scene_recall_makes_the_faders_glide(qtbot, console: ConsoleWindow, engine_process: EngineProcess) -> None:
    import tomllib

    target = tomllib.loads((SCENES_DIR / "intense.toml").read_text())["params"]["/rave/energy"]
    fader = console.macros.faders["/rave/energy"]
    console.ctx.write("/rave/energy", 0.4)
    qtbot.waitUntil(lambda: fader.value == pytest.approx(0.4), timeout=WAIT_MS)
    seen: list[float] = []
    console.model.watch("/rave/energy", lambda v: seen.append(fader.value))
    console.ctx.command("/scene/recall", "Intense", 2.0)
    qtbot.waitUntil(lambda: fader.value == pytest.approx(target, abs=1e-3), timeout=WAIT_MS)
    between = [v for v in seen if min(0.4, target) + 0.02 < v < max(0.4, target) - 0.02]
    assert len(between) >= 3, f"the fader jumped instead of gliding: {seen}"
    assert all(b >= a - 1e-6 for a, b in zip(seen, seen[1:], strict=False)) if target > 0.4 else True


def test_the_console_says_when_the_engine_dies_and_follows_the_next_one(
        qtbot, jack_server: JackServer, live_model: Path, tmp_path: Path, console_settings_file: Path) -> None:
    engine = start_engine(jack_server, live_model, tmp_path / "first.log")
    try:
        window = open_window(qtbot, engine.port)
        label = window.status_panel.connection
        assert "connected" in label.text()
        engine.stop(signal.SIGKILL)
        qtbot.waitUntil(lambda: not window.link.connected, timeout=WAIT_MS)
        assert "NOT RESPONDING" in label.text()
        assert label.property("state") == "down"
        window.model.values.clear()
        engine = start_engine(jack_server, live_model, tmp_path / "second.log", port=engine.port)
        qtbot.waitUntil(lambda: window.link.connected and window.model.values.get("/rave/energy") is not None,
                        timeout=WAIT_MS * 2)
        assert "connected" in label.text() and label.property("state") == "up"
        other = Listener()
        try:
            other.send(engine.port, encode_message("/rave/chaos", 0.6))  # the new engine's feedback reaches us
            qtbot.waitUntil(lambda: window.macros.faders["/rave/chaos"].value == pytest.approx(0.6), timeout=WAIT_MS)
        finally:
            other.close()
        window.close()
    finally:
        engine.stop()


def test_the_screenshot_command_writes_a_picture_of_the_console(
        xvfb: XDisplay, engine_process: EngineProcess, tmp_path: Path) -> None:
    out = tmp_path / "console.png"
    env = {**xvfb.env, "RAVE_ENGINE_CONSOLE_SETTINGS": str(tmp_path / "console.ini")}
    done = subprocess.run([sys.executable, "run_engine.py", "console", "--connect", f"127.0.0.1:{engine_process.port}",
                           "--screenshot", str(out), "--seconds", "4"], cwd=ROOT, env=env, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    image = QtGui.QImage(str(out))
    assert not image.isNull() and image.width() >= 640 and image.height() >= 400
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 30, f"a blank picture: {len(colours)} colours"


def console_processes(port: int) -> list[int]:
    """Processes whose command line is a console connected to `port` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"console" in args and f"127.0.0.1:{port}".encode() in args:
            found.append(int(entry.name))
    return found


def test_live_console_opens_the_console_beside_the_engine_and_closes_it_with_the_engine(
        xvfb: XDisplay, jack_server: JackServer, live_model: Path, tmp_path: Path) -> None:
    from gui_fixtures import status_reply
    from jack_fixtures import SAMPLERATE
    from osc_fixtures import free_port
    from waiting import wait_until

    port = free_port()
    env = {**jack_server.env, "DISPLAY": xvfb.name, "QT_QPA_PLATFORM": "xcb",
           "RAVE_ENGINE_CONSOLE_SETTINGS": str(tmp_path / "console.ini")}
    engine = subprocess.Popen([sys.executable, "run_engine.py", "live", "--model", str(live_model), "--device",
                               str(jack_server.device), "--samplerate", str(SAMPLERATE), "--osc-port", str(port),
                               "--seconds", "120", "--console"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        # The console subscribes to the engine's feedback: the engine counts it among its subscribers.
        # (Generous waits: the console runs at a lower priority than the engine, on purpose.)
        assert wait_until(lambda: (s := status_reply(port)) is not None and int(s[6]) >= 1, 240, 0.5), \
            f"the console never subscribed; console processes: {console_processes(port)}"
        assert console_processes(port), "no console process"
        engine.send_signal(signal.SIGINT)
        engine.wait(timeout=30)
        assert engine.returncode == 0, engine.stderr.read().decode(errors="replace")[-2000:] if engine.stderr else ""
        assert wait_until(lambda: not console_processes(port), 10, 0.2), "the console outlived the engine"
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        for pid in console_processes(port):
            os.kill(pid, signal.SIGKILL)


def test_a_midi_controller_and_the_console_follow_each_other(
        qtbot, jack_server: JackServer, live_model: Path, tmp_path: Path, console_settings_file: Path) -> None:
    """A fader moved on a (JACK MIDI) controller moves on screen; a fader dragged on screen moves the
    engine and comes back to the controller as its feedback CC (generic16: CC 1 chaos, CC 2 texture)."""
    rtmidi = pytest.importorskip("rtmidi")
    tag = tmp_path.name[-10:]
    controller = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, f"ctl-{tag}")
    controller.open_virtual_port("out")
    feedback = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, f"ctlfb-{tag}")
    feedback.open_virtual_port("in")
    engine = start_engine(jack_server, live_model, tmp_path / "engine.log",
                          extra=("--midi-in", f"ctl-{tag}", "--midi-out", f"ctlfb-{tag}", "--midi-map", "generic16"),
                          env={"RAVE_MIDI_API": "jack"})
    try:
        window = open_window(qtbot, engine.port)
        chaos = window.macros.faders["/rave/chaos"]
        controller.send_message([0xB0, 1, 0])  # soft takeover: the fader meets the value (0) first
        controller.send_message([0xB0, 1, 100])
        qtbot.waitUntil(lambda: chaos.value == pytest.approx(100 / 127, abs=0.01), timeout=WAIT_MS)
        assert chaos.slider.value() == round(100 / 127 * 1000)

        texture = window.macros.faders["/rave/texture"]
        drag(texture, -texture.slider.height() // 3)
        sent = round(texture.value * 127)
        got: list[list[int]] = []

        def heard() -> bool:
            while (item := feedback.get_message()) is not None:
                got.append(item[0])
            return any(m[:2] == [0xB0, 2] and abs(m[2] - sent) <= 1 for m in got)

        qtbot.waitUntil(heard, timeout=WAIT_MS)
        window.close()
    finally:
        engine.stop()
        controller.delete()
        feedback.delete()


def test_the_preview_shows_the_visual_process_frames_and_the_status_its_rate(
        qtbot, jack_server: JackServer, live_model: Path, tmp_path: Path, console_settings_file: Path) -> None:
    engine = start_engine(jack_server, live_model, tmp_path / "engine.log",
                          extra=("--visuals", "--no-visual-spare", "--size", "128x128"))
    try:
        window = open_window(qtbot, engine.port)
        window.findChild(QtWidgets.QDockWidget, "dock-Preview").raise_()
        qtbot.waitUntil(lambda: window.preview.frames_shown >= 3, timeout=WAIT_MS * 6)  # a cold visual start
        frame = window.preview.image.image
        assert frame.shape == (128, 128, 3) and frame.std() > 1.0, "a flat preview"
        qtbot.waitUntil(lambda: window.status_panel.visual_fps > 0, timeout=WAIT_MS)
        window.close()
    finally:
        engine.stop()


def test_visual_fullscreen_toggles_the_engines_window_and_the_engine_plays_on(
        xvfb: XDisplay, jack_server: JackServer, live_model: Path, tmp_path: Path) -> None:
    from gui_fixtures import status_reply
    from waiting import wait_until

    engine = start_engine(jack_server, live_model, tmp_path / "engine.log",
                          extra=("--window", "--no-visual-spare", "--size", "128x128"),
                          env={"DISPLAY": xvfb.name, "QT_QPA_PLATFORM": "xcb"})

    def window_state() -> int | None:  # /engine/status/reply's last argument: -1 none, 0 windowed, 1 full
        reply = status_reply(engine.port)
        return int(reply[-1]) if reply else None  # type: ignore[call-overload]

    other = Listener()
    try:
        assert wait_until(lambda: window_state() == 0, 30, 0.2), "the window never opened"
        for wanted in (1, 0):  # full screen, then back
            other.send(engine.port, encode_message("/visual/fullscreen"))
            assert wait_until(lambda w=wanted: window_state() == w, 10, 0.1), f"the window never became {wanted}"
        other.wait_for(lambda r: r.count(("/done", ["/visual/fullscreen"])) == 2, timeout=5.0)
        assert engine.alive()
    finally:
        other.close()
        engine.stop()
    assert engine.process.returncode == 0, engine.log.read_text(errors="replace")[-2000:]
    assert "Traceback" not in engine.log.read_text(errors="replace")
