"""A folder of recordings as training material: every readable audio file under it, mono, at one rate.

Formats are libsndfile's (wav, flac, ogg, mp3, aiff); files are found recursively. A file that cannot
be read is skipped and listed, not fatal; a folder with no audio, or less than MIN_SECONDS of it, is
refused with one line (TrainingDataError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import AudioFileError, TrainingDataError
from engine.io.audio_files import read_audio
from engine.models.resample import resample

AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".aifc"})
MIN_SECONDS = 30.0


@dataclass
class FolderAudio:
    rate: int
    clips: list[np.ndarray] = field(default_factory=list)  # float32 mono, one per readable file
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)

    @property
    def seconds(self) -> float:
        return sum(len(c) for c in self.clips) / self.rate


def audio_files(folder: Path) -> list[Path]:
    """Every file under `folder` (recursively, sorted) whose suffix names an audio format."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def read_folder(folder: Path, rate: int, *, min_seconds: float = MIN_SECONDS) -> FolderAudio:
    """Read, mix to mono and resample every audio file under `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrainingDataError(f"{folder}: not a folder")
    found = FolderAudio(rate)
    for path in audio_files(folder):
        try:
            audio, file_rate = read_audio(path)
        except AudioFileError as exc:
            found.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
            continue
        mono = resample(audio.mean(axis=1), file_rate, rate)
        if not np.all(np.isfinite(mono)):
            found.skipped.append((path, "holds NaN or infinite samples"))
            continue
        found.clips.append(mono)
        found.files.append(path)
    suffixes = ", ".join(sorted({s.lstrip(".") for s in AUDIO_SUFFIXES}))
    if not found.clips:
        unreadable = f" ({len(found.skipped)} unreadable)" if found.skipped else ""
        raise TrainingDataError(f"{folder}: no readable audio files{unreadable}; looked for {suffixes}")
    if found.seconds < min_seconds:
        raise TrainingDataError(f"{folder}: {found.seconds:.1f} s of audio in {len(found.clips)} files; "
                                f"training needs at least {min_seconds:g} s")
    return found


class FolderCrops:
    """Random excerpts of `samples` from the folder's clips, a clip chosen in proportion to its length
    (so each second of the folder is equally likely): the clip source of a ClipPool. Clips shorter
    than an excerpt (one-shots, a folder of drum hits) are strung together, whole, to fill it rather
    than padded with silence."""

    def __init__(self, clips: list[np.ndarray], samples: int) -> None:
        self.clips = clips
        self.samples = samples
        lengths = np.array([len(c) for c in clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def _pick(self, rng: np.random.Generator) -> np.ndarray:
        return self.clips[int(rng.choice(len(self.clips), p=self.weights))]

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        clip = self._pick(rng)
        if len(clip) >= self.samples:
            start = int(rng.integers(0, len(clip) - self.samples + 1))
            return clip[start : start + self.samples]
        parts, total = [clip], len(clip)
        while total < self.samples:
            parts.append(self._pick(rng))
            total += len(parts[-1])
        return np.concatenate(parts)[: self.samples]
