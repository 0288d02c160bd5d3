"""The console's parts on their own: tap tempo, the parameter model, LFO shape previews, the status
panel, and the preview reading a real shared-memory frame buffer named by a fake engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from osc_fixtures import Listener  # noqa: E402

from engine.control.osc_codec import encode_message  # noqa: E402
from engine.control.tap_tempo import TapTempo  # noqa: E402
from engine.gui.osc_link import parse_target  # noqa: E402
from engine.gui.param_model import ParamModel  # noqa: E402
from engine.gui.widgets.lfo_panel import shape_curve  # noqa: E402
from engine.latent.lfo import _LfoState, lfo_value  # noqa: E402
from engine.visual.frame_buffer import FrameBuffer  # noqa: E402


def test_tap_tempo_is_the_median_of_the_taps_and_a_pause_starts_over() -> None:
    now = [0.0]
    tapper = TapTempo(clock=lambda: now[0])
    results = []
    for t in (0.0, 0.5, 1.0, 1.52, 2.0):
        now[0] = t
        results.append(tapper.tap())
    assert results[0] is None and results[-1] == pytest.approx(120.0, abs=0.5)
    now[0] = 10.0
    assert tapper.tap() is None  # a new count after a pause


def test_parse_target_names_the_bad_text() -> None:
    assert parse_target("10.0.0.2:9001") == ("10.0.0.2", 9001)
    assert parse_target(":9000") == ("127.0.0.1", 9000)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_target("localhost")
    with pytest.raises(ValueError, match="1..65535"):
        parse_target("h:0")


def test_the_lfo_previews_draw_what_the_engine_plays() -> None:
    state = _LfoState(rng=np.random.default_rng(0))
    phases = np.linspace(0, 1, 64, endpoint=False)
    for shape in ("sine", "triangle", "square", "saw"):
        engine = [lfo_value(shape, float(p), state) for p in phases]
        np.testing.assert_allclose(shape_curve(shape, phases), engine, atol=1e-9)


def test_the_parameter_model_follows_a_listing_and_a_grown_table(qapp) -> None:
    model = ParamModel()
    changed, wanted, seen = [], [], []
    model.table_changed.connect(lambda: changed.append(1))
    model.listing_wanted.connect(lambda: wanted.append(1))
    model.on_value("/rave/energy", [1.2])  # feedback that beats the listing is kept
    model.begin_listing()
    model.on_param("/engine/param", ["/rave/energy", "float", 0.3, 2.0, 1.0, "x"])
    model.on_param("/engine/param", ["/rave/latent/0/bias", "float", -3.0, 3.0, 0.0, "-"])
    model.on_param("/engine/param", ["/lfo/0/shape", "enum", 0, 1, "sine", "-", "sine", "saw"])
    model.on_list_done("/engine/list/done", [3])
    assert changed == [1] and model.latent_size() == 1
    assert model.params["/lfo/0/shape"].choices == ("sine", "saw")
    model.watch("/rave/energy", seen.append)
    assert seen == [1.2]
    model.on_value("/rave/energy", [0.5])
    assert seen == [1.2, 0.5]
    model.on_value("/rave/latent/5/bias", [0.1])  # a dimension it does not know: a bigger model
    assert wanted == [1]
    model.on_status("default.ts")
    model.on_status("other.ts")
    assert wanted == [1, 1]


@pytest.fixture
def fake_engine() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def test_the_preview_shows_the_engines_frames_and_the_status_panel_the_errors(
        qtbot, fake_engine: Listener, console_settings_file: Path) -> None:
    from PySide6 import QtWidgets

    from engine.gui.main_window import ConsoleWindow
    from engine.gui.osc_link import EngineLink

    frames = FrameBuffer.create(64, 48)
    window = ConsoleWindow(EngineLink("127.0.0.1", fake_engine.port))
    try:
        qtbot.addWidget(window)
        window.show()
        window.start()
        frames.write(np.full((48, 64, 3), (200, 40, 90), dtype=np.uint8), index=1, time_seconds=0.0)
        send = lambda *m: fake_engine.sock.sendto(encode_message(*m), ("127.0.0.1", window.link.port))  # noqa: E731
        send("/engine/frames", frames.name)
        send("/engine/error", "osc 10.0.0.9", "/rave/energy", "refused: nan is not a finite number")
        send("/engine/error", "osc 127.0.0.1", "/explore/subscribe", "unknown address")  # ours, optional
        window.findChild(QtWidgets.QDockWidget, "dock-Preview").raise_()
        qtbot.waitUntil(lambda: window.preview.frames_shown > 0, timeout=10_000)
        pixels = window.preview.image.image
        assert pixels.shape == (48, 64, 3) and tuple(pixels[10, 10]) == (200, 40, 90)
        window.refresh()
        errors = [window.status_panel.errors_view.item(i).text() for i in range(window.status_panel.errors_view.count())]
        assert len(errors) == 1 and "nan is not a finite number" in errors[0]
        window.close()
    finally:
        frames.close()


def test_the_window_fits_1280_by_800_and_keeps_its_state(qtbot, console_settings_file: Path) -> None:
    from engine.gui.main_window import ConsoleWindow
    from engine.gui.osc_link import EngineLink

    window = ConsoleWindow(EngineLink("127.0.0.1", 9))
    qtbot.addWidget(window)
    window.show()
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 800, hint
    window.tabs.setCurrentIndex(2)
    window.resize(1100, 700)
    window.close()
    assert console_settings_file.exists()
    again = ConsoleWindow(EngineLink("127.0.0.1", 9))
    qtbot.addWidget(again)
    assert again.tabs.currentIndex() == 2 and again.width() == 1100
    again.close()


def test_the_right_click_menu_learns_resets_and_copies_and_f_asks_for_fullscreen(
        qtbot, fake_engine: Listener, console_settings_file: Path) -> None:
    from PySide6 import QtCore, QtGui
    from PySide6.QtTest import QTest

    from engine.control.osc_server import OscServer
    from engine.gui.main_window import ConsoleWindow
    from engine.gui.osc_link import EngineLink
    from engine.gui.widgets.control_menu import control_menu
    from engine.params.table import build_param_table

    window = ConsoleWindow(EngineLink("127.0.0.1", fake_engine.port))
    qtbot.addWidget(window)
    window.show()
    window.model.begin_listing()
    for param in build_param_table(4):
        window.model.on_param("/engine/param", OscServer._describe(param))
    window.model.on_list_done("/engine/list/done", [1])
    fader = window.macros.faders["/rave/energy"]
    fader.show_value(1.7)
    menu = control_menu(fader, window.ctx, "/rave/energy")
    actions = {a.text().split(" ")[0]: a for a in menu.actions()}
    actions["MIDI"].trigger()
    actions["Reset"].trigger()
    actions["Copy"].trigger()
    assert QtGui.QGuiApplication.clipboard().text() == "/rave/energy"
    assert fader.value == pytest.approx(1.0)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)  # shortcuts act in the active window
    QTest.keyClick(window, QtCore.Qt.Key.Key_F)
    received = fake_engine.wait_for(lambda r: ("/visual/fullscreen", []) in r and ("/rave/energy", [1.0]) in r)
    assert ("/midi/learn", ["/rave/energy"]) in received
    window.close()


def test_a_quantise_selector_appears_when_the_engine_lists_one(qtbot, fake_engine: Listener,
                                                               console_settings_file: Path) -> None:
    from engine.control.osc_server import OscServer
    from engine.gui.main_window import ConsoleWindow
    from engine.gui.osc_link import EngineLink
    from engine.params.table import build_param_table

    window = ConsoleWindow(EngineLink("127.0.0.1", fake_engine.port))
    qtbot.addWidget(window)
    window.model.begin_listing()
    for param in build_param_table(2):
        window.model.on_param("/engine/param", OscServer._describe(param))
    assert not hasattr(window, "scenes")
    window.model.on_list_done("/engine/list/done", [1])  # the table has /launch/quantize
    assert [window.scenes.quantise.itemText(i) for i in range(5)] == ["off", "beat", "bar", "2bar", "4bar"]
    window.scenes.quantise.setCurrentIndex(2)
    fake_engine.wait_for(lambda r: ("/launch/quantize", ["bar"]) in r)
    window.close()


def test_a_console_opened_for_an_engine_closes_when_that_engine_is_gone(xvfb, tmp_path: Path) -> None:
    import subprocess
    import sys

    from gui_fixtures import ROOT
    from osc_fixtures import free_port

    stand_in = subprocess.Popen(["sleep", "600"])  # the engine that opened it, killed without a word
    env = {**xvfb.env, "RAVE_ENGINE_CONSOLE_SETTINGS": str(tmp_path / "console.ini")}
    console = subprocess.Popen([sys.executable, "run_engine.py", "console", "--connect", f"127.0.0.1:{free_port()}",
                                "--follow-pid", str(stand_in.pid)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        stand_in.kill()
        stand_in.wait()
        assert console.wait(timeout=120) == 0, console.stderr.read().decode(errors="replace")[-2000:]
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()


def test_a_bad_connect_address_gets_one_line_and_exit_2() -> None:
    from engine.cli import main

    assert main(["console", "--connect", "no-port-here"]) == 2
    assert main(["console", "--connect", "127.0.0.1:70000"]) == 2
    assert main(["console", "--connect", "127.0.0.1:9000", "--seconds", "0"]) == 2
