"""A brightness tilt: the 2-tap filter y[n] = (1 + b) x[n] - b x[n-1], unity gain at DC.

b > 0 lifts the highs (+4.1 dB at Nyquist for b = 0.3), b < 0 softens them (-8 dB at Nyquist for
b = -0.3). Two taps need one sample of memory per channel, so it streams across latent frames
without a click and costs two vector operations per frame.
"""

from __future__ import annotations

import numpy as np


def tilt_power(beta: float, freqs: np.ndarray, rate: int) -> np.ndarray:
    """|H(f)|^2 of the tilt at `freqs` (Hz)."""
    omega = 2.0 * np.pi * np.asarray(freqs, dtype=np.float64) / rate
    return np.abs((1.0 + beta) - beta * np.exp(-1j * omega)) ** 2


class SpectralTilt:
    def __init__(self, channels: int) -> None:
        self._last = np.zeros(channels, dtype=np.float32)
        self._scratch = np.zeros((0, channels), dtype=np.float32)  # grown once: no allocation per frame

    def process(self, audio: np.ndarray, beta: float) -> np.ndarray:
        """`audio` (samples, channels) tilted: a new float32 array, or `audio` itself (never written) at b = 0."""
        if beta == 0.0:
            self._last = audio[-1].astype(np.float32)
            return audio
        n = audio.shape[0]
        if self._scratch.shape[0] < n:
            self._scratch = np.zeros((n, audio.shape[1]), dtype=np.float32)
        out = np.multiply(audio, 1.0 + beta, dtype=np.float32)
        previous = np.multiply(audio[:-1], beta, out=self._scratch[: n - 1], dtype=np.float32)
        np.subtract(out[1:], previous, out=out[1:])
        out[0] -= np.float32(beta) * self._last
        self._last = audio[-1].astype(np.float32)
        return out
