"""RGB frames between processes: a shared-memory triple buffer that readers never see torn.

One writer (the visual process) cycles through three slots; any number of readers (the window, the
recorder, OSC previews) copy the newest. Each slot carries a sequence number, odd while the writer
is inside it (a seqlock): a reader notes it, copies the pixels, and keeps the copy only if the number
is unchanged and even. With three slots the writer would have to finish two whole frames during one
copy to force a retry, so readers almost never retry and the writer never waits for anyone.
No pickling: the pixels go straight from the generator's array into shared memory.
"""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing import shared_memory

import numpy as np

from engine.visual.shm import attach

SLOTS = 3
# Header, int64: [latest slot (-1: none yet), width, height, then per slot: seq, frame index]; then
# float64 per slot: frame time.
_LATEST, _WIDTH, _HEIGHT = 0, 1, 2
_SEQ0 = 3
_INDEX0 = _SEQ0 + SLOTS
_HEADER_INTS = _INDEX0 + SLOTS
_HEADER_BYTES = 8 * (_HEADER_INTS + SLOTS)


class FrameBuffer:
    """The shared triple buffer; `create` in the engine, `attach` by name in other processes."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self.shm = shm
        self.owner = owner
        self._ints = np.ndarray((_HEADER_INTS,), dtype=np.int64, buffer=shm.buf)
        self._times = np.ndarray((SLOTS,), dtype=np.float64, buffer=shm.buf, offset=8 * _HEADER_INTS)
        self.width = int(self._ints[_WIDTH])
        self.height = int(self._ints[_HEIGHT])
        self.slots = np.ndarray((SLOTS, self.height, self.width, 3), dtype=np.uint8, buffer=shm.buf,
                                offset=_HEADER_BYTES)
        self._next = 0
        self.retries = 0  # reader copies discarded because the writer came round (counted, never shown)

    @classmethod
    def create(cls, width: int, height: int) -> FrameBuffer:
        shm = shared_memory.SharedMemory(create=True, size=_HEADER_BYTES + SLOTS * width * height * 3)
        ints = np.ndarray((_HEADER_INTS,), dtype=np.int64, buffer=shm.buf)
        ints[:] = 0
        ints[_LATEST], ints[_WIDTH], ints[_HEIGHT] = -1, width, height
        del ints  # no exported views may outlive close()
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, name: str) -> FrameBuffer:
        return cls(attach(name), owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

    # --- writer (one process) --------------------------------------------------------------
    def write(self, rgb: np.ndarray, index: int, time_seconds: float) -> None:
        latest = int(self._ints[_LATEST])
        slot = self._next if self._next != latest else (self._next + 1) % SLOTS
        self._ints[_SEQ0 + slot] += 1  # odd: inside
        self.slots[slot] = rgb
        self._ints[_INDEX0 + slot] = index
        self._times[slot] = time_seconds
        self._ints[_SEQ0 + slot] += 1  # even: complete
        self._ints[_LATEST] = slot
        self._next = (slot + 1) % SLOTS

    def repair(self) -> None:
        """After a writer was killed inside `write`: make every slot's sequence even again, so the next
        writer's parity is right. Only while no writer runs."""
        for slot in range(SLOTS):
            self._ints[_SEQ0 + slot] += self._ints[_SEQ0 + slot] & 1

    # --- readers (any number of processes) ---------------------------------------------------
    @property
    def latest_index(self) -> int:
        """Index of the newest complete frame, -1 before the first (cheap: no copy)."""
        slot = int(self._ints[_LATEST])
        return -1 if slot < 0 else int(self._ints[_INDEX0 + slot])

    def read(self, out: np.ndarray | None = None, attempts: int = 8) -> tuple[int, float, np.ndarray] | None:
        """Copy the newest complete frame: (index, time, pixels), or None before the first frame."""
        if out is None:
            out = np.empty((self.height, self.width, 3), dtype=np.uint8)
        for _ in range(attempts):
            slot = int(self._ints[_LATEST])
            if slot < 0:
                return None
            seq = int(self._ints[_SEQ0 + slot])
            if seq & 1:
                self.retries += 1
                continue
            np.copyto(out, self.slots[slot])
            index, time_seconds = int(self._ints[_INDEX0 + slot]), float(self._times[slot])
            if int(self._ints[_SEQ0 + slot]) == seq:
                return index, time_seconds, out
            self.retries += 1
        return None

    def read_newer(self, than: int, out: np.ndarray | None = None) -> tuple[int, float, np.ndarray] | None:
        """Like `read`, but None (and no copy) unless the newest frame's index differs from `than`."""
        if self.latest_index == than:
            return None
        got = self.read(out)
        return None if got is None or got[0] == than else got

    def close(self) -> None:
        del self.slots, self._ints, self._times
        self.shm.close()
        if self.owner:
            self.shm.unlink()


def newest_reader(frames: FrameBuffer) -> Callable[[], tuple[int, np.ndarray] | None]:
    """A window source that copies a frame only when a new one is there."""
    shown = -1

    def newest() -> tuple[int, np.ndarray] | None:
        nonlocal shown
        got = frames.read_newer(shown)
        if got is None:
            return None
        shown = got[0]
        return got[0], got[2]

    return newest
