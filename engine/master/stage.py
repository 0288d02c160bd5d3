"""The master stage: DC blocker -> loudness levelling -> energy offset and trim -> true-peak limiter.

It runs once per latent frame, on the whole frame, as the render graph finishes it
(engine/render/frame_end.py), at the output rate, the same live and offline. The meters it publishes
are an immutable snapshot swapped in by reference each frame: the status line and the OSC sender
read them from other threads, lock-free. The output meter's last 400 ms also feed the leveller's
slow correction (engine/master/levelling.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.dsp.dc_blocker import DcBlocker
from engine.dsp.loudness import GATING_BLOCK_BINS, LoudnessMeter
from engine.master.levelling import LoudnessLeveller
from engine.master.limiter import RELEASE_DB_PER_S, TruePeakLimiter

PEAK_FALL_DB_PER_S = 12.0  # peak meters fall back this fast after a peak (a PPM's ballistics, about)
FLOOR_DB = -120.0  # what a silent meter reads (finite, so OSC and JSON carry it)
LIMITING_DB = 0.5  # a limiter reducing more than this (its falling meter) keeps the leveller's correction from rising


def _db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 0.0 else FLOOR_DB


def _finite(lufs: float) -> float:
    return lufs if math.isfinite(lufs) else FLOOR_DB


@dataclass(frozen=True)
class MasterMeters:
    peak_db: float = FLOOR_DB  # sample peak, dBFS, falling back 12 dB/s
    true_peak_db: float = FLOOR_DB  # 4x oversampled peak, dBTP, falling back 12 dB/s
    short_term_lufs: float = FLOOR_DB  # BS.1770 short-term loudness (3 s)
    integrated_lufs: float = FLOOR_DB  # BS.1770-4 gated loudness since the start
    gain_reduction_db: float = 0.0  # the limiter's reduction, dB, falling back 12 dB/s
    levelling_gain_db: float = 0.0  # the leveller's gain now (0 with /master/agc off)
    max_true_peak_db: float = FLOOR_DB  # the largest true peak since the start
    max_gain_reduction_db: float = 0.0  # the limiter's largest reduction since the start

    def osc_args(self) -> list[float]:
        """`/engine/meters` arguments."""
        return [round(v, 2) for v in (self.peak_db, self.true_peak_db, self.short_term_lufs,
                                      self.integrated_lufs, self.gain_reduction_db)]


class MasterStage:
    """`process` takes and returns float32 (frames, channels); its output lags by `latency` samples."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.channels = channels
        self.dc = DcBlocker(rate, channels)
        self.leveller = LoudnessLeveller(rate, channels)
        self.limiter = TruePeakLimiter(rate, channels)
        self.latency = self.limiter.latency
        self.meter = LoudnessMeter(rate, channels)
        self.target_offset_db = 0.0  # set per frame by the graph: how far energy moves the target
        self.release_db_per_s = RELEASE_DB_PER_S  # set per frame by the graph: energy's drive
        self._gain: float | None = None
        self._peak_db = self._true_peak_db = FLOOR_DB
        self._reduction_db = 0.0
        self._max_true_peak = 0.0
        self._max_reduction_db = 0.0
        self.meters = MasterMeters()

    def scale_last_gain(self, factor: float) -> None:
        """What the caller did to the last output (a trim turned down, `factor` <= 1): the next gain ramp
        starts there, and the limiter's delayed samples, which come out first, get it too."""
        if self._gain is not None:
            self._gain *= factor
        self.limiter.scale_pending(factor)

    def process(self, audio: np.ndarray, *, loudness_lufs: float, agc: bool, ceiling_db: float,
                trim_db: float) -> np.ndarray:
        x = self.dc.process(audio)
        level_db = self.leveller.update(x, loudness_lufs) if agc else 0.0
        gain = 10.0 ** ((level_db + self.target_offset_db + trim_db) / 20.0)
        start = gain if self._gain is None else self._gain
        self._gain = gain
        if gain != start:  # ramp across the frame: a gain step never clicks
            x *= np.linspace(start, gain, x.shape[0], endpoint=False)[:, None]
        else:
            x *= gain
        fall = PEAK_FALL_DB_PER_S * x.shape[0] / self.rate
        # The true-peak meter needs exact values only where they could lift its falling reading.
        out = self.limiter.process(x.astype(np.float32), ceiling_db,
                                   exact_above=10.0 ** ((self._true_peak_db - fall) / 20.0),
                                   release_db_per_s=self.release_db_per_s)
        self._measure(out, level_db, fall)
        if agc:  # BS.1770's gating block: the last 400 ms that came out
            self.leveller.correct(self.meter.recent(GATING_BLOCK_BINS) - self.target_offset_db - trim_db, loudness_lufs,
                                  out.shape[0] / self.rate, limiting=self.meters.gain_reduction_db > LIMITING_DB)
        return out

    def _measure(self, out: np.ndarray, level_db: float, fall: float) -> None:
        self.meter.push(out)
        peak = float(np.abs(out).max()) if out.size else 0.0
        true_peak = max(float(self.limiter.last_peaks.max()), peak) if out.size else 0.0
        gains = self.limiter.last_gain
        reduction = max(0.0, -20.0 * math.log10(float(gains.min()))) if gains.size else 0.0
        self._peak_db = max(_db(peak), self._peak_db - fall)
        self._true_peak_db = max(_db(true_peak), self._true_peak_db - fall)
        self._reduction_db = max(reduction, self._reduction_db - fall, 0.0)
        self._max_true_peak = max(self._max_true_peak, true_peak)
        self._max_reduction_db = max(self._max_reduction_db, reduction)
        self.meters = MasterMeters(
            peak_db=self._peak_db, true_peak_db=self._true_peak_db,
            short_term_lufs=_finite(self.meter.short_term), integrated_lufs=_finite(self.meter.integrated),
            gain_reduction_db=self._reduction_db, levelling_gain_db=level_db,
            max_true_peak_db=_db(self._max_true_peak), max_gain_reduction_db=self._max_reduction_db)
