"""Generated collections with clearly different timbres, and atlases made from them, for the explorer tests.

`plucks`: low decaying harmonic notes (dark, with attacks); `pads`: a steady high chord; `hats`: a
bright noise-and-click rhythm at 120 bpm (the codebook's target).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.explore.build import ExploreRequest, build_atlas
from engine.models.nn_tilde import NNModel

RATE = 48000


def plucks(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    y = np.zeros(n)
    start = 0
    while start < n:
        f = float(rng.choice([55.0, 65.4, 73.4, 82.4, 98.0, 110.0]))
        length = min(n - start, int(rng.uniform(0.3, 0.7) * RATE))
        t = np.arange(length) / RATE
        y[start:start + length] += np.exp(-t / 0.25) * sum(0.4 / h * np.sin(2 * np.pi * f * h * t) for h in (1, 2, 3, 4))
        start += length
    return (0.6 * y).astype(np.float32)


def pads(seconds: float) -> np.ndarray:
    """A steady C-E-G-B chord an octave and a half above the plucks, faded in and out over 0.2 s."""
    t = np.arange(int(seconds * RATE)) / RATE
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.2)
    chord = sum(np.sin(2 * np.pi * f * t) for f in (523.3, 659.3, 784.0, 987.8))
    return (0.12 * fade * chord).astype(np.float32)


def hats(seconds: float, bpm: float = 120.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    y = np.zeros(n)
    noise = np.diff(rng.standard_normal(n + 1))  # differenced noise: bright
    step = 60.0 / bpm / 2
    for k in range(int(seconds / step)):
        a = int(k * step * RATE)
        length = min(int(0.06 * RATE), n - a)
        t = np.arange(length) / RATE
        y[a:a + length] += (0.5 if k % 2 == 0 else 0.25) * noise[a:a + length] * np.exp(-t / 0.015)
        if k % 4 == 0:
            y[a:a + length] += 0.4 * np.sin(2 * np.pi * 1500 * t) * np.exp(-t / 0.03)
    return (0.5 * y).astype(np.float32)


def write_collection(folder: Path) -> Path:
    """plucks.wav, sub/pads.flac, sub/deeper/more_plucks.ogg, plus a broken .wav and a text file."""
    (folder / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    sf.write(folder / "plucks.wav", plucks(8.0), RATE)
    sf.write(folder / "sub" / "pads.flac", pads(6.0), RATE)
    sf.write(folder / "sub" / "deeper" / "more_plucks.ogg", plucks(6.0, seed=3), RATE)
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (folder / "notes.txt").write_text("not audio")
    return folder


@pytest.fixture(scope="session")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_collection(tmp_path_factory.mktemp("collection"))


@pytest.fixture(scope="session")
def atlas_path(collection: Path, default_model: NNModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection mapped with the default model, PCA map, 1 s chunks, 4 clusters."""
    out = tmp_path_factory.mktemp("atlas") / "collection.npz"
    build_atlas(ExploreRequest(collection, out, clusters=4, chunk_seconds=1.0, map_method="pca"), model=default_model)
    return out


@pytest.fixture(scope="session")
def hats_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("target") / "hats.wav"
    sf.write(path, hats(10.0), RATE)
    return path
