"""Per-chunk descriptors of a collection, computed with librosa: loudness, spectral centroid, onset rate
and chroma (the names in `atlas.DESCRIPTOR_NAMES`).

A file is analysed block by block as it is read, at 22.05 kHz with 2048-sample frames every 512
samples (about 23 ms): the resampler and the framing carry over from block to block, so any block size
gives the frames of the whole file analysed at once. Each frame is stamped with the time of its centre;
a chunk averages the frames inside its span, and onsets are picked on the whole file's envelope at the
end. Memory stays 16 numbers per frame however long the file.
"""

from __future__ import annotations

import numpy as np

from engine.explore.atlas import DESCRIPTOR_NAMES
from engine.models.resample import Resampler

ANALYSIS_RATE = 22050
HOP = 512
N_FFT = 2048
SILENCE_DB = -120.0
ONSET_DELTA_DB = 1.0  # onset threshold: mean spectral rise, in dB, above the envelope's local mean
FLOOR_DB = -30.0  # bins below this (about 85 dB under a full-scale sine's bin) count as silence


class DescriptorFrames:
    """Frame-level features of one file, fed in blocks (`add`), summarised per chunk (`chunks`)."""

    def __init__(self, rate: int) -> None:
        self._resampler = Resampler(rate, ANALYSIS_RATE, 1) if rate != ANALYSIS_RATE else None
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames = 0  # analysis frames so far
        self._window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann
        self._previous_db: np.ndarray | None = None
        self._power: list[np.ndarray] = []
        self._centroid: list[np.ndarray] = []
        self._chroma: list[np.ndarray] = []
        self._flux: list[np.ndarray] = []

    def add(self, mono: np.ndarray) -> None:
        """The next block of the file: mono float32 at the file's rate."""
        y = self._resampler.process(mono)[:, 0] if self._resampler is not None else mono
        self._frame(y)

    def finish(self) -> None:
        """After the last block: what the resampler still holds, and one padded frame for a file
        shorter than a frame."""
        if self._resampler is not None:
            self._frame(self._resampler.flush()[:, 0])
        if self._frames == 0:
            self._pending = np.pad(self._pending, (0, max(0, N_FFT - self._pending.shape[0])))
            self._frame(np.zeros(0, dtype=np.float32))

    def _frame(self, y: np.ndarray) -> None:
        self._pending = np.concatenate([self._pending, y.astype(np.float32)])
        count = (self._pending.shape[0] - N_FFT) // HOP + 1 if self._pending.shape[0] >= N_FFT else 0
        if count > 0:
            frames = np.lib.stride_tricks.sliding_window_view(self._pending, N_FFT)[::HOP][:count]
            self._analyse(np.abs(np.fft.rfft(frames * self._window, axis=1)).T ** 2)
            self._pending = self._pending[count * HOP:]
            self._frames += count

    def _analyse(self, power: np.ndarray) -> None:
        import librosa  # heavy (numba): only where a collection is mapped

        magnitude = np.sqrt(power)
        self._power.append(librosa.feature.rms(S=magnitude, frame_length=N_FFT)[0] ** 2)
        self._centroid.append(librosa.feature.spectral_centroid(S=magnitude, sr=ANALYSIS_RATE)[0])
        self._chroma.append(librosa.feature.chroma_stft(S=power, sr=ANALYSIS_RATE, tuning=0.0))
        # librosa's onset strength (mean rectified rise of the log spectrum), on an absolute floor
        # rather than one relative to each block's loudest bin, so blocks join seamlessly.
        db = np.maximum(librosa.power_to_db(power, top_db=None), FLOOR_DB)
        previous = self._previous_db if self._previous_db is not None else db[:, :1]
        self._flux.append(np.maximum(0.0, np.diff(np.concatenate([previous, db], axis=1), axis=1)).mean(axis=0))
        self._previous_db = db[:, -1:]

    def chunks(self, spans: list[tuple[float, float]]) -> np.ndarray:
        """(len(spans), len(DESCRIPTOR_NAMES)) float32 for (start, seconds) spans of the file."""
        import librosa

        power = np.concatenate(self._power)
        centroid = np.concatenate(self._centroid)
        chroma = np.concatenate(self._chroma, axis=1)
        flux = np.concatenate(self._flux)
        # Onsets on the whole file's envelope, with an absolute threshold: librosa's default normalises
        # the envelope per file, which finds "onsets" in the noise of a steady drone.
        peaks = librosa.onset.onset_detect(onset_envelope=flux, sr=ANALYSIS_RATE, hop_length=HOP,
                                           normalize=False, delta=ONSET_DELTA_DB)
        centre = N_FFT / 2 / ANALYSIS_RATE
        times = centre + np.arange(power.shape[0]) * HOP / ANALYSIS_RATE
        onsets = times[peaks]
        out = np.zeros((len(spans), len(DESCRIPTOR_NAMES)), dtype=np.float32)
        for i, (start, seconds) in enumerate(spans):
            a, b = np.searchsorted(times, [start, start + seconds])
            a = min(a, times.size - 1)
            b = max(b, a + 1)
            mean_power = float(power[a:b].mean())
            out[i, 0] = 10.0 * np.log10(mean_power) if mean_power > 1e-12 else SILENCE_DB
            weights = power[a:b]
            out[i, 1] = float(np.average(centroid[a:b], weights=weights)) if weights.sum() > 0 else 0.0
            out[i, 2] = np.count_nonzero((onsets >= start) & (onsets < start + seconds)) / max(seconds, 1e-9)
            out[i, 3:] = chroma[:, a:b].mean(axis=1)
        return out
