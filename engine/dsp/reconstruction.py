"""How well a model reproduces real audio: the reconstruction score used by the model card.

    score = D(clip, model(clip)) / D(clip, noise(clip))

D is a multi-scale log-spectral L1 (FFT sizes 2048, 1024, 512, 256; periodic Hann; hop n/4;
natural-log magnitude with a floor of 1e-5), both signals first brought to the same RMS so level
does not count. noise(clip) is white noise carrying the clip's amplitude envelope and RMS: the
trivial codec that keeps the dynamics and nothing else. 0 is perfect; 1 is no better than noise.
"""

from __future__ import annotations

import numpy as np

from engine.dsp.spectral import stft_magnitude

FFT_SIZES: tuple[int, ...] = (2048, 1024, 512, 256)
MAG_FLOOR = 1e-5
ENVELOPE_FRAME = 2048


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def bin_errors(a: np.ndarray, b: np.ndarray) -> dict[int, np.ndarray]:
    """Per FFT size, the mean over frames of |log(|A| + 1e-5) - log(|B| + 1e-5)| for each frequency bin
    (bin k of size n sits at k * rate / n), ``b`` first scaled to ``a``'s RMS."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"signals differ in length: {a.shape} vs {b.shape}")
    b = b * (_rms(a) / max(_rms(b), 1e-12))
    errors = {}
    for n_fft in FFT_SIZES:
        mag_a, mag_b = stft_magnitude(a, n_fft), stft_magnitude(b, n_fft)
        errors[n_fft] = np.abs(np.log(mag_a + MAG_FLOOR) - np.log(mag_b + MAG_FLOOR)).mean(axis=0)
    return errors


def log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over FFT sizes of mean |log(|A| + 1e-5) - log(|B| + 1e-5)|, ``b`` first scaled to ``a``'s RMS."""
    return float(np.mean([e.mean() for e in bin_errors(a, b).values()]))


def envelope_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White noise with ``x``'s per-2048-sample RMS envelope (linearly interpolated) and overall RMS."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    frames = max(1, len(x) // ENVELOPE_FRAME)
    env = np.sqrt(np.mean(np.square(x[: frames * ENVELOPE_FRAME]).reshape(frames, -1), axis=1))
    centres = (np.arange(frames) + 0.5) * ENVELOPE_FRAME
    gain = np.interp(np.arange(len(x)), centres, env)
    noise = rng.standard_normal(len(x)) * gain
    return noise * (_rms(x) / max(_rms(noise), 1e-12))


def reconstruction_score(clip: np.ndarray, reconstruction: np.ndarray, seed: int = 0) -> float:
    """D(clip, reconstruction) / D(clip, envelope noise); lower is better, 1.0 is the noise baseline."""
    noise = envelope_noise(clip, np.random.default_rng(seed))
    return log_spectral_distance(clip, reconstruction) / log_spectral_distance(clip, noise)
