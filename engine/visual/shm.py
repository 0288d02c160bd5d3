"""Attach to a shared-memory segment the engine owns, without taking over its cleanup.

On Python before 3.13 every attach registers the segment with the attaching process's resource
tracker, which would unlink it when that process exits: a crashed visual process would then pull
the frames out from under the window. The engine (the creator) alone unlinks.
"""

from __future__ import annotations

import sys
from multiprocessing import resource_tracker, shared_memory


def attach(name: str) -> shared_memory.SharedMemory:
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    shm = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm
