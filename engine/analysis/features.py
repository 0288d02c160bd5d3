"""The feature vector's layout: one flat float32 row per analysis hop, the same everywhere.

The analyzer writes rows in this layout, shared memory carries them to the visual process, OSC
sends them by name, and the modulation bank reads them by index. Ranges: `rms` is linear RMS;
`level`, the four bands, `centroid`, `flux`, `onset_strength`, `beat_phase`, `beat_confidence`
and the chroma bins lie in 0..1; `onset` and `beat` are 1.0 on the hop where one happened, else
0.0; `bpm` is in beats per minute (0.0 until the tracker has an estimate).
"""

from __future__ import annotations

import numpy as np

FRAME_RATE_HZ = 86.0  # analysis hops per second (hop = round(samplerate / FRAME_RATE_HZ))

BANDS_HZ: dict[str, tuple[float, float]] = {
    "bass": (20.0, 150.0),
    "low_mid": (150.0, 800.0),
    "high_mid": (800.0, 4000.0),
    "high": (4000.0, 16000.0),
}
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

SCALAR_FEATURES: tuple[str, ...] = (
    "rms", "level", *BANDS_HZ, "centroid", "flux", "onset_strength", "onset",
    "beat", "beat_phase", "bpm", "beat_confidence",
)
CHROMA_FEATURES: tuple[str, ...] = tuple(f"chroma_{i}" for i in range(12))
FEATURE_NAMES: tuple[str, ...] = SCALAR_FEATURES + CHROMA_FEATURES
N_FEATURES = len(FEATURE_NAMES)
INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}
CHROMA_SLICE = slice(INDEX["chroma_0"], INDEX["chroma_11"] + 1)

# Features that make sense as modulation sources for audio parameters (0..1, continuous).
MOD_SOURCES: tuple[str, ...] = (
    "level", *BANDS_HZ, "centroid", "flux", "onset_strength", "beat_phase", "beat_confidence",
)


def empty() -> np.ndarray:
    return np.zeros(N_FEATURES, dtype=np.float32)

