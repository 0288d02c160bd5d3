"""BS.1770-4 loudness of a stream: short-term (3 s) and integrated (gated) LUFS, at bounded cost.

K-weighted power is summed over channels (weight 1.0 each: left, right or mono) into 100 ms bins;
400 ms gating blocks (75 % overlap) are 4 consecutive bins. Integrated loudness keeps a histogram
of block loudness (0.05 LU bins, -70..+10 LUFS, each with its summed power), as libebur128 does, so
a set of any length costs the same memory and the gates are exact to 0.05 LU.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from engine.dsp.kweighting import KWeightingFilter

OFFSET = -0.691  # BS.1770: 10 log10 of power plus this reads -3.01 LUFS for a 0 dBFS 1 kHz sine, one channel
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
BIN_SECONDS = 0.1
SHORT_TERM_BINS = 30
GATING_BLOCK_BINS = 4  # a 400 ms gating block
HISTOGRAM_STEP = 0.05
HISTOGRAM_TOP = 10.0
SILENCE = -math.inf


def power_to_lufs(power: float) -> float:
    return OFFSET + 10.0 * math.log10(power) if power > 0.0 else SILENCE


def lufs_to_power(lufs: float) -> float:
    return 10.0 ** ((lufs - OFFSET) / 10.0)


class LoudnessMeter:
    """Feed it blocks (`push`), or K-weighted power already summed over channels (`push_power`)."""

    def __init__(self, rate: int, channels: int) -> None:
        self.filter = KWeightingFilter(rate, channels)
        self.bin_samples = max(1, round(BIN_SECONDS * rate))
        self._bin_sum = 0.0
        self._bin_fill = 0
        self._bins: deque[float] = deque(maxlen=SHORT_TERM_BINS)  # mean power of each finished bin
        size = round((HISTOGRAM_TOP - ABSOLUTE_GATE) / HISTOGRAM_STEP)
        self._counts = np.zeros(size, dtype=np.int64)
        self._sums = np.zeros(size)
        self._lower = ABSOLUTE_GATE + HISTOGRAM_STEP * np.arange(size)  # each bin's lower edge, LUFS

    def push(self, block: np.ndarray) -> None:
        weighted = self.filter.process(block)
        self.push_power(np.einsum("ij,ij->i", weighted, weighted))

    def push_power(self, power: np.ndarray) -> None:
        """Per-sample K-weighted power, summed over channels."""
        start = 0
        n = power.shape[0]
        while start < n:
            take = min(self.bin_samples - self._bin_fill, n - start)
            self._bin_sum += float(power[start: start + take].sum())
            self._bin_fill += take
            start += take
            if self._bin_fill == self.bin_samples:
                self._finish_bin(self._bin_sum / self.bin_samples)
                self._bin_sum, self._bin_fill = 0.0, 0

    def _finish_bin(self, mean_power: float) -> None:
        self._bins.append(mean_power)
        if len(self._bins) >= GATING_BLOCK_BINS:
            block = sum(list(self._bins)[-GATING_BLOCK_BINS:]) / GATING_BLOCK_BINS
            lufs = power_to_lufs(block)
            if lufs > ABSOLUTE_GATE:
                i = min(int((lufs - ABSOLUTE_GATE) / HISTOGRAM_STEP), self._counts.shape[0] - 1)
                self._counts[i] += 1
                self._sums[i] += block

    @property
    def short_term(self) -> float:
        """LUFS over the last 3 s (over what there is, during the first 3 s)."""
        return self.recent(SHORT_TERM_BINS)

    def recent(self, bins: int) -> float:
        """LUFS over the last `bins` 100 ms bins (at most 30)."""
        last = list(self._bins)[-bins:]
        return power_to_lufs(sum(last) / len(last)) if last else SILENCE

    @property
    def integrated(self) -> float:
        """Gated LUFS since the start (BS.1770-4: absolute gate -70 LUFS, relative gate -10 LU)."""
        count = int(self._counts.sum())
        if count == 0:
            return SILENCE
        relative = power_to_lufs(float(self._sums.sum()) / count) + RELATIVE_GATE
        keep = self._lower + HISTOGRAM_STEP > relative  # bins straddling the gate count in
        kept = int(self._counts[keep].sum())
        return power_to_lufs(float(self._sums[keep].sum()) / kept) if kept else SILENCE


def integrated_loudness(audio: np.ndarray, rate: int) -> float:
    """Integrated LUFS of a whole signal, (frames,) or (frames, channels)."""
    x = np.asarray(audio, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    meter = LoudnessMeter(rate, x.shape[1])
    meter.push(x)
    return meter.integrated
