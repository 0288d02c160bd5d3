"""Audio-reactive controls: analysis features modulating any continuous parameter.

Each of the `/mod/<n>/*` slots adds depth x feature x (the target's whole range) to its target,
after the LFOs, once per latent frame. The feature row is the one analysed from the previous
frame's audio: the loop stays causal and renders the same offline as live.
"""

from __future__ import annotations

import numpy as np

from engine.analysis.features import INDEX
from engine.params.store import ParamStore, Snapshot
from engine.params.table import N_MODS


class FeatureModBank:
    def __init__(self, store: ParamStore) -> None:
        idx = store.continuous_index
        self._idx = idx
        self._lo = store.continuous_minimum
        self._hi = store.continuous_maximum
        self._depth_i = [idx[f"/mod/{n}/depth"] for n in range(N_MODS)]
        self._keys = [(f"/mod/{n}/source", f"/mod/{n}/target") for n in range(N_MODS)]

    def listening(self, snapshot: Snapshot) -> bool:
        """Whether any slot has a source: the analysis must run for it (also at depth 0, so a rising
        depth finds the beat tracker already settled)."""
        values = snapshot.values
        return any(values[source_key] != "off" for source_key, _ in self._keys)

    def apply(self, snapshot: Snapshot, controls: np.ndarray, features: np.ndarray) -> np.ndarray:
        values = snapshot.values
        out: np.ndarray | None = None
        for n, (source_key, target_key) in enumerate(self._keys):
            source, target = values[source_key], values[target_key]
            depth = controls[self._depth_i[n]]
            if source == "off" or not target or depth == 0.0:
                continue
            if out is None:
                out = controls.copy()
            i = self._idx[str(target)]
            out[i] += depth * float(features[INDEX[str(source)]]) * (self._hi[i] - self._lo[i])
        if out is None:
            return controls
        np.clip(out, self._lo, self._hi, out=out)
        return out
