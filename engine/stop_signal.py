"""SIGTERM stops the live engine the way Ctrl-C does.

A process manager, `kill`, or a script that started the engine in the background stops it with
SIGTERM, and a background job started by a script has SIGINT ignored. Python's default for SIGTERM
ends the process at once: no report, and a recording left without its index. While the live engine
plays, SIGTERM is handed to whatever handles Ctrl-C at that moment (KeyboardInterrupt in the main
loop, or the Qt window's quit), so both end the set through the same clean stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


def _as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored or left to the C default: still stop cleanly
        signal.default_int_handler(signal.SIGINT, frame)


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While inside (on the main thread), SIGTERM acts as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
