"""ITU-R BS.1770 K-weighting (the two-stage pre-filter) for any sample rate, and a streaming filter.

BS.1770-4 Table 1/2 give the biquads at 48 kHz only. Both stages are bilinear transforms of analog
prototypes (a high shelf of about +4 dB above 1.7 kHz, the head's effect, and the RLB high-pass at
38 Hz), so the prototypes' corner, gain and Q recover the table at 48 kHz and give every other rate.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

# Analog prototypes that reproduce BS.1770's 48 kHz coefficients to 1e-8 (fitted to the table).
SHELF_HZ = 1681.974450955533
SHELF_GAIN_DB = 3.999843853973347
SHELF_Q = 0.7071752369554196
HIGHPASS_HZ = 38.13547087602444
HIGHPASS_Q = 0.5003270373238773

def kweighting_biquads(rate: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((b, a) of the high shelf, (b, a) of the RLB high-pass) at `rate`, a[0] = 1."""
    k = math.tan(math.pi * SHELF_HZ / rate)
    vh = 10.0 ** (SHELF_GAIN_DB / 20.0)
    vb = vh ** 0.4996667741545416  # the shelf's mid-band gain: half the boost in dB
    a0 = 1.0 + k / SHELF_Q + k * k
    shelf_b = np.array([vh + vb * k / SHELF_Q + k * k, 2.0 * (k * k - vh), vh - vb * k / SHELF_Q + k * k]) / a0
    shelf_a = np.array([a0, 2.0 * (k * k - 1.0), 1.0 - k / SHELF_Q + k * k]) / a0
    k = math.tan(math.pi * HIGHPASS_HZ / rate)
    a0 = 1.0 + k / HIGHPASS_Q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([a0, 2.0 * (k * k - 1.0), 1.0 - k / HIGHPASS_Q + k * k]) / a0
    return (shelf_b, shelf_a), (hp_b, hp_a)


class KWeightingFilter:
    """Streaming K-weighting of (frames, channels) blocks: both biquads as one fourth-order IIR
    filter (scipy's `lfilter`, their coefficients convolved) carrying its state from block to block,
    so any block size costs about the same per sample and the result is the standard's filter
    (within 1e-10 of the two biquads in series)."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        (shelf_b, shelf_a), (hp_b, hp_a) = kweighting_biquads(rate)
        self._b, self._a = np.convolve(shelf_b, hp_b), np.convolve(shelf_a, hp_a)
        self._state = np.zeros((channels, 4))

    def process(self, block: np.ndarray) -> np.ndarray:
        """The K-weighted block, float64 (frames, channels)."""
        # Channels first and contiguous: filtering along the last axis is scipy's fast path.
        rows = np.ascontiguousarray(np.asarray(block).T, dtype=np.float64)
        out, self._state = lfilter(self._b, self._a, rows, axis=-1, zi=self._state)
        return out.T
