"""Reading and writing audio files (libsndfile through soundfile: wav, flac, ogg, mp3, aiff)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.errors import AudioFileError

# libsndfile's formats, found by suffix: wav, flac, ogg, mp3, aiff.
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".aifc"})


def audio_files(folder: Path) -> list[Path]:
    """Every file under `folder` (recursively, sorted) whose suffix names an audio format."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Return float32 samples shaped (frames, channels) and the file's sample rate."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such audio file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(f"{path}: cannot read audio: {exc}") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: the file holds no samples")
    return data, int(rate)


def write_wav(path: str | Path, audio: np.ndarray, rate: int, subtype: str = "PCM_24") -> Path:
    """Write through a temporary file and rename, so a failed write never leaves half a file behind."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise AudioFileError(f"{path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=path.parent or ".")
    os.close(fd)
    try:
        sf.write(tmp, audio, rate, subtype=subtype, format="WAV")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a render is an ordinary file
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise AudioFileError(f"{path}: cannot write: {exc}") from None
    return path
