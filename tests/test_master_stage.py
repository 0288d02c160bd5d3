"""The master stage: BS.1770 measurement, true peak, the limiter, and levelled renders of any model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from engine.dsp.dc_blocker import DcBlocker
from engine.dsp.kweighting import KWeightingFilter, kweighting_biquads
from engine.dsp.loudness import LoudnessMeter, integrated_loudness
from engine.dsp.true_peak import true_peak
from engine.latent.energy import limiter_release_db_per_s, target_db
from engine.master.limiter import TruePeakLimiter
from engine.master.stage import MasterStage
from engine.render.offline import RenderRequest, render
from tests.random_decoders import make_random_decoder

RATE = 48000


def _sine(freq: float, dbfs: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)


def _scipy_true_peak_db(audio: np.ndarray) -> float:
    """Independent of the engine's interpolator: scipy's polyphase resampler, 4x."""
    return float(20 * np.log10(np.abs(signal.resample_poly(audio, 4, 1, axis=0)).max()))


def test_kweighting_at_48k_is_the_standards_table() -> None:
    # ITU-R BS.1770-4, Annex 1, Tables 1 and 2 (the only rate the standard tabulates).
    (b1, a1), (b2, a2) = kweighting_biquads(48000)
    np.testing.assert_allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-8)


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_streaming_kweighting_is_the_iir_filter(rate: int) -> None:
    (b1, a1), (b2, a2) = kweighting_biquads(rate)
    x = np.random.default_rng(0).standard_normal((rate, 2))
    expected = signal.lfilter(b2, a2, signal.lfilter(b1, a1, x, axis=0), axis=0)
    f = KWeightingFilter(rate, 2)
    got = np.concatenate([f.process(x[i: i + 2229]) for i in range(0, rate, 2229)])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_997_hz_at_minus_20_dbfs_in_one_channel_reads_minus_23_lufs() -> None:
    # BS.1770-4 Annex 1: a 0 dBFS 1 kHz sine in one channel reads -3.01 LKFS, so -20 dBFS reads -23.01.
    assert integrated_loudness(_sine(997, -20, 5), RATE) == pytest.approx(-23.01, abs=0.05)
    # EBU Tech 3341 case 1: 1 kHz at -23 dBFS in both channels reads -23.0 LUFS.
    both = np.stack([_sine(1000, -23, 5)] * 2, axis=1)
    assert integrated_loudness(both, RATE) == pytest.approx(-23.0, abs=0.1)


def test_integrated_loudness_gates_the_quiet_parts_out() -> None:
    # EBU Tech 3341 case 3 (10 s, 60 s, 10 s there): -36, -23, -36 dBFS stereo: the relative gate leaves -23.0.
    mono = np.concatenate([_sine(1000, -36, 3), _sine(1000, -23, 30), _sine(1000, -36, 3)])
    assert integrated_loudness(np.stack([mono, mono], 1), RATE) == pytest.approx(-23.0, abs=0.1)
    meter = LoudnessMeter(RATE, 1)
    meter.push(_sine(1000, -30, 4)[:, None])
    assert meter.short_term == pytest.approx(-33.01, abs=0.05)


def test_true_peak_finds_inter_sample_overs_and_never_reads_below_scipy() -> None:
    # A sine at fs/4 sampled 45 degrees off its peaks: samples at 0.707, the true peak 1.0 (+3 dB).
    x = np.sin(2 * np.pi * np.arange(4800) / 4 + np.pi / 4)
    assert np.abs(x).max() == pytest.approx(0.7071, abs=1e-3)
    assert 20 * np.log10(true_peak(x)) == pytest.approx(0.0, abs=0.2)  # the 24-tap interpolator's ripple
    rng = np.random.default_rng(3)
    for audio in [rng.standard_normal((9600, 2)) * 0.1, _sine(15000, -6, 0.2), _sine(19000, -3, 0.2)]:
        ours = 20 * np.log10(true_peak(audio))
        assert _scipy_true_peak_db(audio) - 0.02 <= ours <= _scipy_true_peak_db(audio) + 1.0


def test_dc_blocker_removes_an_offset_and_keeps_the_music() -> None:
    x = (0.3 + _sine(100, -6, 2))[:, None]
    blocker = DcBlocker(RATE, 1)
    y = np.concatenate([blocker.process(x[i: i + 2048]) for i in range(0, x.shape[0], 2048)])
    assert abs(y[RATE:].mean()) < 1e-3
    assert np.abs(y[RATE:]).max() == pytest.approx(10 ** (-6 / 20), rel=0.01)


def test_limiter_holds_the_ceiling_and_leaves_quiet_audio_alone() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(2 * RATE) / RATE
    loud = (rng.standard_normal((t.size, 2)) * 0.3 * (1 + np.sin(2 * np.pi * 2 * t))[:, None]
            + 0.6 * np.sin(2 * np.pi * 15000 * t)[:, None]).astype(np.float32)
    for ceiling in (-1.0, -6.0):
        limiter = TruePeakLimiter(RATE, 2)
        out = np.concatenate([limiter.process(loud[i: i + 2048], ceiling) for i in range(0, t.size, 2048)])
        assert _scipy_true_peak_db(out) <= ceiling
        assert _scipy_true_peak_db(out) > ceiling - 0.5  # limited, not muted
    quiet = loud * 0.05
    limiter = TruePeakLimiter(RATE, 2)
    out = np.concatenate([limiter.process(quiet[i: i + 2048], -1.0) for i in range(0, t.size, 2048)])
    np.testing.assert_array_equal(out[limiter.latency:], quiet[: -limiter.latency])


def test_energy_moves_the_loudness_target_by_more_than_8_lu() -> None:
    assert target_db(1.0) == 0.0
    assert target_db(2.0) - target_db(0.3) >= 8.0
    levels = [target_db(e) for e in (0.3, 0.6, 1.0, 1.5, 2.0)]
    assert levels == sorted(levels)


def test_energy_keeps_adding_loudness_to_a_signal_already_at_the_ceiling() -> None:
    """Dense, peaky noise meets -1 dBTP at -16 LUFS already: energy above 1 must still make it louder.

    The target offset alone would only deepen the limiting; energy also speeds up the limiter's
    release (limiter_release_db_per_s), and the true peak stays under the ceiling throughout.
    """
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((RATE * 6, 1)) ** 3  # heavy-tailed: a crest factor near 20 dB
    noise = (noise * 0.02).astype(np.float32)
    levels = []
    for energy in (1.0, 1.5, 2.0):
        stage = MasterStage(RATE, 1)
        stage.target_offset_db = target_db(energy)
        stage.release_db_per_s = limiter_release_db_per_s(energy)
        out = np.concatenate([stage.process(noise[i: i + 2048].copy(), loudness_lufs=-16.0, agc=True,
                                            ceiling_db=-1.0, trim_db=0.0) for i in range(0, len(noise), 2048)])
        assert _scipy_true_peak_db(out) <= -1.0
        levels.append(integrated_loudness(out[RATE * 2:], RATE))
    assert levels[0] < levels[1] < levels[2], levels
    assert limiter_release_db_per_s(1.0) == limiter_release_db_per_s(0.3) < limiter_release_db_per_s(2.0)


def _through_stage(audio: np.ndarray, *, target_offset_db: float = 0.0) -> tuple[np.ndarray, MasterStage]:
    stage = MasterStage(RATE, audio.shape[1])
    stage.target_offset_db = target_offset_db
    out = [stage.process(audio[i: i + 2048].copy(), loudness_lufs=-16.0, agc=True, ceiling_db=-1.0, trim_db=0.0)
           for i in range(0, audio.shape[0] - 2047, 2048)]
    return np.concatenate(out), stage


def test_levelling_removes_the_followers_bias_on_material_that_comes_and_goes() -> None:
    """Noise stepping 6 dB up and down every second: the follower alone (fast up, slow down) left it
    0.5 LU under the target; the slow correction brings the integrated loudness onto it."""
    rng = np.random.default_rng(0)
    t = np.arange(RATE * 40) / RATE
    steps = np.where(np.sin(2 * np.pi * 0.5 * t) > 0, 1.0, 10 ** (-6 / 20))
    out, stage = _through_stage((rng.standard_normal(t.size) * 0.05 * steps).astype(np.float32)[:, None])
    assert integrated_loudness(out[RATE * 20:], RATE) == pytest.approx(-16.0, abs=0.2)
    assert 0.3 < stage.leveller.correction_db < 2.0  # it did the work, and no more than the bias


def test_levelling_correction_never_pushes_into_the_limiter() -> None:
    """Dense noise at energy's +12 dB: the limiter holds it under the ceiling, so the output stays
    under its target; more gain would only be limited, and the correction must not climb for it."""
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal((RATE * 20, 1)) ** 3 * 0.02).astype(np.float32)
    out, stage = _through_stage(noise, target_offset_db=12.0)
    assert _scipy_true_peak_db(out) <= -1.0
    assert stage.leveller.correction_db <= 0.0


def _check_levelled(audio: np.ndarray, rate: int, target: float = -16.0, ceiling: float = -1.0) -> None:
    assert integrated_loudness(audio, rate) == pytest.approx(target, abs=1.0)
    assert _scipy_true_peak_db(audio) <= ceiling


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_readme_first_render_is_levelled_whatever_the_seed(seed: int) -> None:
    result = render(RenderRequest(seconds=20, scene="Balanced", seed=seed, progress=False))
    _check_levelled(result.audio, result.rate)
    meters = result.stats
    assert meters["integrated_lufs"] == pytest.approx(integrated_loudness(result.audio, result.rate), abs=0.2)
    assert meters["max_true_peak_db"] <= -1.0


@pytest.mark.parametrize(("seed", "level", "channels", "sr"),
                         [(0, 0.01, 1, 48000), (1, 0.05, 2, 44100), (2, 1.0, 1, 48000), (3, 0.3, 2, 48000)])
def test_random_rave_shaped_decoders_are_levelled(tmp_path: Path, seed: int, level: float, channels: int,
                                                   sr: int) -> None:
    model = make_random_decoder(tmp_path, seed=seed, level=level, channels=channels, sr=sr)
    result = render(RenderRequest(seconds=20, model=model, seed=seed, samplerate=48000, progress=False))
    assert result.audio.shape == (20 * 48000, channels)
    _check_levelled(result.audio, result.rate)


def test_agc_off_leaves_the_models_level_and_trim_still_trims(tmp_path: Path) -> None:
    def loudness(level: float, *sets: str) -> float:
        model = make_random_decoder(tmp_path, seed=1, level=level)
        result = render(RenderRequest(seconds=6, model=model, seed=1, sets=sets, progress=False))
        return integrated_loudness(result.audio, result.rate)

    # Off: a model twice as loud is 6 dB louder, and the trim adds its decibels.
    assert loudness(0.02, "/master/agc=0") - loudness(0.01, "/master/agc=0") == pytest.approx(6.02, abs=0.2)
    assert loudness(0.01, "/master/agc=0", "/master/gain_db=-6") == pytest.approx(
        loudness(0.01, "/master/agc=0") - 6.0, abs=0.2)
    # On: both land on the target; the trim and the target move it.
    assert loudness(0.02) == pytest.approx(loudness(0.01), abs=0.3)
    assert loudness(0.01, "/master/gain_db=-6") == pytest.approx(-22.0, abs=1.0)
    assert loudness(0.01, "/master/loudness=-23") == pytest.approx(-23.0, abs=1.0)


def test_ceiling_minus_6_caps_the_true_peak(tmp_path: Path) -> None:
    model = make_random_decoder(tmp_path, seed=2, level=1.0)
    result = render(RenderRequest(seconds=6, model=model, sets=["/master/ceiling=-6"], progress=False))
    assert _scipy_true_peak_db(result.audio) <= -6.0
    assert _scipy_true_peak_db(result.audio) > -7.0


def test_limiter_gain_falls_before_a_peak_and_recovers_over_a_150_ms_release() -> None:
    quiet, burst = _sine(1000, -20, 0.5), _sine(1000, 5, 0.05)  # 6 dB over the -1 dBTP ceiling
    x = np.concatenate([quiet, burst, quiet])[:, None].astype(np.float32)
    limiter = TruePeakLimiter(RATE, 1)
    gains = []
    for i in range(0, x.shape[0], 2048):
        limiter.process(x[i: i + 2048], -1.0)
        gains.append(limiter.last_gain)
    gain_db = 20 * np.log10(np.concatenate(gains))
    start = int(0.5 * RATE) + limiter.latency  # where the burst leaves the limiter
    assert gain_db[start - limiter.window - 10] == 0.0  # untouched until the look-ahead sees the burst,
    assert -2.0 < gain_db[start - 100] < -0.3  # then falling over the 3 ms before it arrives
    assert gain_db[start: start + int(0.05 * RATE)].min() == pytest.approx(-6.05, abs=0.3)
    assert np.abs(np.diff(gain_db)).max() < 0.2  # no step: a ramp, never a click
    end = start + int(0.05 * RATE)
    assert gain_db[end + int(0.1 * RATE)] < -1.0  # still recovering 100 ms later (40 dB/s)
    assert gain_db[end + int(0.2 * RATE)] == 0.0


def test_no_master_writes_the_models_own_level() -> None:
    """`render --no-master`: no levelling, so the file keeps the model's own (quieter) level."""
    mastered = render(RenderRequest(seconds=8.0, seed=2))
    raw = render(RenderRequest(seconds=8.0, seed=2, master=False))
    assert mastered.audio.shape == raw.audio.shape
    assert abs(integrated_loudness(mastered.audio, mastered.rate) - -16.0) <= 1.0
    assert integrated_loudness(raw.audio, raw.rate) < -20.0  # the default model plays well under -16 LUFS
