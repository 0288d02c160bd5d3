"""The streaming audio analyzer: feature layout, bands, level, centroid, chroma, onsets, streaming."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.analyzer import AudioAnalyzer, default_n_fft
from engine.analysis.features import BANDS_HZ, CHROMA_SLICE, INDEX, N_FEATURES
from engine.analysis.offline import analyze

SR = 48000
BAND_NAMES = tuple(BANDS_HZ)


def sine(freqs: list[float], seconds: float = 1.0, db: float = -12.0, sr: int = SR) -> np.ndarray:
    """Sines of peak amplitude `db` dBFS each."""
    t = np.arange(int(seconds * sr)) / sr
    return (10 ** (db / 20) * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


def settled(audio: np.ndarray, sr: int = SR) -> np.ndarray:
    """The last row, once the window holds nothing but the signal."""
    return analyze(audio, sr)[1][-1]


def bursts(seconds: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """80 ms white-noise bursts at irregular gaps of 250..600 ms, and their start times."""
    rng = np.random.default_rng(3)
    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    starts, t = [], 0.3
    while t < seconds - 0.5:
        n, i = int(0.08 * SR), int(t * SR)
        audio[i:i + n] = 0.3 * rng.standard_normal(n)
        starts.append(t)
        t += rng.uniform(0.25, 0.6)
    return audio, np.array(starts)


def mixture(seconds: float = 6.0) -> np.ndarray:
    """Clicks, a chord and noise: exercises every feature, the tracker included."""
    rng = np.random.default_rng(7)
    audio = sine([220.0, 277.2, 329.6], seconds, db=-24) + 0.01 * rng.standard_normal(int(seconds * SR))
    audio[:: SR // 2] += 0.9
    return audio.astype(np.float32)


def test_hop_window_and_layout():
    analyzer = AudioAnalyzer(SR)
    assert analyzer.hop == 558 and analyzer.n_fft == 2048
    assert analyzer.frame_rate == pytest.approx(86.02, abs=0.01)
    rows = analyzer.process(np.zeros(1000, dtype=np.float32))
    assert rows.shape == (1, N_FEATURES) and rows.dtype == np.float32
    assert analyzer.process(np.zeros(100, dtype=np.float32)).shape == (0, N_FEATURES)
    assert analyzer.process(np.zeros(16, dtype=np.float32)).shape == (1, N_FEATURES)  # 1116 = 2 hops
    assert analyzer.frames == 2
    np.testing.assert_array_equal(analyzer.latest, rows[0])


@pytest.mark.parametrize(("rate", "n_fft", "hop"),
                         [(44100, 2048, 513), (22050, 1024, 256), (96000, 4096, 1116)])
def test_window_scales_with_rate(rate, n_fft, hop):
    assert default_n_fft(rate) == n_fft
    analyzer = AudioAnalyzer(rate)
    assert (analyzer.n_fft, analyzer.hop) == (n_fft, hop)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        AudioAnalyzer(0)
    with pytest.raises(ValueError):
        AudioAnalyzer(SR, n_fft=1000)  # not a power of two
    with pytest.raises(ValueError):
        AudioAnalyzer(SR, n_fft=256)  # shorter than a hop
    with pytest.raises(ValueError):
        AudioAnalyzer(SR).process(np.zeros((4, 2, 2), dtype=np.float32))


def test_level_and_rms_of_a_sine():
    row = settled(sine([1000.0], db=-12.0))
    amplitude = 10 ** (-12 / 20)
    assert row[INDEX["rms"]] == pytest.approx(amplitude / np.sqrt(2), rel=0.02)
    # level is the RMS in dBFS (-15 dB for this sine) mapped from -60..0 dB to 0..1
    assert row[INDEX["level"]] == pytest.approx(45 / 60, abs=0.01)
    assert settled(sine([1000.0], db=-80.0))[INDEX["level"]] == 0.0


@pytest.mark.parametrize(("freq", "band"), [(80.0, "bass"), (500.0, "low_mid"), (2000.0, "high_mid"),
                                            (8000.0, "high")])
def test_a_sine_reads_highest_in_its_band(freq, band):
    row = settled(sine([freq]))
    values = {name: float(row[INDEX[name]]) for name in BAND_NAMES}
    assert values[band] == pytest.approx(0.75, abs=0.02)  # the sine's -15 dB RMS, like level
    for other in BAND_NAMES:
        if other != band:
            assert values[other] < values[band] - 0.5, values


def test_centroid_rises_with_frequency():
    centroids = [settled(sine([f]))[INDEX["centroid"]] for f in (100.0, 400.0, 1600.0, 6400.0)]
    assert np.all(np.diff(centroids) > 0.1), centroids
    assert centroids[0] >= 0.0 and centroids[-1] <= 1.0


def test_c_major_chord_chroma():
    chroma = settled(sine([261.63, 329.63, 392.00]))[CHROMA_SLICE]
    assert chroma.max() == 1.0
    assert np.all(chroma[[0, 4, 7]] > 0.8), chroma
    assert np.all(np.delete(chroma, [0, 4, 7]) < 0.2), chroma


def test_a440_is_pitch_class_a():
    chroma = settled(sine([440.0]))[CHROMA_SLICE]
    assert int(np.argmax(chroma)) == 9
    assert np.all(np.delete(chroma, 9) < 0.2), chroma


def test_chroma_works_at_other_rates():
    chroma = settled(sine([440.0], sr=22050), 22050)[CHROMA_SLICE]
    assert int(np.argmax(chroma)) == 9


def test_onsets_on_noise_bursts():
    audio, starts = bursts()
    times, rows = analyze(audio, SR)
    onsets = times[rows[:, INDEX["onset"]] > 0]
    assert abs(onsets.size - starts.size) <= 1
    # each burst is reported within a hop or two of its start (a row's time is the end of its hop)
    lag = np.array([onsets[onsets >= s][0] - s for s in starts])
    assert np.all(lag < 0.03), lag
    flux = rows[:, INDEX["flux"]]
    strength = rows[:, INDEX["onset_strength"]]
    assert flux.min() >= 0.0 and flux.max() <= 1.0 and strength.max() <= 1.0
    # picked as the strength rises: it peaks on that hop or the next (the window fades sound in)
    at = np.flatnonzero(rows[:, INDEX["onset"]] > 0)
    assert np.maximum(strength[at], strength[at + 1]).min() > 0.5


def test_steady_noise_gives_few_onsets():
    rng = np.random.default_rng(1)
    _, rows = analyze((0.2 * rng.standard_normal(8 * SR)).astype(np.float32), SR)
    assert rows[:, INDEX["onset"]].sum() <= 8  # over 8 s; a burst sequence gives one per burst


def test_silence_is_all_zero():
    times, rows = analyze(np.zeros(6 * SR, dtype=np.float32), SR)
    assert rows.shape == (times.size, N_FEATURES)
    assert not rows.any()


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_rows_do_not_depend_on_block_size(block):
    audio = mixture()
    _, reference = analyze(audio, SR, block=512)
    _, rows = analyze(audio, SR, block=block)
    np.testing.assert_array_equal(rows, reference)
    assert reference[:, INDEX["bpm"]].max() > 0  # the tracker ran, so its state is covered too


def test_stereo_is_analysed_as_its_mono_mix():
    rng = np.random.default_rng(2)
    left = sine([300.0], 2.0)
    right = (0.1 * rng.standard_normal(left.size)).astype(np.float32)
    stereo = np.stack([left, right], axis=1)
    _, rows = analyze(stereo, SR)
    _, mono = analyze((left + right) / 2, SR)
    np.testing.assert_allclose(rows, mono, atol=1e-6)


def test_non_finite_input_does_not_poison_the_state():
    analyzer = AudioAnalyzer(SR)
    audio = mixture(3.0)
    audio[1000:1100] = np.nan
    audio[2000] = np.inf
    rows = np.concatenate([analyzer.process(audio[i:i + 512]) for i in range(0, audio.size, 512)])
    assert np.isfinite(rows).all()
    assert rows[-1, INDEX["level"]] > 0.0


def test_reset_starts_over():
    analyzer = AudioAnalyzer(SR)
    audio = mixture(3.0)
    first = analyzer.process(audio)
    analyzer.reset()
    assert analyzer.frames == 0 and not analyzer.latest.any()
    np.testing.assert_array_equal(analyzer.process(audio), first)


def test_offline_times_are_hop_ends():
    times, rows = analyze(np.zeros(SR, dtype=np.float32), SR)
    assert rows.shape[0] == SR // 558
    assert times[0] == pytest.approx(558 / SR) and np.allclose(np.diff(times), 558 / SR)
    empty_times, empty_rows = analyze(np.zeros(0, dtype=np.float32), SR)
    assert empty_times.size == 0 and empty_rows.shape == (0, N_FEATURES)
