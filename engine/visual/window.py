"""The output window: shows the generator's frames, full screen on the projector if asked.

It polls a frame source (usually the shared-memory frame buffer) on a precise Qt timer faster than
any generator runs and redraws only when the frame index changes, so it shows every frame the
generator makes, at the generator's rate, without ever blocking it. Drawing goes through pyqtgraph's
ImageItem on a plain (raster) GraphicsView: it needs no OpenGL, so it behaves the same on X11 (Xvfb
included), Wayland and Qt's offscreen platform (tests), where a QOpenGLWidget needs a working GL stack.
uint8 RGB takes pyqtgraph's no-conversion path, and the scene scales it to the window in one blit.

Keys: F toggles full screen, Escape leaves it, S toggles the fps overlay.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # one binding: mixing two in a process crashes
import pyqtgraph as pg  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from engine.errors import VisualError  # noqa: E402
from engine.qt_ctrl_c import QuitOnCtrlC  # noqa: E402

log = logging.getLogger(__name__)

FrameSource = Callable[[], tuple[int, np.ndarray] | None]
FPS_UPDATE_SECONDS = 0.5
TICK_SECONDS = 0.1  # run_window's housekeeping call when the caller names no interval
_app: QtWidgets.QApplication | None = None  # kept referenced: a collected QApplication takes Qt with it


def check_pyside() -> None:
    """Refuse PySide6 6.12 on CPython 3.11: its wrappers give back None from void Qt methods without a
    reference, so the interpreter aborts within seconds ("none_dealloc"). pyproject pins below it."""
    import PySide6

    if sys.version_info < (3, 12) and PySide6.__version__.startswith("6.12"):
        raise VisualError(f"PySide6 {PySide6.__version__} crashes Python {sys.version.split()[0]}; "
                          "install PySide6-Essentials<6.12 (pip install 'PySide6-Essentials<6.12') or use Python 3.12+")


check_pyside()


def application() -> QtWidgets.QApplication:
    """The process's QApplication, made on first use."""
    global _app
    existing = QtWidgets.QApplication.instance()
    if existing is not None:
        return existing  # type: ignore[return-value]
    _app = QtWidgets.QApplication(["rave-engine"])
    return _app


def describe_screens() -> str:
    screens = QtGui.QGuiApplication.screens()
    if not screens:
        return "none"
    parts = []
    for i, screen in enumerate(screens):
        g = screen.geometry()
        parts.append(f"{i}: {screen.name() or 'unnamed'} {g.width()}x{g.height()} at ({g.x()}, {g.y()})")
    return "; ".join(parts)


class VisualWindow(QtWidgets.QWidget):
    """A top-level window showing the newest frame of `source`.

    `source()` returns (frame_index, uint8 (height, width, 3) RGB) or None when nothing is new; it is
    called `poll_hz` times a second on the GUI thread, so it must be quick (a shared-memory copy).
    """

    def __init__(self, source: FrameSource, *, title: str = "rave-engine visuals", screen: int | None = None,
                 fullscreen: bool = False, poll_hz: float = 120.0, show_fps: bool = False) -> None:
        application()
        target = _pick_screen(screen)
        if not 1 <= poll_hz <= 1000:
            raise VisualError(f"poll_hz must be from 1 to 1000, got {poll_hz!r}")
        super().__init__()
        self._source = source
        self.frames_shown = 0
        self.source_errors = 0
        self._last_index: int | None = None
        self._shape: tuple[int, ...] | None = None
        self._rate_mark = (time.perf_counter(), 0)
        self.shown_fps = 0.0

        self.setWindowTitle(title)
        self.setStyleSheet("background: black;")
        self._view = pg.GraphicsLayoutWidget()
        self._view.setBackground("k")
        self._view.ci.layout.setContentsMargins(0, 0, 0, 0)
        self._view.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys reach this window, not the scene
        self._box = self._view.addViewBox(lockAspect=True, invertY=True, enableMouse=False,
                                          enableMenu=False, defaultPadding=0.0)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._box.addItem(self._image)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._view)

        self._overlay = QtWidgets.QLabel(self)
        self._overlay.setStyleSheet("color: white; background: rgba(0, 0, 0, 140); padding: 2px 6px;"
                                    " font: 11px monospace;")
        self._overlay.move(8, 8)
        self._overlay.setVisible(show_fps)
        self._overlay.raise_()
        self._set_overlay_text()

        self.resize(960, 540)
        if target is not None:
            self.winId()  # makes the native window, so the screen is chosen before it is shown
            handle = self.windowHandle()
            if handle is not None:
                handle.setScreen(target)
            area = target.availableGeometry()
            self.move(area.topLeft() + QtCore.QPoint(40, 40))
        self._want_fullscreen = fullscreen

        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setInterval(max(1, round(1000.0 / poll_hz)))
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    @property
    def last_index(self) -> int | None:
        """Index of the frame on screen; None before the first."""
        return self._last_index

    # --- showing frames ----------------------------------------------------------------------
    def poll(self) -> bool:
        """Take the source's newest frame; True if it was new and is now shown."""
        try:
            item = self._source()
        except Exception:
            self.source_errors += 1
            if self.source_errors == 1:  # at 120 Hz a broken source would flood the log
                log.exception("the frame source failed; the window keeps the last frame")
            return False
        if item is None:
            return False
        index, rgb = item
        if index == self._last_index:
            return False
        self._last_index = index
        self._image.setImage(rgb, autoLevels=False, levels=None)
        if rgb.shape != self._shape:  # a new size: fit it to the window once, then aspect is kept
            self._shape = rgb.shape
            self._box.autoRange(padding=0.0)
        self.frames_shown += 1
        self._tick_rate()
        return True

    def _tick_rate(self) -> None:
        now = time.perf_counter()
        since, count = self._rate_mark
        if now - since >= FPS_UPDATE_SECONDS:
            self.shown_fps = (self.frames_shown - count) / (now - since)
            self._rate_mark = (now, self.frames_shown)
            if self._overlay.isVisible():
                self._set_overlay_text()

    def _set_overlay_text(self) -> None:
        self._overlay.setText(f"{self.shown_fps:5.1f} fps  frame {self._last_index if self._last_index is not None else '-'}")
        self._overlay.adjustSize()

    # --- window behaviour ----------------------------------------------------------------------
    def show(self) -> None:
        if self._want_fullscreen:
            self.showFullScreen()
        else:
            super().show()

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        key = event.key()
        if key == QtCore.Qt.Key.Key_F:
            self.toggle_fullscreen()
        elif key == QtCore.Qt.Key.Key_Escape:
            if self.isFullScreen():
                self.showNormal()
        elif key == QtCore.Qt.Key.Key_S:
            self._overlay.setVisible(not self._overlay.isVisible())
            self._set_overlay_text()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self._timer.stop()
        super().closeEvent(event)


