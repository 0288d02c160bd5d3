"""ITU-R BS.1770 K-weighting (the two-stage pre-filter) for any sample rate, and a streaming filter.

BS.1770-4 Table 1/2 give the biquads at 48 kHz only. Both stages are bilinear transforms of analog
prototypes (a high shelf of about +4 dB above 1.7 kHz, the head's effect, and the RLB high-pass at
38 Hz), so the prototypes' corner, gain and Q recover the table at 48 kHz and give every other rate.
"""

from __future__ import annotations

import math

import numpy as np

# Analog prototypes that reproduce BS.1770's 48 kHz coefficients to 1e-8 (fitted to the table).
SHELF_HZ = 1681.974450955533
SHELF_GAIN_DB = 3.999843853973347
SHELF_Q = 0.7071752369554196
HIGHPASS_HZ = 38.13547087602444
HIGHPASS_Q = 0.5003270373238773

# The impulse response (the RLB high-pass's double pole) is down to 1e-3 of its peak after 35 ms:
# that much history keeps a 2048-sample frame in a 4096-point FFT, and a loudness within 0.001 dB.
TAIL_SECONDS = 0.035


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


def kweighting_response(rate: int, freqs: np.ndarray) -> np.ndarray:
    """Complex response of both stages at `freqs` (Hz)."""
    z1 = np.exp(-2j * np.pi * np.asarray(freqs, dtype=np.float64) / rate)
    h = np.ones_like(z1)
    for b, a in kweighting_biquads(rate):
        h *= (b[0] + b[1] * z1 + b[2] * z1 * z1) / (a[0] + a[1] * z1 + a[2] * z1 * z1)
    return h


class KWeightingFilter:
    """Streaming K-weighting of (frames, channels) blocks by overlap-save FFT convolution.

    numpy has no IIR filter and a per-sample Python loop costs milliseconds a frame; the filter's
    impulse response has all but died out after TAIL_SECONDS, so an FFT of history + block does."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.tail = int(math.ceil(TAIL_SECONDS * rate))
        self._history = np.zeros((self.tail, channels))
        self._responses: dict[int, np.ndarray] = {}

    def _response(self, size: int) -> np.ndarray:
        if size not in self._responses:
            self._responses[size] = kweighting_response(self.rate, np.fft.rfftfreq(size, 1.0 / self.rate))[:, None]
        return self._responses[size]

    def process(self, block: np.ndarray) -> np.ndarray:
        """The K-weighted block, float64 (frames, channels)."""
        n = block.shape[0]
        size = 1 << (self.tail + n - 1).bit_length()
        padded = np.zeros((size, block.shape[1]))  # zeros in front stand for samples older than the history
        padded[size - n - self.tail: size - n] = self._history
        padded[size - n:] = block
        self._history = padded[size - self.tail:].copy()
        out = np.fft.irfft(np.fft.rfft(padded, axis=0) * self._response(size), n=size, axis=0)
        return out[size - n:]
