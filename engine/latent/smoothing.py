"""Per-frame one-pole smoothing of every continuous parameter, so no jump reaches the decoder."""

from __future__ import annotations

import numpy as np

from engine.params.store import ParamStore


class Smoother:
    """Exponential smoothing with a time constant per parameter (its `smoothing_ms`)."""

    def __init__(self, store: ParamStore, frame_seconds: float) -> None:
        taus = np.array([store.param(a).smoothing_ms / 1000.0 for a in store.continuous_addresses])
        with np.errstate(divide="ignore"):
            self._alpha = np.where(taus > 0, 1.0 - np.exp(-frame_seconds / np.maximum(taus, 1e-9)), 1.0)
        self._state: np.ndarray | None = None

    def step(self, target: np.ndarray) -> np.ndarray:
        """Move one frame towards `target`; the first call starts at the target (no fade-in from zero)."""
        if self._state is None:
            self._state = target.astype(np.float64, copy=True)
        else:
            self._state += self._alpha * (target - self._state)
        return self._state
