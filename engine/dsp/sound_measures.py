"""Per-frame measures of what a control does to the sound: loudness, brightness, noisiness, change.

All work on frames of a mono signal through the FFT, so they are vectorised (no per-sample Python
loop) and the same code serves model calibration, tests and benchmarks.

Loudness is K-weighted as in ITU-R BS.1770 (its pre-filter shelf and high-pass, evaluated as a
magnitude response on the FFT bins instead of run as IIR filters): a frame's loudness is
-0.691 + 10 log10(K-weighted mean square), in LUFS for a mono signal.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-12
# BS.1770 pre-filter: a high shelf (+4 dB above ~1.7 kHz) and a 38 Hz high-pass, defined for any rate
# through their analog prototypes (bilinear transform).
SHELF_HZ, SHELF_DB, SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
HIGHPASS_HZ, HIGHPASS_Q = 38.13547087602444, 0.5003270373238773


def _biquad_power(b: tuple[float, float, float], a: tuple[float, float, float], omega: np.ndarray) -> np.ndarray:
    zi = np.exp(-1j * omega)
    num = b[0] + b[1] * zi + b[2] * zi * zi
    den = a[0] + a[1] * zi + a[2] * zi * zi
    return np.abs(num / den) ** 2


def k_weighting_power(freqs: np.ndarray, rate: int) -> np.ndarray:
    """|H_K(f)|^2 of the BS.1770 pre-filter at `freqs` (Hz) for sample rate `rate`."""
    omega = 2.0 * np.pi * np.asarray(freqs, dtype=np.float64) / rate
    k = math.tan(math.pi * SHELF_HZ / rate)
    vh = 10.0 ** (SHELF_DB / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / SHELF_Q + k * k
    shelf = _biquad_power(((vh + vb * k / SHELF_Q + k * k) / a0, 2.0 * (k * k - vh) / a0,
                           (vh - vb * k / SHELF_Q + k * k) / a0),
                          (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / SHELF_Q + k * k) / a0), omega)
    k = math.tan(math.pi * HIGHPASS_HZ / rate)
    a0 = 1.0 + k / HIGHPASS_Q + k * k
    highpass = _biquad_power((1.0, -2.0, 1.0), (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / HIGHPASS_Q + k * k) / a0),
                             omega)
    return shelf * highpass


def mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float64)
    return a.mean(axis=1) if a.ndim == 2 else a.reshape(-1)


def frame_power(audio: np.ndarray, frame: int, hop: int | None = None) -> np.ndarray:
    """Power spectra (frames, bins) of Hann-windowed frames, scaled so that summing a row over the
    bins gives the frame's mean square (Parseval, window energy divided out)."""
    x = mono(audio)
    hop = hop or frame
    if x.shape[0] < frame:
        x = np.pad(x, (0, frame - x.shape[0]))
    n = 1 + (x.shape[0] - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    window = np.hanning(frame + 2)[1:-1]
    power = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    power[:, 1:-1] *= 2.0  # rFFT keeps one side of the spectrum
    return power / (frame * np.sum(window * window))


def loudness(power: np.ndarray, rate: int) -> np.ndarray:
    """K-weighted loudness (LUFS) of each row of `frame_power`."""
    frame = 2 * (power.shape[-1] - 1)
    weights = k_weighting_power(np.fft.rfftfreq(frame, 1.0 / rate), rate)
    return -0.691 + 10.0 * np.log10(power @ weights + EPS)


def centroid_hz(power: np.ndarray, rate: int) -> np.ndarray:
    """Spectral centroid (Hz) of each row, weighted by magnitude."""
    frame = 2 * (power.shape[-1] - 1)
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    mag = np.sqrt(power)
    return (mag @ freqs) / (mag.sum(axis=-1) + EPS)


def flatness(power: np.ndarray) -> np.ndarray:
    """Spectral flatness of each row (geometric / arithmetic mean of power; 1 = white noise)."""
    p = power[..., 1:] + EPS
    return np.exp(np.mean(np.log(p), axis=-1)) / np.mean(p, axis=-1)


def log_spectra(power: np.ndarray, bands: int = 24) -> np.ndarray:
    """Log band energies (dB) on log-spaced bands: a compact spectral shape per frame."""
    n_bins = power.shape[-1]
    edges = np.unique(np.geomspace(1, n_bins - 1, bands + 1).astype(int))
    band = np.add.reduceat(power[..., 1:], edges - 1, axis=-1)[..., : len(edges) - 1]
    return 10.0 * np.log10(band + EPS)


def spectral_change(power: np.ndarray, lag: int = 1) -> float:
    """Mean absolute change (dB per band) between frames `lag` apart, loudness removed: how much
    the spectral shape moves at that time scale (lag 1 frame: flux; longer lags: slow variation)."""
    spectra = log_spectra(power)
    spectra = spectra - spectra.mean(axis=-1, keepdims=True)
    if spectra.shape[0] <= lag:
        return 0.0
    return float(np.mean(np.abs(spectra[lag:] - spectra[:-lag])))


def short_term_loudness(audio: np.ndarray, rate: int, window_s: float = 3.0, hop_s: float = 0.25) -> np.ndarray:
    """BS.1770 short-term loudness (3 s windows) every `hop_s`, from 100 ms K-weighted blocks."""
    block = int(round(0.1 * rate))
    energies = 10.0 ** ((loudness(frame_power(audio, block), rate) + 0.691) / 10.0)
    per = max(1, int(round(window_s / 0.1)))
    step = max(1, int(round(hop_s / 0.1)))
    if energies.shape[0] < per:
        return -0.691 + 10.0 * np.log10(np.array([energies.mean()]) + EPS)
    cums = np.concatenate([[0.0], np.cumsum(energies)])
    starts = np.arange(0, energies.shape[0] - per + 1, step)
    return -0.691 + 10.0 * np.log10((cums[starts + per] - cums[starts]) / per + EPS)


def median_centroid_hz(audio: np.ndarray, rate: int, frame: int = 2048) -> float:
    """Median spectral centroid over frames that are not near-silent (more than 40 dB below the loudest)."""
    power = frame_power(audio, frame)
    level = loudness(power, rate)
    keep = level > level.max() - 40.0
    return float(np.median(centroid_hz(power[keep], rate)))


# What each latent control is measured by (tests/test_energy.py, bench/bench_energy.py).
def median_loudness(audio: np.ndarray, rate: int) -> float:
    """Median BS.1770 short-term loudness (LUFS) over the signal."""
    return float(np.median(short_term_loudness(audio, rate)))


def flux_db(audio: np.ndarray, rate: int) -> float:
    """Frame-to-frame spectral change over ~21 ms frames (dB per band): `/rave/chaos`."""
    return spectral_change(frame_power(audio, int(round(0.0213 * rate))), 1)


def slow_change_db(audio: np.ndarray, rate: int) -> float:
    """Spectral change between frames ~0.26 s apart (dB per band): `/rave/texture`."""
    frame = int(round(0.0427 * rate))
    return spectral_change(frame_power(audio, frame), 6)


def frame_distance_db(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """Mean absolute difference of time-aligned log band spectra (dB): how far `a` sounds from `b`
    moment by moment (`/rave/style`: distance to the style-0 and style-1 renders)."""
    frame = int(round(0.0427 * rate))
    return float(np.mean(np.abs(log_spectra(frame_power(a, frame)) - log_spectra(frame_power(b, frame)))))
