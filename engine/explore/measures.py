"""How well codebook resynthesis keeps a target's structure while taking a collection's timbre.

- `onset_correlation`: Pearson correlation of the onset-strength envelopes (librosa, 22.05 kHz, hop
  512) of the output and the target, at the best lag within +-`max_lag_seconds` (the model and the
  master stage delay the output by a few ms to a frame);
- `spectrum_distance`: RMS difference in dB between two long-term average log spectra (each level-
  normalised: where the energy sits in frequency, not how loud it is).
"""

from __future__ import annotations

import numpy as np

from engine.models.resample import resample

RATE = 22050
HOP = 512
N_FFT = 2048


def _mono(audio: np.ndarray, rate: int) -> np.ndarray:
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    return resample(mono.astype(np.float32), rate, RATE) if rate != RATE else mono.astype(np.float32)


def onset_envelope(audio: np.ndarray, rate: int) -> np.ndarray:
    import librosa

    return librosa.onset.onset_strength(y=_mono(audio, rate), sr=RATE, hop_length=HOP)


def onset_correlation(output: np.ndarray, target: np.ndarray, rate: int, *, max_lag_seconds: float = 0.1,
                      target_rate: int | None = None) -> float:
    a = onset_envelope(output, rate)
    b = onset_envelope(target, target_rate or rate)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    best = -1.0
    max_lag = int(round(max_lag_seconds * RATE / HOP))
    for lag in range(-max_lag, max_lag + 1):  # output later than target: positive lag
        x, y = (a[lag:], b[: n - lag]) if lag >= 0 else (a[: n + lag], b[-lag:])
        if x.size > 2 and x.std() > 0 and y.std() > 0:
            best = max(best, float(np.corrcoef(x, y)[0, 1]))
    return best


def long_term_spectrum(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mean power spectrum in dB (N_FFT // 2 + 1 bins at 22.05 kHz), its mean subtracted."""
    mono = _mono(audio, rate)
    if mono.size < N_FFT:
        mono = np.pad(mono, (0, N_FFT - mono.size))
    n = (mono.size - N_FFT) // HOP + 1
    frames = np.lib.stride_tricks.sliding_window_view(mono, N_FFT)[::HOP][:n] * np.hanning(N_FFT)
    power = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    db = 10.0 * np.log10(power + 1e-12)
    return db - db.mean()


def spectrum_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))
