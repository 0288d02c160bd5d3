"""Procedural training corpus: drums, basses, pads, textures and melodies synthesised with numpy.

Everything is driven by a ``numpy.random.Generator`` so a seed fully determines the audio.
Train and held-out sets use different seeds (see :data:`TRAIN_SEED`, :data:`HELDOUT_SEED`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

SR = 48000
TRAIN_SEED = 1000
HELDOUT_SEED = 9_000_000

Layer = Callable[[np.random.Generator, int, int], np.ndarray]


def _midi_to_hz(note: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(note) - 69) / 12)


def _one_pole_lowpass(x: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    a = np.exp(-2 * np.pi * cutoff / sr)
    return lfilter([1 - a], [1, -a], x)


def _one_pole_highpass(x: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    return x - _one_pole_lowpass(x, cutoff, sr)


def _resonant_lowpass(x: np.ndarray, cutoff: float, q: float, sr: int) -> np.ndarray:
    """RBJ biquad low-pass (static cutoff), a cheap stand-in for a synth filter."""
    w0 = 2 * np.pi * min(cutoff, 0.45 * sr) / sr
    alpha = np.sin(w0) / (2 * q)
    cos_w0 = np.cos(w0)
    b = np.array([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2])
    a = np.array([1 + alpha, -2 * cos_w0, 1 - alpha])
    return lfilter(b / a[0], a / a[0], x)


def _saw(phase: np.ndarray) -> np.ndarray:
    return 2.0 * (phase - np.floor(phase + 0.5))


def _square(phase: np.ndarray) -> np.ndarray:
    return np.sign(np.sin(2 * np.pi * phase))


def _adsr(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.minimum(1.0, t / max(attack, 1e-4))
    tail = (n / sr) - t
    return env * np.minimum(1.0, tail / max(release, 1e-4))


def _place(out: np.ndarray, sound: np.ndarray, start: int, gain: float) -> None:
    end = min(len(out), start + len(sound))
    if end > start:
        out[start:end] += gain * sound[: end - start]


def _kick(rng: np.random.Generator, sr: int) -> np.ndarray:
    n = int(sr * rng.uniform(0.25, 0.6))
    t = np.arange(n) / sr
    f_hi, f_lo, sweep = rng.uniform(120, 250), rng.uniform(40, 65), rng.uniform(0.02, 0.08)
    freq = f_lo + (f_hi - f_lo) * np.exp(-t / sweep)
    phase = np.cumsum(freq) / sr
    return np.sin(2 * np.pi * phase) * np.exp(-t / rng.uniform(0.08, 0.25))


def _snare(rng: np.random.Generator, sr: int) -> np.ndarray:
    n = int(sr * rng.uniform(0.15, 0.35))
    t = np.arange(n) / sr
    tone = np.sin(2 * np.pi * rng.uniform(160, 260) * t) * np.exp(-t / 0.04)
    noise = _one_pole_highpass(rng.standard_normal(n), rng.uniform(800, 2500), sr) * np.exp(
        -t / rng.uniform(0.05, 0.12)
    )
    return rng.uniform(0.4, 0.8) * tone + noise * 0.6


def _hat(rng: np.random.Generator, sr: int) -> np.ndarray:
    n = int(sr * rng.uniform(0.03, 0.2))
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    for _ in range(2):
        noise = _one_pole_highpass(noise, rng.uniform(5000, 9000), sr)
    return noise * np.exp(-t / rng.uniform(0.01, 0.06)) * 1.5


def drums(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    out = np.zeros(n)
    step = int(sr * 60 / rng.uniform(80, 170) / 4)  # sixteenth notes
    kit = {"kick": _kick(rng, sr), "snare": _snare(rng, sr), "hat": _hat(rng, sr)}
    density = {"kick": rng.uniform(0.15, 0.4), "snare": rng.uniform(0.08, 0.25), "hat": rng.uniform(0.3, 0.9)}
    pattern = {k: rng.random(16) < d for k, d in density.items()}
    pattern["kick"][0] = True
    offset = int(rng.integers(0, step * 4))
    for i, start in enumerate(range(-offset, n, step)):
        for name, hits in pattern.items():
            if hits[i % 16] and start >= 0:
                _place(out, kit[name], start, rng.uniform(0.6, 1.0))
    return out


def bass(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    out = np.zeros(n)
    note_len = int(sr * 60 / rng.uniform(80, 160) / rng.choice([1, 2, 4]))
    wave = _saw if rng.random() < 0.6 else _square
    root = rng.integers(28, 45)
    scale = np.array([0, 3, 5, 7, 10, 12])
    cutoff, q = rng.uniform(200, 2500), rng.uniform(0.7, 4.0)
    for start in range(0, n, note_len):
        m = min(note_len, n - start)
        f = _midi_to_hz(root + rng.choice(scale))
        phase = rng.random() + f * np.arange(m) / sr
        note = wave(phase) * _adsr(m, sr, rng.uniform(0.002, 0.02), rng.uniform(0.01, 0.1))
        out[start : start + m] += note
    return _resonant_lowpass(out, cutoff, q, sr)


def pad(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    root = rng.integers(45, 64)
    chords = ([0, 4, 7], [0, 3, 7], [0, 5, 7, 12], [0, 4, 7, 11], [0, 3, 7, 10])
    chord = root + np.array(chords[int(rng.integers(0, len(chords)))])
    use_saw = rng.random() < 0.6
    out = np.zeros(n)
    for note in chord:
        for detune in rng.uniform(-0.12, 0.12, size=2):
            phase = rng.random() + _midi_to_hz(note + detune) * t
            out += _saw(phase) if use_saw else np.sin(2 * np.pi * phase)
    if use_saw:
        out = _resonant_lowpass(out, rng.uniform(600, 5000), 0.8, sr)
    lfo = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 1.0) * t + rng.uniform(0, 2 * np.pi))
    return out * lfo * _adsr(n, sr, rng.uniform(0.1, 1.0), rng.uniform(0.1, 0.8))


def texture(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    kind = rng.integers(0, 3)
    if kind == 0:  # filtered noise with a slowly moving band
        noise = rng.standard_normal(n)
        band = _one_pole_highpass(
            _resonant_lowpass(noise, rng.uniform(300, 8000), rng.uniform(0.7, 8.0), sr),
            rng.uniform(50, 2000),
            sr,
        )
        return band * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 2.0) * t) ** 2)
    if kind == 1:  # granular clicks: short windowed sine grains
        out = np.zeros(n)
        grain_n = int(sr * rng.uniform(0.002, 0.03))
        window = np.hanning(grain_n)
        for start in rng.integers(0, n, size=int(rng.uniform(5, 60) * n / sr)):
            f = rng.uniform(200, 8000)
            _place(
                out,
                np.sin(2 * np.pi * f * np.arange(grain_n) / sr) * window,
                int(start),
                rng.uniform(0.3, 1.0),
            )
        return out
    # FM tone with a decaying modulation index
    carrier = _midi_to_hz(rng.integers(40, 80))
    ratio = rng.choice([0.5, 1.0, 1.414, 2.0, 3.0, 3.5])
    index = rng.uniform(0.5, 8.0) * np.exp(-t / rng.uniform(0.2, 3.0))
    return np.sin(2 * np.pi * carrier * t + index * np.sin(2 * np.pi * carrier * ratio * t))


SCALES: tuple[tuple[int, ...], ...] = (
    (0, 2, 4, 5, 7, 9, 11),  # major
    (0, 2, 3, 5, 7, 8, 10),  # natural minor
    (0, 2, 3, 5, 7, 9, 10),  # dorian
    (0, 2, 3, 5, 7, 8, 11),  # harmonic minor
    (0, 2, 4, 7, 9),  # major pentatonic
    (0, 3, 5, 7, 10),  # minor pentatonic
)
# Vowel formants (Hz) for the voice: a, e, i, o, u.
VOWELS: tuple[tuple[float, float, float], ...] = (
    (800, 1150, 2900), (400, 1600, 2700), (300, 2300, 3000), (450, 800, 2830), (325, 700, 2530)
)


def _partials(
    rng: np.random.Generator, f0: float, t: np.ndarray, amps: np.ndarray, decays: np.ndarray, stretch: float, sr: int,
    vibrato: np.ndarray | None = None,
) -> np.ndarray:
    """Sum of partials k*f0*sqrt(1 + stretch*k^2) with amplitudes ``amps`` and decay times ``decays`` (s)."""
    k = np.arange(1, len(amps) + 1)
    freqs = k * f0 * np.sqrt(1.0 + stretch * k**2)
    keep = (freqs < 0.45 * sr) & (amps > 0.02 * amps.max())
    freqs, amps, decays = freqs[keep], amps[keep], decays[keep]
    t32 = t.astype(np.float32)
    clock = t32 if vibrato is None else (np.cumsum(1.0 + vibrato) / sr).astype(np.float32)
    out = np.zeros(len(t), dtype=np.float32)
    for f, a, d, p in zip(freqs, amps, decays, rng.random(len(freqs)), strict=True):
        partial = np.sin(np.float32(2 * np.pi * f) * clock + np.float32(2 * np.pi * p))
        if d < 1e6:
            partial *= np.exp(-t32 / np.float32(d))
        out += np.float32(a) * partial
    return out.astype(np.float64)


def _pitched_note(rng: np.random.Generator, kind: str, f0: float, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    k = np.arange(1, 41, dtype=np.float64)
    if kind == "piano":
        amps = 1.0 / k**rng.uniform(1.0, 1.6)
        decays = rng.uniform(0.6, 2.0) / k**0.7
        return _partials(rng, f0, t, amps, decays, rng.uniform(1e-5, 4e-4), sr) * _adsr(n, sr, 0.003, 0.05)
    if kind == "pluck":  # a plucked string: partials missing near multiples of the pluck position
        pos = rng.uniform(0.1, 0.4)
        amps = np.abs(np.sin(np.pi * k * pos)) / k**1.2
        decays = rng.uniform(0.3, 1.5) / k**rng.uniform(0.5, 1.0)
        return _partials(rng, f0, t, amps, decays, 1e-5, sr) * _adsr(n, sr, 0.002, 0.03)
    if kind == "bell":  # mallet and bell: few inharmonic partials
        ratios = np.array([1.0, 2.76, 5.40, 8.93, 13.34]) if rng.random() < 0.5 else np.array([1.0, 3.93, 9.54, 16.0])
        out = np.zeros(n)
        for r, a in zip(ratios, 1.0 / np.arange(1, len(ratios) + 1), strict=True):
            if r * f0 < 0.45 * sr:
                out += a * np.sin(2 * np.pi * r * f0 * t) * np.exp(-t * rng.uniform(1.0, 6.0) * r**0.5)
        return out * _adsr(n, sr, 0.001, 0.02)
    vibrato = 0.006 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t) * np.minimum(1.0, t / 0.3)
    sustain = np.full(len(k), 1e9)
    if kind == "brass":  # bright when loud: the partials' roll-off follows the envelope
        env = _adsr(n, sr, rng.uniform(0.02, 0.08), rng.uniform(0.05, 0.2))
        out = np.zeros(n)
        for kk in range(1, 40):
            if kk * f0 >= 0.45 * sr:
                break
            bright = 1.0 / (1.0 + (kk / (1.0 + 12.0 * env)) ** 3)
            out += bright * np.sin(2 * np.pi * kk * f0 * np.cumsum(1.0 + vibrato) / sr) / kk
        return out * env
    if kind == "strings":
        out = np.zeros(n)
        for detune in rng.uniform(-0.08, 0.08, size=3):
            out += _partials(rng, f0 * 2 ** (detune / 12), t, 1.0 / k, sustain, 0.0, sr, vibrato)
        out = _resonant_lowpass(out, rng.uniform(2000, 7000), 0.7, sr)
        return out * _adsr(n, sr, rng.uniform(0.08, 0.4), rng.uniform(0.1, 0.4))
    # voice: a pulse spectrum shaped by three vowel formants
    formants = np.array(VOWELS[int(rng.integers(0, len(VOWELS)))]) * rng.uniform(0.9, 1.15)
    freqs = k * f0
    shape = sum(np.exp(-0.5 * ((freqs - f) / (60 + 0.08 * f)) ** 2) * g for f, g in zip(formants, (1.0, 0.5, 0.25), strict=True))
    amps = (shape + 0.02) / k**0.5
    return _partials(rng, f0, t, amps, sustain, 0.0, sr, vibrato) * _adsr(n, sr, rng.uniform(0.03, 0.15), 0.1)


def melody(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Notes on a musical scale, one instrument, sometimes two- or three-note chords."""
    kind = str(rng.choice(["piano", "pluck", "bell", "brass", "strings", "voice"]))
    scale = np.array(SCALES[int(rng.integers(0, len(SCALES)))])
    low, high = {"voice": (48, 76), "bell": (60, 96), "brass": (45, 77)}.get(kind, (36, 88))
    root = int(rng.integers(low, high - 12))
    note_len = int(sr * 60 / rng.uniform(70, 170) / rng.choice([0.5, 1, 2, 4]))
    polyphony = int(rng.choice([1, 1, 2, 3]))
    out = np.zeros(n)
    for start in range(-int(rng.integers(0, note_len)), n, note_len):
        if rng.random() < 0.15:
            continue  # a rest
        length = min(int(note_len * rng.uniform(1.0, 3.0)), n - max(0, start)) + max(0, -start)
        degrees = rng.integers(0, 2 * len(scale), size=polyphony)
        for d in degrees:
            midi = root + 12 * (d // len(scale)) + scale[d % len(scale)]
            note = _pitched_note(rng, kind, float(_midi_to_hz(midi)), length, sr)
            _place(out, note[max(0, -start):], max(0, start), rng.uniform(0.5, 1.0))
    return out


def _room(rng: np.random.Generator, x: np.ndarray, sr: int) -> np.ndarray:
    """A cheap reverb: convolution with exponentially decaying, low-passed noise."""
    length = int(sr * rng.uniform(0.2, 1.5))
    ir = rng.standard_normal(length) * np.exp(-np.arange(length) / sr / rng.uniform(0.05, 0.4))
    ir = _one_pole_lowpass(ir, rng.uniform(2000, 10000), sr)
    wet = fftconvolve(x, ir)[: len(x)]
    wet *= np.std(x) / (np.std(wet) + 1e-12)
    mix = rng.uniform(0.1, 0.5)
    return (1 - mix) * x + mix * wet


def _band_limit(rng: np.random.Generator, x: np.ndarray, sr: int) -> np.ndarray:
    """Recordings rarely fill 0-24 kHz: low-pass like a 22.05 kHz file, a lossy codec, or a dark room."""
    choice = rng.random()
    cutoff = 10800.0 if choice < 0.4 else 15500.0 if choice < 0.6 else float(np.exp(rng.uniform(np.log(3000), np.log(20000))))
    return sosfilt(butter(12, cutoff, btype="low", fs=sr, output="sos"), x)


def _brick_wall(rng: np.random.Generator, x: np.ndarray, sr: int) -> np.ndarray:
    """The same edges as `_band_limit`, but empty above them, as a resampled file is (a 22.05 kHz
    recording played at 48 kHz holds nothing above 11,025 Hz): zero-phase, every bin past the edge 0."""
    choice = rng.random()
    edge = 11025.0 if choice < 0.4 else 16000.0 if choice < 0.6 else float(np.exp(rng.uniform(np.log(3000), np.log(20000))))
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(x.size, 1.0 / sr) >= edge] = 0.0
    return np.fft.irfft(spectrum, x.size)


