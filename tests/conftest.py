"""Shared fixtures: the default model (loaded once), the shared fixtures folder, audio measures."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from engine.latent.energy import CACHE_ENV
from engine.models.default import DEFAULT_MODEL
from engine.models.nn_tilde import NNModel

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MUSIC = SHARED / "fixtures" / "music"

# A suite started as a script's background job inherits SIGINT ignored, and so would every engine it
# starts: the tests that stop one with Ctrl-C would wait in vain. A handler (not SIG_IGN) is reset to
# the default in a child, which then installs Python's own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def calibration_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model calibrations (engine/latent/energy.py) go to this session's folder, not ~/.cache; the
    environment variable reaches the live engines the tests start as subprocesses too."""
    folder = tmp_path_factory.mktemp("calibration_cache")
    os.environ[CACHE_ENV] = str(folder)
    return folder


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    # RAVE_ENGINE_TEST_MODEL lets a developer run the control tests against another model file.
    return Path(os.environ.get("RAVE_ENGINE_TEST_MODEL", DEFAULT_MODEL))


@pytest.fixture(scope="session")
def default_model(default_model_path: Path) -> NNModel:
    return NNModel.load(default_model_path)


@pytest.fixture(scope="session")
def music_dir() -> Path:
    if not MUSIC.is_dir():
        pytest.skip(f"{MUSIC} is not here (../shared beside the checkout)")
    return MUSIC


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def envelope(audio: np.ndarray, hop: int) -> np.ndarray:
    """RMS per hop of a (frames, channels) signal."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    n = mono.shape[0] // hop
    return np.sqrt(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1))


def mean_log_spectrum(audio: np.ndarray, n_fft: int = 2048) -> np.ndarray:
    """Long-term average log-magnitude spectrum: where a sound's energy sits in frequency."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    n = mono.shape[0] // n_fft
    frames = mono[: n * n_fft].reshape(n, n_fft) * np.hanning(n_fft)
    return np.log(np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0) + 1e-6)


def spectrum_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(mean_log_spectrum(a) - mean_log_spectrum(b))))


def variation(audio: np.ndarray, n_fft: int = 2048, bands: int = 16) -> float:
    """How much a sound changes over time: the std across 2048-sample frames of log band energies,
    averaged over 16 log-spaced bands (fine-grained noise averages out inside each band and frame)."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    n = mono.shape[0] // n_fft
    power = np.abs(np.fft.rfft(mono[: n * n_fft].reshape(n, n_fft) * np.hanning(n_fft), axis=1)) ** 2
    edges = np.geomspace(2, power.shape[1] - 1, bands + 1).astype(int)
    energies = np.stack([power[:, lo:hi].sum(axis=1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)], 1)
    return float(np.log(energies + 1e-9).std(axis=0).mean())


def dominant_period(signal: np.ndarray, min_lag: int, max_lag: int) -> int:
    """The lag (in samples of `signal`) of the autocorrelation peak between min_lag and max_lag."""
    x = signal - signal.mean()
    corr = np.correlate(x, x, mode="full")[x.size - 1:]
    return int(min_lag + np.argmax(corr[min_lag:max_lag]))


# Generated collections, their atlas and a codebook target (tests/explore_fixtures.py).
from explore_fixtures import atlas_path, collection, hats_file  # noqa: E402, F401

# The X display (Xvfb) and QApplication for the console's GUI tests, and a live engine process
# (tests/gui_fixtures.py).
from gui_fixtures import console_settings_file, engine_process, qapp, xvfb  # noqa: E402, F401, I001

# The real audio server for the live tests (tests/jack_fixtures.py): JACK's dummy driver, session-wide.
from jack_fixtures import jack_server  # noqa: E402, F401

# The model the live engine plays in the tests that listen to it on JACK (tests/live_fixtures.py).
from live_fixtures import live_model  # noqa: E402, F401

# The OSC hub, server and listener fixtures (tests/osc_fixtures.py).
from osc_fixtures import hub, listener, server  # noqa: E402, F401
