"""Every latent control has an audible effect in offline render with the default model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dominant_period, envelope, rms, spectrum_distance, variation

from engine.io.audio_files import write_wav
from engine.render.offline import RenderRequest, render

SECONDS = 8.0


def play(model, *sets: str, seconds: float = SECONDS, seed: int = 0, **kwargs) -> np.ndarray:
    result = render(RenderRequest(seconds=seconds, sets=list(sets), seed=seed, **kwargs), model=model)
    audio = result.audio
    assert audio.shape[0] == int(round(seconds * result.rate))
    assert np.isfinite(audio).all()
    assert rms(audio) > 1e-3, "render is silent"
    return audio


def seed_spread(model, *sets: str) -> float:
    """How different two renders are with nothing changed but the seed: the bar a control must clear."""
    return spectrum_distance(play(model, *sets, seed=1), play(model, *sets, seed=2))


def test_default_render_has_right_length_and_sound(default_model):
    audio = play(default_model, seconds=3.3)
    assert audio.shape == (int(round(3.3 * default_model.sample_rate)), 1)
    assert np.abs(audio).max() <= 1.0


def test_energy_raises_rms(default_model):
    low = rms(play(default_model, "/rave/energy=0.3"))
    mid = rms(play(default_model, "/rave/energy=1.0"))
    high = rms(play(default_model, "/rave/energy=2.0"))
    assert low < mid < high
    assert high > 1.5 * low


def active_dimensions(model, count: int = 3) -> list[int]:
    """The latent dimensions the model uses most (largest spread of its encoded latents)."""
    stats = model.latent_statistics()
    assert stats is not None, "the default model ships latent_mean/latent_std"
    return [int(i) for i in np.argsort(stats[1])[::-1][:count]]


def test_bias_moves_the_spectrum(default_model):
    # every scale at 0: the latent is exactly the bias vector, so only the bias differs between renders
    frozen = [f"/rave/latent/{i}/scale=0" for i in range(default_model.latent_size)]
    plain = play(default_model, *frozen)
    spread = seed_spread(default_model, *frozen)
    for dim in active_dimensions(default_model):
        for bias in (-2.5, 2.5):
            moved = play(default_model, *frozen, f"/rave/latent/{dim}/bias={bias}")
            assert spectrum_distance(plain, moved) > 2 * spread + 0.05, f"bias on dimension {dim} did nothing"


def test_scale_zero_freezes_a_dimension(default_model):
    moving = play(default_model, "/rave/walk_speed=1")
    frozen = play(default_model, "/rave/walk_speed=1", *(f"/rave/latent/{i}/scale=0" for i in range(8)))
    # with every dimension's scale at 0 the latent is constant: the sound stops evolving
    assert variation(frozen) < 0.5 * variation(moving)


def test_chaos_makes_the_sound_restless(default_model):
    calm = variation(play(default_model, "/rave/chaos=0", "/rave/texture=0", "/rave/walk_speed=0"))
    wild = variation(play(default_model, "/rave/chaos=1", "/rave/texture=0", "/rave/walk_speed=0"))
    assert wild > 1.3 * calm


def test_texture_adds_variation(default_model):
    still = play(default_model, "/rave/texture=0", "/rave/walk_speed=0")
    varied = play(default_model, "/rave/texture=1", "/rave/walk_speed=0")
    assert variation(varied) > 1.2 * variation(still)


def test_lfo_modulates_at_its_rate(default_model):
    rate = 0.75
    audio = play(default_model, "/rave/texture=0", "/rave/walk_speed=0", "/lfo/0/target=/rave/energy",
                 "/lfo/0/depth=1", f"/lfo/0/rate={rate}", "/lfo/0/shape=sine", seconds=16.0)
    hop = 2048
    env = np.log(envelope(audio, hop) + 1e-6)
    frame_rate = default_model.sample_rate / hop
    spectrum = np.abs(np.fft.rfft(env - env.mean()))
    freqs = np.fft.rfftfreq(env.size, 1 / frame_rate)
    band = (freqs > 0.25) & (freqs < 5.0)  # above the walk's slow drift, below the frame rate
    assert freqs[band][spectrum[band].argmax()] == pytest.approx(rate, abs=0.1)


def test_tempo_shortens_the_loop_period(default_model, tmp_path):
    # A 2-second reference with one loud burst: its loop period is easy to find in the output envelope.
    sr = default_model.sample_rate
    rng = np.random.default_rng(3)
    t = np.arange(2 * sr) / sr
    clip = 0.02 * rng.standard_normal(t.size)
    clip[: sr // 2] += 0.6 * np.sin(2 * np.pi * 110 * t[: sr // 2]) * np.exp(-6 * t[: sr // 2])
    ref = write_wav(tmp_path / "ref.wav", clip.astype(np.float32)[:, None], sr)
    hop = 1024
    loop_frames = 2 * sr / hop
    periods = {}
    for bpm in (120, 180):
        audio = play(default_model, "/rave/texture=0", f"/tempo/bpm={bpm}", references=[ref], seconds=14.0)
        env = envelope(audio, hop)
        # The strongest repetition up to 1.25 loops at 120 BPM: an unchanged loop would show there at 180
        # too, while longer lags can favour every few loops (the stretched loop lands on frames in a cycle).
        periods[bpm] = dominant_period(env, min_lag=20, max_lag=int(1.25 * loop_frames))
    assert periods[120] == pytest.approx(loop_frames, rel=0.1)
    assert periods[180] == pytest.approx(loop_frames / 1.5, rel=0.1)


def test_style_blends_towards_source_b(default_model, tmp_path):
    sr = default_model.sample_rate
    t = np.arange(3 * sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    ref = write_wav(tmp_path / "tone.wav", tone.astype(np.float32)[:, None], sr)
    # The model's own levels: the master's levelling evens out the loudness the blend moves through,
    # and this compares mean log spectra, level included.
    sets = ("/rave/texture=0", "/rave/source/a=walk", "/rave/source/b=ref1", "/master/agc=0")
    a = play(default_model, *sets, "/rave/style=0", references=[ref])
    half = play(default_model, *sets, "/rave/style=0.5", references=[ref])
    b = play(default_model, *sets, "/rave/style=1", references=[ref])
    assert spectrum_distance(a, b) > spectrum_distance(a, half) > 0.0
    assert spectrum_distance(half, b) < spectrum_distance(a, b)


@pytest.mark.parametrize(("one", "other"), [("Calm", "Chaotic"), ("Calm", "Intense")])
def test_scene_changes_the_sound(default_model, one, other):
    a = play(default_model, scene=one)
    b = play(default_model, scene=other)
    assert spectrum_distance(a, b) > 2 * seed_spread(default_model)
    assert variation(b) > variation(a)


def test_master_gain_ramp_never_clicks(default_model, tmp_path):
    automation = tmp_path / "gain.toml"
    automation.write_text('[[event]]\ntime = 2.0\naddress = "/master/gain_db"\nvalue = -40.0\n')
    audio = play(default_model, automation=automation, seconds=4.0)[:, 0]
    sr = default_model.sample_rate
    before, after = rms(audio[sr: 2 * sr]), rms(audio[int(2.5 * sr):])
    assert after < 0.05 * before
    # the step is smoothed over many samples: no sample-to-sample jump larger than the music's own
    jumps = np.abs(np.diff(audio))
    assert jumps[2 * sr - 100: int(2.3 * sr)].max() <= jumps[: 2 * sr].max() * 1.01
