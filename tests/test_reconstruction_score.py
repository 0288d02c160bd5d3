"""The model card's reconstruction score (engine/dsp/reconstruction.py) and the default model's figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import butter, sosfilt

from engine.dsp.reconstruction import envelope_noise, log_spectral_distance, reconstruction_score
from engine.training.report import Exported, music_reconstruction
from training.corpus import make_clip

ROOT = Path(__file__).resolve().parents[1]


def _clip(seed: int = 0) -> np.ndarray:
    return make_clip(np.random.default_rng(seed), 2.0).astype(np.float64)


def test_identical_scores_zero_and_level_does_not_count() -> None:
    clip = _clip()
    assert reconstruction_score(clip, clip) == 0.0
    assert reconstruction_score(clip, 0.1 * clip) == pytest.approx(0.0, abs=1e-9)


def test_envelope_noise_scores_about_one() -> None:
    clip = _clip(1)
    other_noise = envelope_noise(clip, np.random.default_rng(99))
    assert 0.85 < reconstruction_score(clip, other_noise) < 1.15


def test_noise_carries_the_envelope_and_rms() -> None:
    clip = np.concatenate([np.zeros(48000), np.sin(np.arange(48000) * 0.05)])
    noise = envelope_noise(clip, np.random.default_rng(0))
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(np.sqrt(np.mean(clip**2)), rel=1e-6)
    assert np.sqrt(np.mean(noise[:20000] ** 2)) < 0.05 * np.sqrt(np.mean(noise[-20000:] ** 2))


def test_a_band_limited_input_punishes_energy_where_it_has_none() -> None:
    """Filling an empty band (as a model does that ignores a 22.05 kHz file's bandwidth) costs."""
    clip = sosfilt(butter(12, 10800, fs=48000, output="sos"), _clip(2))
    hiss = clip + 1e-3 * np.random.default_rng(0).standard_normal(len(clip))
    assert log_spectral_distance(clip, hiss) > 5 * log_spectral_distance(clip, 0.999 * clip + 1e-9)
    assert reconstruction_score(clip, hiss) > 0.2


def test_default_model_beats_noise_on_real_music(music_dir: Path) -> None:
    """The shipped model reproduces real recordings it never saw better than envelope noise does.

    The figure itself (and the goal) is in models/MODEL_CARD.md and bench/bench_reconstruction.py.
    """
    model = Exported(torch.jit.load(str(ROOT / "models" / "default.ts")).eval())
    result = music_reconstruction(model, music_dir, seconds=6.0)
    assert len(result["music_scores"]) >= 2
    for name, score in result["music_scores"].items():
        assert score < 0.9, (name, score)
