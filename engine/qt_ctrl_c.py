"""Ctrl-C (SIGINT) ends a Qt event loop whenever it comes.

Python runs a signal handler only between bytecodes of the main thread, so while Qt's loop runs it
runs when Qt next calls into Python (a timer: `exec` keeps one ticking). Two moments need care:
- before the handler is in place, Python's default raises KeyboardInterrupt wherever the main
  thread is, which may be inside a C++ virtual that PySide calls (a crash, not an exit): so the
  handler goes in before any window is made;
- before the loop runs, `QCoreApplication.quit()` is a no-op and the loop would run on: so the
  handler also sets a flag that `exec` reads before, and just after, the loop starts.
"""

from __future__ import annotations

import signal
import threading
from types import TracebackType

from PySide6 import QtCore, QtWidgets

PYTHON_TICK_MS = 100  # how soon a Ctrl-C is seen when nothing else calls into Python


class QuitOnCtrlC:
    """While entered (on the main thread), Ctrl-C quits Qt's loop instead of raising."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._previous: object = None
        self._installed = False

    def __enter__(self) -> QuitOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._installed = False

    def _handle(self, *_: object) -> None:
        self.requested.set()
        QtCore.QCoreApplication.quit()

    def exec(self, app: QtWidgets.QApplication, owner: QtCore.QObject) -> int:
        """`app.exec()`, or 0 at once when Ctrl-C came already. The timers belong to `owner`, so none
        outlives this loop into a later one."""
        if self.requested.is_set():
            return 0
        check = QtCore.QTimer(owner)
        check.setSingleShot(True)
        check.timeout.connect(lambda: app.quit() if self.requested.is_set() else None)
        check.start(0)
        poke = QtCore.QTimer(owner)
        poke.timeout.connect(lambda: None)
        poke.start(PYTHON_TICK_MS)
        try:
            return int(app.exec())
        finally:
            check.stop()
            poke.stop()
