"""The output window: shows each new frame once, the newest on screen, and refuses a missing screen."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6 import QtCore, QtTest  # noqa: E402
from waiting import wait_until  # noqa: E402

from engine.errors import VisualError  # noqa: E402
from engine.visual.window import VisualWindow, application, run_window  # noqa: E402


@pytest.fixture(autouse=True)
def on_xvfb(qapp: object) -> None:
    """The process's one QApplication, on the Xvfb display the console's tests use too: whichever file
    runs first, the other finds the platform it needs (a QApplication cannot change it)."""

COLOURS = [(220, 30, 40), (20, 190, 70), (30, 50, 230), (240, 220, 30)]


class ChangingSource:
    """A new solid-colour 96x64 frame every `every` polls; None in between, like an idle buffer."""

    def __init__(self, every: int = 3) -> None:
        self.every = every
        self.calls = 0
        self.frames = [np.full((64, 96, 3), colour, dtype=np.uint8) for colour in COLOURS]

    def __call__(self) -> tuple[int, np.ndarray] | None:
        self.calls += 1
        if self.calls % self.every:
            return None
        index = self.calls // self.every
        return index, self.frames[index % len(self.frames)]


def spin_until(condition: Callable[[], object], timeout: float = 5.0) -> bool:
    """Run Qt's event loop (the window's poll timer, its repaints) until `condition` holds."""
    app = application()

    def pumped() -> object:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 10)
        return condition()

    return wait_until(pumped, timeout, interval=0)


@pytest.fixture
def source() -> ChangingSource:
    return ChangingSource()


@pytest.fixture
def window(source: ChangingSource) -> Iterator[VisualWindow]:
    application()
    win = VisualWindow(source, poll_hz=200, show_fps=True)
    win.resize(320, 240)  # wider than the frame's 3:2: the picture is letterboxed, centred
    win.show()
    yield win
    win.close()
    win.deleteLater()


def test_new_frames_are_shown_and_the_newest_is_on_screen(window: VisualWindow, source: ChangingSource) -> None:
    assert window.frames_shown == 0 and window.last_index is None
    assert spin_until(lambda: window.frames_shown >= 5), window.frames_shown
    assert source.calls >= 3 * window.frames_shown  # polled often, drawn only when new
    image = window.grab().toImage()
    colour = image.pixelColor(image.width() // 2, image.height() // 2)
    assert window.last_index is not None
    expected = COLOURS[window.last_index % len(COLOURS)]
    assert np.abs(np.array([colour.red(), colour.green(), colour.blue()]) - expected).max() <= 2


def test_an_unchanged_index_is_not_redrawn() -> None:
    application()
    frame = np.zeros((32, 32, 3), dtype=np.uint8)
    polls: list[int] = []

    def source() -> tuple[int, np.ndarray]:
        polls.append(7)
        return 7, frame

    win = VisualWindow(source, poll_hz=200)
    try:
        assert spin_until(lambda: len(polls) >= 20), len(polls)
        assert win.frames_shown == 1
    finally:
        win.close()


def test_keys_toggle_fullscreen(window: VisualWindow) -> None:
    QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_F)
    assert window.isFullScreen()
    QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_Escape)
    assert not window.isFullScreen()
    QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_F)
    QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_F)
    assert not window.isFullScreen()


def test_a_screen_that_is_not_there_is_refused() -> None:
    application()
    with pytest.raises(VisualError, match=r"screen 9 is out of range: expected 0 to \d+; screens: 0: "):
        VisualWindow(ChangingSource(), screen=9)
    win = VisualWindow(ChangingSource(), screen=0)  # the first screen is always there
    win.close()


@pytest.mark.realtime
def test_run_window_stops_after_seconds() -> None:
    source = ChangingSource()
    started = time.monotonic()
    assert run_window(source, screen=None, fullscreen=False, seconds=0.3) == 0
    assert 0.25 < time.monotonic() - started < 3.0
    assert source.calls > 10


def test_event_loops_after_the_window_still_run() -> None:
    # The closed window's Quit event, left posted and delivered outside any loop (as pytest-qt does
    # between tests), set the thread's quit flag: every later loop in the process (a console's,
    # pytest-qt's waits) returned at once, and timers and sockets went dead for the rest of the run.
    assert run_window(ChangingSource(), screen=None, fullscreen=False, seconds=0.1) == 0
    QtCore.QCoreApplication.processEvents()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    QtCore.QCoreApplication.processEvents()
    loop, fired = QtCore.QEventLoop(), []
    QtCore.QTimer.singleShot(50, lambda: (fired.append(True), loop.quit()))
    QtCore.QTimer.singleShot(2000, loop.quit)
    loop.exec()
    assert fired, "a later event loop ended before its timer fired"


def test_picture_is_upright_and_letterboxed() -> None:
    application()
    frame = np.zeros((60, 120, 3), dtype=np.uint8)  # 2:1, top half red, bottom half blue
    frame[:30] = (255, 0, 0)
    frame[30:] = (0, 0, 255)
    win = VisualWindow(lambda: (0, frame), poll_hz=200)
    win.resize(400, 400)
    win.show()
    try:
        assert spin_until(lambda: win.frames_shown == 1)
        image = win.grab().toImage()
        w, h = image.width(), image.height()

        def rgb(x: int, y: int) -> tuple[int, int, int]:
            c = image.pixelColor(x, y)
            return c.red(), c.green(), c.blue()

        assert rgb(w // 2, h // 2 - h // 8) == (255, 0, 0)  # upper half of the picture: red
        assert rgb(w // 2, h // 2 + h // 8) == (0, 0, 255)
        assert rgb(3, h // 2 - 2) == (255, 0, 0)  # fills the width...
        assert rgb(w // 2, 3) == (0, 0, 0)  # ...and black bars above and below keep its shape
    finally:
        win.close()



def test_run_window_ticks_and_hands_back_a_tick_failure() -> None:
    ticks = []

    def tick() -> None:
        ticks.append(time.monotonic())
        if len(ticks) == 3:
            raise RuntimeError("decoder thread stopped")

    with pytest.raises(RuntimeError, match="decoder thread stopped"):
        run_window(ChangingSource(), seconds=5.0, tick=tick, tick_seconds=0.02)
    assert len(ticks) == 3


@pytest.mark.parametrize("when", ["before the event loop", "inside the event loop"])
def test_ctrl_c_closes_the_window_whenever_it_comes(when: str) -> None:
    """The engine's Ctrl-C (SIGINT) ends the window at any moment: one that comes while the window is
    being made, before Qt's loop runs (where quit() alone is a no-op and the loop would run on), must
    not leave it open until `seconds`."""
    interrupt = lambda *_: os.kill(os.getpid(), signal.SIGINT)  # noqa: E731
    before = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    code = run_window(ChangingSource(), seconds=30.0,
                      on_window=interrupt if when == "before the event loop" else None,
                      tick=interrupt if when == "inside the event loop" else None, tick_seconds=0.05)
    assert code == 0
    assert time.monotonic() - started < 20.0  # closed by the signal, not by the 30 s timer
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is back
