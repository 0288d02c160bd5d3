"""A one-slot mailbox: the writer replaces what is there, the reader takes the newest.

The writer never waits for the reader: `put` swaps one reference under a lock that is only ever held
for that swap, so a reader that is busy sending (or stuck on a slow network) costs the writer nothing,
and a frame the reader had no time for is dropped and counted, never queued.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class NewestOnly(Generic[T]):
    def __init__(self) -> None:
        self._item: T | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.put_count = 0
        self.dropped = 0  # items replaced before the reader took them

    def put(self, item: T) -> None:
        """Leave `item` for the reader, replacing one it has not taken yet (counted as dropped)."""
        with self._lock:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self.put_count += 1
        self._ready.set()

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item, waiting up to `timeout` seconds for one; None if none came."""
        if not self._ready.wait(timeout):
            return None
        with self._lock:
            item, self._item = self._item, None
            self._ready.clear()
        return item

    def wake(self) -> None:
        """Let a waiting `take` return (with None if nothing is there): used to stop the reader."""
        self._ready.set()