BAND_LIMITS = {"butterworth": _band_limit, "brickwall": _brick_wall}

LAYERS: tuple[Layer, ...] = (drums, bass, pad, texture, melody)
# Pitched material on scales comes up most often: it is what most music is made of.
LAYER_WEIGHTS = np.array([0.2, 0.15, 0.15, 0.1, 0.4])


def make_clip(
    rng: np.random.Generator, seconds: float, sr: int = SR, peak_db: tuple[float, float] = (-24.0, -1.0),
    band_limit: bool = True, band_limits: str = "butterworth",
) -> np.ndarray:
    """One clip mixing 1-3 distinct layers, sometimes in a room, often band-limited, at a random level.

    Peaks fall between ``peak_db`` (default -24 and -1 dBFS), float32 mono. ``band_limit=False`` keeps
    the whole band (for measurements that impose their own band limits); ``band_limits`` chooses how
    the others are limited (`BAND_LIMITS`: a 12th-order Butterworth, or a brick wall).
    """
    n = int(round(seconds * sr))
    n_layers = int(rng.integers(1, 4))
    chosen = rng.choice(len(LAYERS), size=n_layers, replace=False, p=LAYER_WEIGHTS)
    mix = np.zeros(n)
    for index in chosen:
        layer = LAYERS[int(index)](rng, n, sr)
        mix += layer / (np.max(np.abs(layer)) + 1e-9) * rng.uniform(0.4, 1.0)
    if rng.random() < 0.4:
        mix = _room(rng, mix, sr)
    if rng.random() < 0.6 and band_limit:
        mix = BAND_LIMITS[band_limits](rng, mix, sr)
    peak = 10 ** (rng.uniform(*peak_db) / 20)
    mix *= peak / (np.max(np.abs(mix)) + 1e-9)
    return mix.astype(np.float32)


def make_set(seed: int, count: int, seconds: float, sr: int = SR) -> list[np.ndarray]:
    """``count`` clips from one seeded generator (deterministic order)."""
    rng = np.random.default_rng(seed)
    return [make_clip(rng, seconds, sr) for _ in range(count)]
