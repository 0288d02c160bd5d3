"""True peak (BS.1770-4 Annex 2): the peak of the signal 4x oversampled, so inter-sample overs count.

The interpolator is a windowed sinc in polyphase form: each of the 3 in-between phases is a 24-tap
dot product, done for a whole block as one matrix product (no per-sample Python).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

OVERSAMPLE = 4
TAPS = 24  # per phase (96 at the oversampled rate): never reads below scipy's resample_poly 4x
KAISER_BETA = 6.0


def interpolation_kernel(oversample: int = OVERSAMPLE, taps: int = TAPS) -> np.ndarray:
    """(taps, oversample - 1): column p - 1 interpolates at n + p / oversample from x[n - taps/2 + 1 .. n + taps/2]."""
    half = taps // 2
    offsets = np.arange(-half + 1, half + 1)  # sample positions relative to n
    columns = []
    for p in range(1, oversample):
        distance = p / oversample - offsets  # in (-half, half)
        window = np.i0(KAISER_BETA * np.sqrt(1.0 - (distance / half) ** 2)) / np.i0(KAISER_BETA)
        h = np.sinc(distance) * window
        columns.append(h / h.sum())  # unity gain at DC
    return np.stack(columns, axis=1)


class TruePeakDetector:
    """Streaming per-sample true peak: `process` returns, for each sample of the block delayed by
    `delay` samples, the largest magnitude over all channels on the interval [n, n + 1)."""

    def __init__(self, channels: int, oversample: int = OVERSAMPLE, taps: int = TAPS) -> None:
        self.kernel = interpolation_kernel(oversample, taps).astype(np.float32)
        self.taps = taps
        self.delay = taps // 2
        self._history = np.zeros((taps - 1, channels), dtype=np.float32)

    def process(self, block: np.ndarray, threshold: float = 0.0) -> np.ndarray:
        """(frames,) peaks of the samples `delay` before each of this block's; see `interval_peaks`."""
        joined = np.concatenate([self._history, block.astype(np.float32, copy=False)])
        self._history = joined[-(self.taps - 1):]
        return interval_peaks(joined, self.kernel, threshold)


def interval_peaks(joined: np.ndarray, kernel: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Peaks of intervals [n, n+1) for n = taps/2 - 1 .. len - taps/2 - 1 of (frames, channels) `joined`.

    Exact wherever the true peak could exceed `threshold`; elsewhere the larger of the interval's two
    samples (the peak is then known to be at most `threshold`). An interpolated value is the two
    samples each side times their taps plus at most the far taps' L1 norm times the window's peak:
    only where that bound reaches the threshold is the whole kernel applied, so a limiter that is
    not limiting, or a meter below its last peak, costs little."""
    taps = kernel.shape[0]
    half = taps // 2
    n = joined.shape[0] - taps + 1
    magnitude = np.abs(joined[:, 0])
    for c in range(1, joined.shape[1]):  # column by column: a reduction along a short axis is slow
        np.maximum(magnitude, np.abs(joined[:, c]), out=magnitude)
    peaks = np.maximum(magnitude[half - 1: half - 1 + n], magnitude[half: half + n])
    near_taps = kernel[half - 2: half + 2]
    far = float((np.abs(kernel).sum(axis=0) - np.abs(near_taps).sum(axis=0)).max())
    reach = far * -sliding_min(-magnitude, taps)
    nearby = np.maximum(np.maximum(magnitude[half - 2: half - 2 + n], magnitude[half + 1: half + 1 + n]), peaks)
    candidates = np.flatnonzero(float(np.abs(near_taps).sum(axis=0).max()) * nearby + reach > threshold)
    if candidates.size > n // 8:  # most of the block: one FFT convolution for all is cheaper
        return np.maximum(peaks, _all_interpolated_peaks(joined, kernel.shape[1] + 1, taps))
    if candidates.size:  # a tighter bound: the near taps' actual sum
        near = np.stack([joined[candidates + half - 2 + k] for k in range(4)], axis=-1)  # (m, channels, 4)
        near = np.abs(near.reshape(-1, 4) @ near_taps).reshape(candidates.size, -1).max(axis=1)
        candidates = candidates[near + reach[candidates] > threshold]
    if candidates.size:
        windows = np.lib.stride_tricks.sliding_window_view(joined, taps, axis=0)[candidates]  # (m, channels, taps)
        # One 2-D product (a single BLAS call) instead of m small stacked ones.
        between = np.abs(windows.reshape(-1, taps) @ kernel).reshape(candidates.size, -1).max(axis=1)
        peaks[candidates] = np.maximum(peaks[candidates], between)
    return peaks


@lru_cache(maxsize=8)
def _kernel_spectra(size: int, oversample: int, taps: int) -> np.ndarray:
    """rfft of each phase's taps reversed (convolution computes the dot products), (size // 2 + 1, phases)."""
    return np.fft.rfft(interpolation_kernel(oversample, taps)[::-1], n=size, axis=0)


def _all_interpolated_peaks(joined: np.ndarray, oversample: int, taps: int) -> np.ndarray:
    """The largest interpolated magnitude between each pair of samples, every phase, every channel."""
    n = joined.shape[0] - taps + 1
    size = 1 << (joined.shape[0] - 1).bit_length()
    spectra = _kernel_spectra(size, oversample, taps)
    spectrum = np.fft.rfft(joined, n=size, axis=0)  # (bins, channels)
    best = np.zeros(n)
    for p in range(spectra.shape[1]):
        phase = np.fft.irfft(spectrum * spectra[:, p: p + 1], n=size, axis=0)[taps - 1: taps - 1 + n]
        for c in range(phase.shape[1]):
            np.maximum(best, np.abs(phase[:, c]), out=best)
    return best


def sliding_min(x: np.ndarray, width: int) -> np.ndarray:
    """min(x[i : i + width]) for each i with a full window (van Herk / Gil-Werman: 3 passes, any width)."""
    n = x.shape[0] - width + 1
    pad = (-x.shape[0]) % width
    padded = np.concatenate([x, np.full(pad, np.inf, dtype=x.dtype)]).reshape(-1, width)
    forward = np.minimum.accumulate(padded, axis=1).reshape(-1)
    backward = np.minimum.accumulate(padded[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    return np.minimum(backward[:n], forward[width - 1: width - 1 + n])


def true_peak(audio: np.ndarray) -> float:
    """True peak of a whole signal, (frames,) or (frames, channels), linear."""
    x = np.asarray(audio, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    pad = np.zeros((TAPS, x.shape[1]), dtype=np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    return float(interval_peaks(np.concatenate([pad, x, pad]), interpolation_kernel().astype(np.float32), peak).max())