def _pick_screen(screen: int | None) -> QtGui.QScreen | None:
    if screen is None:
        return None
    screens = QtGui.QGuiApplication.screens()
    if isinstance(screen, bool) or not isinstance(screen, int) or not 0 <= screen < len(screens):
        raise VisualError(f"screen {screen!r} is out of range: expected 0 to {len(screens) - 1}; "
                          f"screens: {describe_screens()}")
    return screens[screen]


def run_window(source: FrameSource, *, screen: int | None = None, fullscreen: bool = False,
               seconds: float | None = None, title: str = "rave-engine visuals", poll_hz: float = 120.0,
               show_fps: bool = False, tick: Callable[[], None] | None = None,
               tick_seconds: float = TICK_SECONDS,
               on_window: Callable[[VisualWindow], None] | None = None) -> int:
    """Show `source` in a window until it is closed (or `seconds` pass); returns the event loop's code.
    `on_window` is handed the window once it exists (the caller's `tick` may then act on it).

    `tick`: the caller's housekeeping, called every `tick_seconds` from the event loop (the engine
    runs with the window in the main thread). An exception from it closes the window and is raised
    here, as it would be from the caller's own loop, instead of being printed and ignored by Qt.
    """
    with QuitOnCtrlC() as ctrl_c:  # in place before any Qt object is made (see engine/qt_ctrl_c.py)
        app = application()
        window = VisualWindow(source, title=title, screen=screen, fullscreen=fullscreen, poll_hz=poll_hz,
                              show_fps=show_fps)
        if on_window is not None:
            on_window(window)
        failure: list[BaseException] = []
        ticker = QtCore.QTimer(window)
        if tick is not None:
            def call_tick() -> None:
                try:
                    tick()
                except BaseException as exc:  # handed back to the caller below, not lost in Qt
                    failure.append(exc)
                    ticker.stop()
                    app.quit()

            ticker.timeout.connect(call_tick)
            ticker.start(max(1, round(tick_seconds * 1000)))
        window.show()
        if seconds is not None:  # owned by the window, so it cannot outlive this call into a later loop
            limit = QtCore.QTimer(window)
            limit.setSingleShot(True)
            limit.timeout.connect(app.quit)
            limit.start(max(0, round(seconds * 1000)))
        try:
            code = ctrl_c.exec(app, window)
        finally:
            ticker.stop()
            window.close()
            window.deleteLater()
            # Closing the last window posts a Quit event; delivered after this loop has ended it would set
            # the thread's quit flag, and every later event loop in the process (a console's, a test's)
            # would return at once without running a timer or reading a socket.
            QtCore.QCoreApplication.removePostedEvents(app, QtCore.QEvent.Type.Quit)
        if failure:
            raise failure[0]
        return code

