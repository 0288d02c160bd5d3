"""A look-ahead true-peak limiter, vectorised per block.

For every sample the gain that would keep its true peak at the ceiling is `need`. The applied gain
is the running minimum of `need` over the look-ahead window (so it is low before a peak arrives),
averaged over the same window (a linear attack over the look-ahead that still reaches `need` at
the peak), then released at RELEASE_DB_PER_S. The release is the recursion
g[n] = min(s[n], g[n-1] + r) in dB, which unrolls to a cumulative minimum: no per-sample loop.
"""

from __future__ import annotations

import numpy as np

from engine.dsp.true_peak import TruePeakDetector, sliding_min

LOOKAHEAD_SECONDS = 0.003
RELEASE_DB_PER_S = 40.0  # 6 dB of reduction recovers in 150 ms
MARGIN_DB = 0.05  # under the ceiling: the gain's own modulation moves inter-sample peaks a little


class TruePeakLimiter:
    """`process` returns the block delayed by `latency` samples, its true peak under the ceiling."""

    def __init__(self, rate: int, channels: int) -> None:
        self.window = max(2, round(LOOKAHEAD_SECONDS * rate))
        self.detector = TruePeakDetector(channels)
        self.latency = self.detector.delay + self.window - 1
        self.rate = rate
        # The last samples of the detector's output (audio, and peaks in the need window) carried over.
        self._audio = np.zeros((self.latency, channels), dtype=np.float32)
        self._need = np.ones(2 * self.window - 2)  # need of the samples the windows still look at
        self._peaks = np.zeros(2 * self.window - 2)  # their true peaks, for the output's
        self._last_peak = 0.0
        self._gain_db = 0.0  # the last applied gain, for the release
        self.last_gain = np.ones(0)
        self.last_peaks = np.zeros(0)

    def scale_pending(self, factor: float) -> None:
        """Scale the samples still in the look-ahead delay (they come out at the start of the next block).
        With `factor` <= 1 the gain already worked out for them stays safe: their peaks only fall."""
        if factor != 1.0:
            self._audio *= np.float32(factor)

    def process(self, block: np.ndarray, ceiling_db: float, exact_above: float = 1.0,
                release_db_per_s: float = RELEASE_DB_PER_S) -> np.ndarray:
        """float32 (frames, channels) out for (frames, channels) in.

        `last_peaks` then holds the output's true peak per sample: the input's times the gain (which
        moves by at most 0.2 dB over the interpolator's span), exact wherever it could exceed the
        ceiling or `exact_above` (a meter's level), and at most that elsewhere."""
        n = block.shape[0]
        ceiling = 10.0 ** ((ceiling_db - MARGIN_DB) / 20.0)
        peaks = self.detector.process(block, min(ceiling, exact_above))  # of the samples detector.delay back
        # A sample's gain must also hold on the interval ending at it, hence the previous interval's peak.
        before = np.concatenate([[self._last_peak], peaks[:-1]])
        self._last_peak = float(peaks[-1])
        need = ceiling / np.maximum(np.maximum(peaks, before), 1e-12)
        need = np.concatenate([self._need, np.minimum(need, 1.0)])
        self._need = need[-(2 * self.window - 2):]
        peaks = np.concatenate([self._peaks, peaks])
        self._peaks = peaks[-(2 * self.window - 2):]
        aligned = peaks[self.window - 1: self.window - 1 + n]  # the output samples' own
        audio = np.concatenate([self._audio, block.astype(np.float32, copy=False)])
        self._audio = audio[-self.latency:]
        audio = audio[:n]  # delayed by latency: aligned with the start of `need`
        if need.min() >= 1.0 and self._gain_db >= 0.0:
            self.last_gain = np.ones(n)
            self.last_peaks = aligned
            return np.array(audio, dtype=np.float32)
        lowest = sliding_min(need, self.window)  # n + window - 1 values; smooth[i] <= need[i + window - 1]
        cumulative = np.concatenate([[0.0], np.cumsum(lowest)])
        smooth = (cumulative[self.window:] - cumulative[:-self.window]) / self.window  # n values
        target_db = 20.0 * np.log10(smooth)
        steps = release_db_per_s / self.rate * np.arange(1, n + 1)
        gain_db = np.minimum(np.minimum.accumulate(target_db - steps) + steps, self._gain_db + steps)
        gain_db = np.minimum(gain_db, 0.0)
        self._gain_db = float(gain_db[-1])
        self.last_gain = 10.0 ** (gain_db / 20.0)
        self.last_peaks = aligned * self.last_gain
        return (audio * self.last_gain[:, None]).astype(np.float32)
