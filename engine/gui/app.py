"""`run_engine.py console`: open the console for an engine at HOST:PORT, or save a screenshot of it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # one binding: mixing two in a process crashes
from PySide6 import QtCore, QtWidgets  # noqa: E402

from engine.gui.launch import process_alive  # noqa: E402
from engine.gui.main_window import ConsoleWindow  # noqa: E402
from engine.gui.osc_link import EngineLink  # noqa: E402
from engine.gui.theme import apply_dark_theme  # noqa: E402


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
    app = application()
    window = open_console(host, port)
    signal.signal(signal.SIGINT, lambda *_: app.quit())  # Ctrl-C on the terminal closes it
    poke = QtCore.QTimer()
    poke.start(200)  # lets Python see the signal while Qt's loop runs
    poke.timeout.connect(lambda: None)
    if follow_pid is not None:
        poke.timeout.connect(lambda: process_alive(follow_pid) or window.close())
    if screenshot is not None and seconds is None:
        seconds = 3.0
    if seconds is not None:
        QtCore.QTimer.singleShot(int(seconds * 1000), lambda: _finish(window, screenshot))
    app.exec()
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
