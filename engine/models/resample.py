"""Sample-rate conversion between a model's rate and the engine's (nn~ models never resample)."""

from __future__ import annotations

import numpy as np
import soxr

_QUALITY = "HQ"


def _as_2d(block: np.ndarray) -> np.ndarray:
    block = np.asarray(block, dtype=np.float32)
    if block.ndim == 1:
        return block[:, None]
    if block.ndim != 2:
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {block.shape}")
    return block


def resample(x: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """One-shot conversion of a whole signal, (frames,) or (frames, channels), float32."""
    x = np.asarray(x, dtype=np.float32)
    if in_rate == out_rate:
        return x.copy()
    return soxr.resample(x, in_rate, out_rate, quality=_QUALITY).astype(np.float32, copy=False)


class Resampler:
    """Streaming converter: feed blocks of any size, get the converted frames available so far.

    Output block sizes vary around ``frames * out_rate / in_rate``; soxr keeps the filter state,
    so concatenated output equals a one-shot conversion (after ``flush()``).
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self._stream = soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality=_QUALITY)

    @property
    def ratio(self) -> float:
        return self.out_rate / self.in_rate

    def process(self, block: np.ndarray, *, last: bool = False) -> np.ndarray:
        """Convert one ``(frames, channels)`` block (1-D accepted for mono); returns ``(n, channels)``."""
        block = _as_2d(block)
        if block.shape[1] != self.channels:
            raise ValueError(f"block has {block.shape[1]} channels, resampler was made for {self.channels}")
        out = self._stream.resample_chunk(np.ascontiguousarray(block), last=last)
        return np.asarray(out, dtype=np.float32).reshape(-1, self.channels)

    def flush(self) -> np.ndarray:
        """The frames still held in the filter; call once at the end of a stream."""
        return self.process(np.zeros((0, self.channels), dtype=np.float32), last=True)

    def reset(self) -> None:
        """Forget the filter state (start of a new, unrelated stream)."""
        self._stream.clear()
