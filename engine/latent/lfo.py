"""A bank of LFOs, evaluated once per latent frame, each modulating any continuous parameter."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.params.store import ParamStore, Snapshot
from engine.params.table import LFO_DIVISIONS


@dataclass
class _LfoState:
    rng: np.random.Generator  # from the graph's SeedSequence: never an unseeded default
    phase: float = 0.0  # cycles, wraps at 1
    cycle: int = 0  # synced to the beat grid: the cycle count the last frame was in
    held: float = 0.0  # sample-and-hold value / smooth-random start
    target: float = 0.0  # smooth-random end


def lfo_value(shape: str, phase: float, state: _LfoState) -> float:
    """Bipolar output in -1..1 for `phase` in [0, 1)."""
    if shape == "sine":
        return math.sin(2.0 * math.pi * phase)
    if shape == "triangle":
        return 1.0 - 4.0 * abs(((phase + 0.25) % 1.0) - 0.5)
    if shape == "square":
        return 1.0 if phase < 0.5 else -1.0
    if shape == "saw":
        return 2.0 * phase - 1.0
    if shape == "sample_hold":
        return state.held
    # smooth_random: cosine interpolation from the held value to the next one over one cycle
    w = 0.5 - 0.5 * math.cos(math.pi * phase)
    return (1.0 - w) * state.held + w * state.target


class LfoBank:
    def __init__(self, store: ParamStore, n_lfos: int, frame_seconds: float, seed_sequence: np.random.SeedSequence
                 ) -> None:
        self._store = store
        self._dt = frame_seconds
        self._idx = store.continuous_index
        self._lo = store.continuous_minimum
        self._hi = store.continuous_maximum
        self._half_range = (self._hi - self._lo) / 2.0
        self._states = []
        for child in seed_sequence.spawn(n_lfos):
            rng = np.random.default_rng(child)
            self._states.append(_LfoState(held=rng.uniform(-1, 1), target=rng.uniform(-1, 1), rng=rng))
        self._rate_i = [self._idx[f"/lfo/{n}/rate"] for n in range(n_lfos)]
        self._depth_i = [self._idx[f"/lfo/{n}/depth"] for n in range(n_lfos)]
        self._phase_i = [self._idx[f"/lfo/{n}/phase"] for n in range(n_lfos)]
        self._bpm_i = self._idx["/tempo/bpm"]
        # Addresses built once: this runs every latent frame.
        self._keys = [(f"/lfo/{n}/sync", f"/lfo/{n}/shape", f"/lfo/{n}/target") for n in range(n_lfos)]
        self.values = np.zeros(n_lfos)  # last outputs, -1..1, for meters and visuals

    def phases(self) -> list[float]:
        """Each LFO's free-running phase (0..1, before its phase offset), for a console's display."""
        return [state.phase for state in self._states]

    def apply(self, snapshot: Snapshot, smoothed: np.ndarray, beat: float | None = None) -> np.ndarray:
        """Return `smoothed` plus every LFO's modulation, clamped to each target's range; advances one frame.

        `beat`: where the beat grid (the engine's own, or Link's) is at this frame; a synced LFO then takes
        its phase from it, so it stays on the grid whatever the tempo did. Without it, synced LFOs run
        from the tempo."""
        out = smoothed.copy()
        now = smoothed.tolist()  # Python floats: far cheaper than numpy scalars in this per-frame loop
        values = snapshot.values
        for n, state in enumerate(self._states):
            sync_key, shape_key, target_key = self._keys[n]
            sync = values[sync_key]
            shape = str(values[shape_key])
            if sync == "off":
                rate = now[self._rate_i[n]]
            elif beat is not None:
                rate = 0.0
                cycles = beat * LFO_DIVISIONS[str(sync)]
                state.phase = cycles % 1.0
                if math.floor(cycles) != state.cycle:  # a new cycle: fresh random values
                    state.cycle = math.floor(cycles)
                    self._new_cycle(state, shape)
            else:
                rate = now[self._bpm_i] / 60.0 * LFO_DIVISIONS[str(sync)]
            phase = (state.phase + now[self._phase_i[n]]) % 1.0
            value = lfo_value(shape, phase, state)
            self.values[n] = value
            target = values[target_key]
            depth = now[self._depth_i[n]]
            if target and depth > 0.0:
                i = self._idx[str(target)]
                out[i] += depth * value * self._half_range[i]
            state.phase += rate * self._dt
            if state.phase >= 1.0:  # a new cycle: fresh random values for the random shapes
                state.phase %= 1.0
                self._new_cycle(state, shape)
        np.maximum(out, self._lo, out=out)  # np.clip's Python wrapper costs more than the two ufuncs
        np.minimum(out, self._hi, out=out)
        return out

    @staticmethod
    def _new_cycle(state: _LfoState, shape: str) -> None:
        state.held = state.target
        state.target = state.rng.uniform(-1.0, 1.0)
        if shape == "sample_hold":
            state.held = state.rng.uniform(-1.0, 1.0)
