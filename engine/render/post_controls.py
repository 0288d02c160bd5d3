"""The controls that act after the model (master trim, loudness target, ceiling, levelling on/off),
read once per output block rather than once per latent frame.

A latent frame (42.7 ms on the default model) is rendered ahead in one piece; a control of the latent
waits for the next one. These four only shape what the master stage does to samples already decoded,
so they are read as each block is finished, just before it enters the ring. Each follows its own
smoothing time per block, plus whatever LFO or feature modulation the frame gave it. What the block
does with them is engine/render/frame_end.py's: a trim turned down is heard one block and the
lookahead later; the rest act from the next frame, where the master stage runs.
"""

from __future__ import annotations

import numpy as np

from engine.params.store import ParamStore, Snapshot

ADDRESSES = ("/master/gain_db", "/master/loudness", "/master/ceiling")
TRIM, LOUDNESS, CEILING = range(3)


class PostControls:
    def __init__(self, store: ParamStore) -> None:
        index = store.continuous_index
        self._idx = np.array([index[a] for a in ADDRESSES])
        self._tau = np.array([store.param(a).smoothing_ms / 1000.0 for a in ADDRESSES])
        self._lo = store.continuous_minimum[self._idx]
        self._hi = store.continuous_maximum[self._idx]
        self._state: np.ndarray | None = None

    def offsets(self, controls: np.ndarray, smoothed: np.ndarray) -> np.ndarray:
        """What the frame's LFOs and feature mods add to each (a copy: `smoothed` moves on next frame)."""
        return controls[self._idx] - smoothed[self._idx]

    def step(self, snapshot: Snapshot, seconds: float, offsets: np.ndarray) -> tuple[np.ndarray, bool]:
        """The values for a block of `seconds` (trim, loudness, ceiling) from the store's newest
        `snapshot`, and whether levelling is on."""
        target = snapshot.continuous[self._idx]
        if self._state is None:
            self._state = target.astype(np.float64, copy=True)
        else:
            with np.errstate(divide="ignore"):
                alpha = np.where(self._tau > 0, 1.0 - np.exp(-seconds / np.maximum(self._tau, 1e-9)), 1.0)
            self._state += alpha * (target - self._state)
        return np.clip(self._state + offsets, self._lo, self._hi), bool(snapshot.values["/master/agc"])
