"""Training examples cropped from a pool of longer clips that is renewed one clip per step.

Synthesising (or decoding) audio costs about as much as a training step on two CPU cores; cropping
each clip several times at random offsets and levels cuts that cost without repeating examples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

MIN_PEAK_DB, MAX_PEAK_DB = -24.0, -1.0
SILENT_PEAK = 1e-4


class ClipPool:
    def __init__(
        self, make_clip: Callable[[np.random.Generator], np.ndarray], rng: np.random.Generator, size: int, crop: int
    ) -> None:
        self._make, self._rng, self.crop = make_clip, rng, crop
        self.clips = [self._fresh() for _ in range(size)]
        self._next = 0

    def _fresh(self) -> np.ndarray:
        clip = np.asarray(self._make(self._rng), dtype=np.float32).reshape(-1)
        if len(clip) < self.crop:
            clip = np.pad(clip, (0, self.crop - len(clip)))
        return clip

    def renew(self, count: int = 1) -> None:
        """Replace the ``count`` oldest clips."""
        for _ in range(count):
            self.clips[self._next] = self._fresh()
            self._next = (self._next + 1) % len(self.clips)

    def batch(self, size: int) -> torch.Tensor:
        """``size`` random crops, each at a random peak level between -24 and -1 dBFS, shaped (B, 1, crop)."""
        out = np.empty((size, self.crop), dtype=np.float32)
        for row in range(size):
            clip = self.clips[int(self._rng.integers(0, len(self.clips)))]
            start = int(self._rng.integers(0, len(clip) - self.crop + 1))
            crop = clip[start : start + self.crop]
            peak = float(np.max(np.abs(crop)))
            gain = 10 ** (self._rng.uniform(MIN_PEAK_DB, MAX_PEAK_DB) / 20) / peak if peak > SILENT_PEAK else 1.0
            out[row] = crop * gain
        return torch.from_numpy(out)[:, None, :]
