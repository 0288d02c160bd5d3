"""The ring between the decoder thread and the audio callback, without a device: sizes, the wrap,
a full ring, and a read of more than is there."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.ring import AudioRing, ring_size


def frames(n: int, start: int = 0, channels: int = 2) -> np.ndarray:
    """(n, channels) float32 frames whose every sample says where it came from."""
    return np.arange(start * channels, (start + n) * channels, dtype=np.float32).reshape(n, channels)


@pytest.mark.parametrize(("asked", "capacity"), [(1, 1), (2, 2), (3, 4), (1000, 1024), (1024, 1024), (1025, 2048)])
def test_capacity_is_the_next_power_of_two(asked: int, capacity: int) -> None:
    assert ring_size(asked) == capacity
    ring = AudioRing(2, asked)
    assert ring.capacity == capacity
    assert (ring.write_available, ring.read_available) == (capacity, 0)


def test_frames_come_back_whole_across_the_wrap() -> None:
    ring = AudioRing(2, 8)
    out = np.zeros((6, 2), dtype=np.float32)
    assert ring.write(frames(6)) == 6
    assert ring.read_into(out) == 6
    np.testing.assert_array_equal(out, frames(6))
    # The next six frames start at slot 6 of 8: two before the end, four after the wrap.
    assert ring.write(frames(6, start=6)) == 6
    assert ring.read_available == 6
    assert ring.read_into(out) == 6
    np.testing.assert_array_equal(out, frames(6, start=6))
    assert ring.read_available == 0


def test_a_full_ring_takes_what_fits_and_keeps_the_oldest() -> None:
    ring = AudioRing(2, 8)
    assert ring.write(frames(5)) == 5
    assert ring.write(frames(5, start=5)) == 3  # only three slots were left
    assert ring.write_available == 0
    assert ring.write(frames(1, start=10)) == 0
    out = np.zeros((8, 2), dtype=np.float32)
    assert ring.read_into(out) == 8
    np.testing.assert_array_equal(out, frames(8))  # the first eight in order; the rest was never queued


def test_read_into_a_larger_block_fills_only_what_is_there() -> None:
    ring = AudioRing(2, 16)
    ring.write(frames(3))
    out = np.full((8, 2), -1.0, dtype=np.float32)
    assert ring.read_into(out) == 3
    np.testing.assert_array_equal(out[:3], frames(3))
    assert (out[3:] == -1.0).all()  # the rest of the block is untouched
    assert ring.read_into(out) == 0


def test_write_converts_to_float32() -> None:
    ring = AudioRing(1, 4)
    assert ring.write(np.array([[0.5], [0.25]], dtype=np.float64)) == 2
    out = np.zeros((2, 1), dtype=np.float32)
    assert ring.read_into(out) == 2
    assert out[:, 0].tolist() == [0.5, 0.25]
    assert (ring.read_available, ring.write_available) == (0, 4)
