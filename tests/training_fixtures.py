"""Tiny training material for the training tests: folders of generated audio and a tiny model config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
TINY = {"enc_filters": 8, "enc_channels": 8, "dec_channels": [8, 8, 8, 8], "n_bands": 4, "latent_size": 4,
        "mean_norm": True}
TINY_ARGS = ["--batch", "2", "--clip-frames", "2", "--pool", "4", "--pool-seconds", "0.2", "--threads", "1"]
# libsndfile writes mp3 from 1.1 on (soundfile's wheels bundle 1.2); an older system library skips it.
FORMATS = tuple(f for f in (("wav", "WAV", None), ("flac", "FLAC", None), ("ogg", "OGG", "VORBIS"),
                            ("mp3", "MP3", None), ("aiff", "AIFF", None)) if f[1] in sf.available_formats())


def tone(seconds: float, rate: int, pitch: float, seed: int = 0) -> np.ndarray:
    """A stereo tone with a slow tremolo and a little noise, (frames, 2) float32."""
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * pitch * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))
    mono += 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    return np.stack([mono, 0.5 * mono], axis=1).astype(np.float32)


def tone_folder(folder: Path, seconds_each: float = 8.0, rate: int = 22050,
                formats: tuple[tuple[str, str, str | None], ...] = FORMATS) -> list[Path]:
    """One file per format (every other one in a subfolder), each `seconds_each` long."""
    paths = []
    for i, (ext, fmt, subtype) in enumerate(formats):
        where = folder / "sub" if i % 2 else folder
        where.mkdir(parents=True, exist_ok=True)
        path = where / f"take{i}.{ext}"
        sf.write(path, tone(seconds_each, rate, 180.0 + 60 * i, seed=i), rate, format=fmt, subtype=subtype)
        paths.append(path)
    return paths


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_engine.py"), *args], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout)
