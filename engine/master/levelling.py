"""Loudness levelling: a slow gain that brings the model's K-weighted loudness to a target.

The follower is feed-forward: it measures the stage's input (after the DC blocker, before any
gain), so the trim, the energy offset and the limiter never feed back into it. It measures the input's
K-weighted power over the last second (WINDOW_BINS of 100 ms: a power average takes in a couple
of beats without the low bias a decibel average of them would have) and follows that loudness in
decibels, with ATTACK_S when it rises and RELEASE_S when it falls: a model that swells is caught
within a second (overshoot counts most in integrated loudness), one that fades is followed over
seconds, and on music the gain breathes by about 0.4 dB around its 2 s average. Frames below -70 LUFS, or more than
PAUSE_LU under the estimate for less than PAUSE_HOLD_S, are pauses: they are left out, and the
gain holds instead of swelling into them.

The follower reads fluctuating material high (it takes a swell within ATTACK_S and lets go over
RELEASE_S), so on music the levelled output sat up to 1.5 LU under the target. A slow correction
removes that bias (`correct`, fed by the stage each frame with the last 400 ms that left the
limiter, BS.1770's gating block, less the energy offset and the user's trim): it integrates that
block's power against the target's as a ratio (integrated loudness averages power, not decibels),
leaves out blocks more than 10 LU under the output's running power mean (as the standard's
relative gate does), and never pushes up while the limiter is at work, where more gain would only
be limited. It moves at CORRECTION_DB_PER_S per unit of error, within ±CORRECTION_MAX_DB: it follows
tens of seconds, never beats.
"""

from __future__ import annotations

import math

import numpy as np

from engine.dsp.loudness import ABSOLUTE_GATE, RELATIVE_GATE, SILENCE, LoudnessMeter, power_to_lufs

WINDOW_BINS = 10
ATTACK_S = 0.15  # chosen on 32 seeds of the default model v4, before the correction
RELEASE_S = 1.5
MIN_GAIN_DB = -24.0  # a full-scale stereo square wave (+3 LUFS) still reaches -16
MAX_GAIN_DB = 40.0  # the default model wanders down to -55 LUFS on some seeds
PAUSE_LU = 30.0
PAUSE_HOLD_S = 4.0
CORRECTION_DB_PER_S = 0.5  # per unit of power error (1 - output power / target power)
CORRECTION_MAX_RATIO = 4.0  # a frame 6 dB over counts as 6 dB: one burst does not drag the correction down
CORRECTION_MAX_DB = 4.0
MEAN_S = 3.0  # the running mean the gate is relative to


class LoudnessLeveller:
    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.meter = LoudnessMeter(rate, channels)
        self.estimate_lufs = SILENCE
        self._paused = 0.0  # seconds of the current pause
        self.gain_db = 0.0
        self.correction_db = 0.0  # the slow bias correction, part of gain_db
        self._mean_ratio = 1.0  # the output's running power mean, against the target's

    def update(self, block: np.ndarray, target_lufs: float) -> float:
        """Measure a (frames, channels) block; return the levelling gain in dB for it."""
        weighted = self.meter.filter.process(block)
        power = np.einsum("ij,ij->i", weighted, weighted)
        seconds = block.shape[0] / self.rate
        lufs = power_to_lufs(float(power.mean())) if power.size else SILENCE
        if lufs <= ABSOLUTE_GATE or (math.isfinite(self.estimate_lufs) and lufs < self.estimate_lufs - PAUSE_LU
                                     and self._paused < PAUSE_HOLD_S):
            self._paused += seconds
            return self.gain_db
        self._paused = 0.0
        self.meter.push_power(power)
        short_term = self.meter.recent(WINDOW_BINS)
        if not math.isfinite(short_term):  # not one 100 ms bin yet: this frame's own loudness
            short_term = lufs
        if math.isfinite(self.estimate_lufs):
            tau = ATTACK_S if short_term > self.estimate_lufs else RELEASE_S
            self.estimate_lufs += (short_term - self.estimate_lufs) * min(1.0, seconds / tau)
        else:
            self.estimate_lufs = short_term
        self.gain_db = min(MAX_GAIN_DB, max(MIN_GAIN_DB, target_lufs - self.estimate_lufs + self.correction_db))
        return self.gain_db

    def correct(self, out_lufs: float, target_lufs: float, seconds: float, limiting: bool) -> None:
        """Move the slow correction by one frame's `seconds`, given the last 400 ms that came out at
        `out_lufs` (K-weighted, after the limiter, without the energy offset and the user's trim)."""
        if not math.isfinite(out_lufs):
            return
        ratio = 10.0 ** ((out_lufs - target_lufs) / 10.0)
        self._mean_ratio += (ratio - self._mean_ratio) * min(1.0, seconds / MEAN_S)
        if ratio < self._mean_ratio * 10.0 ** (RELATIVE_GATE / 10.0):
            return
        error = 1.0 - min(CORRECTION_MAX_RATIO, ratio)
        if error > 0.0 and limiting:
            return
        self.correction_db = min(CORRECTION_MAX_DB, max(-CORRECTION_MAX_DB,
                                                        self.correction_db + CORRECTION_DB_PER_S * error * seconds))
