"""The one way the tests wait: for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.01) -> bool:
    """Call `condition` until it is true or `timeout` seconds pass; whether it became true.

    `condition` may do work each call (tick an engine, drain a socket, pump Qt events); with such a
    condition, `interval` 0 keeps it going without a pause.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
