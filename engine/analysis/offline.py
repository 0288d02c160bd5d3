"""Offline analysis: a whole signal through the same streaming `AudioAnalyzer` the live path uses.

Streaming it block by block (rather than a separate batch implementation) guarantees that offline
rows are exactly the rows live analysis would produce: the analyzer is causal and its rows do not
depend on the block size.
"""

from __future__ import annotations

import numpy as np

from engine.analysis.analyzer import AudioAnalyzer
from engine.analysis.features import N_FEATURES


def analyze(audio: np.ndarray, samplerate: int, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Rows for `audio` ((n,) or (n, channels)) and their times in seconds.

    A row's time is the end of its hop: the moment live analysis would have it.
    """
    if block <= 0:
        raise ValueError(f"block must be positive, got {block}")
    analyzer = AudioAnalyzer(samplerate)
    chunks = [analyzer.process(audio[i:i + block]) for i in range(0, audio.shape[0], block)]
    rows = np.concatenate(chunks) if chunks else np.zeros((0, N_FEATURES), dtype=np.float32)
    times = np.arange(1, rows.shape[0] + 1) * (analyzer.hop / samplerate)
    return times, rows
