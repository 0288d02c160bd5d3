"""The single-producer single-consumer ring between the decoder thread and the audio callback.

It is PortAudio's lock-free `PaUtilRingBuffer` (through rtmixer's `RingBuffer`): the C callback
reads it without the GIL, the decoder thread writes it. Sizes are powers of two, in frames.
"""

from __future__ import annotations

import numpy as np
import rtmixer


def ring_size(min_frames: int) -> int:
    size = 1
    while size < min_frames:
        size *= 2
    return size


class AudioRing:
    """Float32 interleaved frames; `write` copies from numpy, the callback reads in C."""

    def __init__(self, channels: int, min_frames: int) -> None:
        self.channels = channels
        self.capacity = ring_size(min_frames)
        self.ring = rtmixer.RingBuffer(4 * channels, self.capacity)

    @property
    def read_available(self) -> int:
        return self.ring.read_available

    @property
    def write_available(self) -> int:
        return self.ring.write_available

    def write(self, block: np.ndarray) -> int:
        """Write as many frames of a (frames, channels) float32 block as fit; returns how many."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        return self.ring.write(block, min(block.shape[0], self.ring.write_available))

    def read_into(self, out: np.ndarray) -> int:
        """Read up to len(out) frames into a preallocated (frames, channels) float32 array."""
        return self.ring.readinto(out)
