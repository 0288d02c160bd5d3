"""`run_engine.py console`: open the console for an engine at HOST:PORT, or save a screenshot of it."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # one binding: mixing two in a process crashes
from PySide6 import QtCore, QtWidgets  # noqa: E402

from engine.gui.launch import process_alive  # noqa: E402
from engine.gui.main_window import ConsoleWindow  # noqa: E402
from engine.gui.osc_link import EngineLink  # noqa: E402
from engine.gui.theme import apply_dark_theme  # noqa: E402
from engine.qt_ctrl_c import QuitOnCtrlC  # noqa: E402


def application() -> QtWidgets.QApplication:
    existing = QtWidgets.QApplication.instance()
    if existing is not None:
        return existing  # type: ignore[return-value]
    # One GL share group for every view: pyqtgraph.opengl keeps compiled shaders between views, and a
    # second map view (a rebuilt window) must be able to use them.
    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication(["rave-engine console"])
    app.setApplicationName("rave-engine console")
    return app


def open_console(host: str, port: int) -> ConsoleWindow:
    """A started console window (its QApplication made and themed if needed)."""
    apply_dark_theme(application())
    window = ConsoleWindow(EngineLink(host, port))
    window.show()
    window.start()
    return window


def run_console(host: str, port: int, *, screenshot: Path | None = None, seconds: float | None = None,
                follow_pid: int | None = None) -> int:
    """Run until the window closes, or for `seconds`; with `screenshot`, save the window there at the end.
    `follow_pid`: close when that process (the engine that opened the console) has gone, however it ended."""
    with QuitOnCtrlC() as ctrl_c:  # Ctrl-C on the terminal closes it, even while it opens
        app = application()
        window = open_console(host, port)
        if follow_pid is not None:
            follow = QtCore.QTimer(window)
            follow.timeout.connect(lambda: process_alive(follow_pid) or window.close())
            follow.start(200)
        if screenshot is not None and seconds is None:
            seconds = 3.0
        if seconds is not None:
            QtCore.QTimer.singleShot(int(seconds * 1000), lambda: _finish(window, screenshot))
        ctrl_c.exec(app, window)
    return 0


def _finish(window: ConsoleWindow, screenshot: Path | None) -> None:
    if screenshot is not None:
        for _ in range(3):
            window.refresh()  # every view, plots included
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(screenshot), "PNG"):
            raise OSError(f"could not write {screenshot}")
    window.close()
    QtWidgets.QApplication.instance().quit()  # type: ignore[union-attr]
