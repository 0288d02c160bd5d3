"""A DC blocker (one-pole, one-zero high-pass, -3 dB at CORNER_HZ), vectorised over a block.

y[n] = x[n] - x[n-1] + r y[n-1] solved in closed form, y[n] = r^n (r y[-1] + sum_k r^-k d[k]) with
d = diff(x): a cumulative sum instead of a per-sample loop. r^-k stays small (about 4 over 2048
samples at 48 kHz), and blocks are cut into CHUNK pieces so it does for any block length.
"""

from __future__ import annotations

import math

import numpy as np

CORNER_HZ = 5.0
CHUNK = 2048


class DcBlocker:
    def __init__(self, rate: int, channels: int) -> None:
        self.r = math.exp(-2.0 * math.pi * CORNER_HZ / rate)
        self._last_x = np.zeros(channels)
        self._last_y = np.zeros(channels)
        self._powers: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _table(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n not in self._powers:
            k = np.arange(n, dtype=np.float64)[:, None]
            self._powers[n] = (self.r ** k, self.r ** -k)
        return self._powers[n]

    def process(self, block: np.ndarray) -> np.ndarray:
        """float64 (frames, channels)."""
        out = np.empty(block.shape, dtype=np.float64)
        for start in range(0, block.shape[0], CHUNK):
            x = block[start: start + CHUNK].astype(np.float64)
            d = np.diff(x, axis=0, prepend=self._last_x[None, :])
            up, down = self._table(x.shape[0])
            y = up * (self.r * self._last_y + np.cumsum(d * down, axis=0))
            out[start: start + x.shape[0]] = y
            self._last_x = x[-1].copy()
            self._last_y = y[-1].copy()
        return out
