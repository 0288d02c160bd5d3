"""Per-chunk descriptors of a collection, computed with librosa: loudness, spectral centroid, onset rate
and chroma (the names in `atlas.DESCRIPTOR_NAMES`).

Each file is analysed once at 22.05 kHz (hop 512, about 23 ms); chunks average the frames they span,
so the cost grows with the collection's length, not with its number of chunks.
"""

from __future__ import annotations

import numpy as np

from engine.explore.atlas import DESCRIPTOR_NAMES
from engine.models.resample import resample

ANALYSIS_RATE = 22050
HOP = 512
N_FFT = 2048
SILENCE_DB = -120.0
ONSET_DELTA_DB = 1.0


def chunk_descriptors(mono: np.ndarray, rate: int, spans: list[tuple[float, float]]) -> np.ndarray:
    """(len(spans), len(DESCRIPTOR_NAMES)) float32 for the (start, seconds) spans of one file's mono audio."""
    import librosa  # heavy (numba): only where a collection is mapped

    y = resample(mono, rate, ANALYSIS_RATE) if rate != ANALYSIS_RATE else mono.astype(np.float32)
    if y.shape[0] < N_FFT:
        y = np.pad(y, (0, N_FFT - y.shape[0]))
    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
    rms = librosa.feature.rms(S=np.sqrt(power), frame_length=N_FFT)[0]
    centroid = librosa.feature.spectral_centroid(S=np.sqrt(power), sr=ANALYSIS_RATE)[0]
    chroma = librosa.feature.chroma_stft(S=power, sr=ANALYSIS_RATE, tuning=0.0)
    envelope = librosa.onset.onset_strength(S=librosa.power_to_db(power), sr=ANALYSIS_RATE)
    # An absolute threshold (1 dB of mean spectral rise above the local mean): librosa's default
    # normalises the envelope per file, which finds "onsets" in the noise of a steady drone.
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=ANALYSIS_RATE, hop_length=HOP, units="time",
                                        normalize=False, delta=ONSET_DELTA_DB)
    frames = rms.shape[0]
    out = np.zeros((len(spans), len(DESCRIPTOR_NAMES)), dtype=np.float32)
    for i, (start, seconds) in enumerate(spans):
        a = min(frames - 1, int(start * ANALYSIS_RATE / HOP))
        b = max(a + 1, min(frames, int(np.ceil((start + seconds) * ANALYSIS_RATE / HOP))))
        power_mean = float(np.mean(rms[a:b] ** 2))
        out[i, 0] = 10.0 * np.log10(power_mean) if power_mean > 1e-12 else SILENCE_DB
        weights = rms[a:b] ** 2
        out[i, 1] = float(np.average(centroid[a:b], weights=weights)) if weights.sum() > 0 else 0.0
        out[i, 2] = float(np.count_nonzero((onsets >= start) & (onsets < start + seconds))) / max(seconds, 1e-9)
        out[i, 3:] = chroma[:, a:b].mean(axis=1)
    return out
