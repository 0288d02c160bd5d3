"""Attach to a shared-memory segment the engine owns, without taking over its cleanup.

The engine (the creator) alone unlinks a segment. On Python 3.13+ attaching says so (`track=False`).
Before 3.13 every attach registers the segment with the resource tracker; that is harmless here,
because the only attachers are processes the engine spawned, which share its tracker, and the
engine unregisters the segment when it unlinks it.
"""

from __future__ import annotations

import sys
from multiprocessing import shared_memory


def attach(name: str) -> shared_memory.SharedMemory:
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    return shared_memory.SharedMemory(name=name)
