"""Spectral comparison of audio signals (numpy).

The same formula is implemented in torch in ``engine/training/losses.py`` and used as the training loss.
"""

from __future__ import annotations

import numpy as np

FFT_SIZES: tuple[int, ...] = (2048, 1024, 512, 256, 128)
# Magnitude floor: bins below it count as silence in the log term, and it keeps the linear term
# bounded on (near-)silent references.
LOG_EPS = 1e-3


def power_above_db(x: np.ndarray, hz: float, rate: int) -> float:
    """Share of `x`'s power at or above `hz`, in dB, from one Hann-windowed FFT of the whole signal (the
    window keeps the signal's ends from leaking into the upper band)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    return float(10 * np.log10(power[np.fft.rfftfreq(x.size, 1.0 / rate) >= hz].sum() / power.sum() + 1e-30))


def stft_magnitude(x: np.ndarray, n_fft: int) -> np.ndarray:
    """|rFFT| of frames of length ``n_fft`` at hop ``n_fft // 4`` (periodic Hann, no padding)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    hop = n_fft // 4
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n_frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(x[idx] * window, axis=-1))


def multiscale_spectral_distance(a: np.ndarray, b: np.ndarray, sr: int = 48000) -> float:
    """Distance of estimate ``b`` from reference ``a`` (both mono, same length; lower is closer).

    For each FFT size n in (2048, 1024, 512, 256, 128), with A = |STFT_n(a)|, B = |STFT_n(b)|
    (periodic Hann window, hop n/4, frames fully inside the signal, no normalisation):

        lin_n = sum|A - B| / sum(A + 1e-3)             # L1 on linear magnitudes, normalised by the reference
        log_n = mean|log(A + 1e-3) - log(B + 1e-3)|    # L1 on log magnitudes (natural log)

    and the distance is mean_n (lin_n + log_n). ``sr`` is accepted for interface symmetry; the
    formula does not depend on it.
    """
    del sr
    a = np.asarray(a).reshape(-1)
    b = np.asarray(b).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"signals differ in length: {a.shape} vs {b.shape}")
    total = 0.0
    for n_fft in FFT_SIZES:
        mag_a, mag_b = stft_magnitude(a, n_fft), stft_magnitude(b, n_fft)
        lin = np.sum(np.abs(mag_a - mag_b)) / np.sum(mag_a + LOG_EPS)
        log = np.mean(np.abs(np.log(mag_a + LOG_EPS) - np.log(mag_b + LOG_EPS)))
        total += lin + log
    return float(total / len(FFT_SIZES))
