"""Causal beat and tempo tracking from an onset-strength envelope, one value per analysis hop.

Visuals need beats on time, not a hop after the kick has been heard, so the tracker predicts:
every ~0.25 s it re-estimates the beat period from the autocorrelation of the last 8 s of onset
strength and the beat phase from a comb over the last 4 s (the work spread over a few hops), then
emits beats on that predicted grid, nudging it gently towards where the onsets say the beats are.

Tempo: the autocorrelation (via FFT) of the detrended envelope; each candidate period scores the
autocorrelation at its multiples (see `_comb_scores`, which is where octave errors are settled),
weighted by a broad log-Gaussian prior around 120 BPM. The period is refined below one hop from the
peaks at several multiples of the beat (a hop is ~1.2 % of a beat at 100 BPM, too coarse for a 2 %
target) and smoothed; a different tempo (or octave) is taken only when it scores clearly better for
about a second. Confidence is how periodic the envelope is (the
autocorrelation peak at the beat, above what noise alone reaches) times how well the unconstrained
best tempo agrees with the tracked one: near 1 for a click track, near 0 for white noise.
"""

from __future__ import annotations

import math

import numpy as np

HISTORY_S = 8.0  # onset strength kept for the tempo estimate
PHASE_HISTORY_S = 4.0  # the phase comb looks this far back
UPDATE_S = 0.25  # how often tempo and phase are re-estimated
MIN_HISTORY_S = 2.5  # no estimate before this much has been heard
PRIOR_BPM = 120.0
PRIOR_OCTAVES = 1.0  # standard deviation of the tempo prior, in octaves
SAME_TEMPO = 0.04  # relative difference under which a new estimate refines the current one
SWITCH_UPDATES = 4  # consecutive disagreeing estimates before the tempo switches
SWITCH_MARGIN = 1.15  # a different tempo must score this much better than the tracked one
PERIOD_SMOOTHING = 0.25  # weight of a new estimate that agrees with the current period
PHASE_PULL = 0.35  # fraction of the phase error corrected per update once locked
MAX_PHASE_STEP = 0.06  # largest correction per update, in beats
PHASE_STEP = 0.5  # resolution of the phase comb, in hops
PHASE_NEAR = 0.1  # the grid follows the comb's peak within this many beats of it...
PHASE_SWITCH_MARGIN = 1.25  # ...unless a peak elsewhere is this much stronger
CONFIDENCE_SMOOTHING = 0.3
MIN_CONFIDENCE = 0.15  # beats stop (tempo and phase are kept) below this
QUIET_LEVEL = 0.05  # onset strength under which a hop counts as quiet...
QUIET_S = 1.5  # ...and after this long quiet the music has stopped: no beats, confidence fades
NOISE_PEAKS = 2.0  # autocorrelation peaks of white noise reach about this many / sqrt(n)
MULTIPLES = 4  # autocorrelation peaks at 1..4 beats refine the period


def _parabolic(y: np.ndarray, i: int) -> tuple[float, float]:
    """Vertex (offset from i in -0.5..0.5, height) of the parabola through y[i-1], y[i], y[i+1]."""
    a, b, c = float(y[i - 1]), float(y[i]), float(y[i + 1])
    denom = a - 2.0 * b + c
    if denom >= 0.0:  # not a maximum: keep the sample
        return 0.0, b
    offset = 0.5 * (a - c) / denom
    return offset, b - 0.25 * (a - c) * offset


def _fft_length(n: int) -> int:
    """The smallest length >= n with no prime factor above 5 (fast for the FFT)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


class BeatTracker:
    """Feed one onset-strength value per hop to `update`; read `bpm`, `confidence`, `phase`.

    `frame_rate` is hops per second; `latency_hops` is how many hops the envelope's peaks lag the
    sounds that cause them: beats are emitted that much earlier, so they fall on the sound.
    """

    def __init__(self, frame_rate: float, *, min_bpm: float = 60.0, max_bpm: float = 200.0,
                 latency_hops: float = 0.0) -> None:
        if frame_rate <= 0 or not 0 < min_bpm < max_bpm:
            raise ValueError(f"bad tracker settings: frame_rate={frame_rate}, bpm {min_bpm}..{max_bpm}")
        self.frame_rate = float(frame_rate)
        self.latency_hops = float(latency_hops)  # envelope peaks lag the sound by this much
        self._size = round(HISTORY_S * frame_rate)
        # Zero padding to cover the lags used (up to half the history) without wrap-around.
        self._n_fft = _fft_length(self._size + self._size // 2 + 1)
        self._update_every = max(1, round(UPDATE_S * frame_rate))
        self._min_history = round(MIN_HISTORY_S * frame_rate)
        self._phase_len = round(PHASE_HISTORY_S * frame_rate)
        self._quiet_hops = round(QUIET_S * frame_rate)
        self._min_lag = max(2, math.floor(60.0 * frame_rate / max_bpm))
        self._max_lag = math.ceil(60.0 * frame_rate / min_bpm)
        # Candidate periods on a quarter-hop grid, and the positions of their multiples up to the
        # longest lag the autocorrelation of a full history reaches.
        self._candidates = np.arange(self._min_lag, self._max_lag + 0.01, 0.25)
        bpm = 60.0 * frame_rate / self._candidates
        self._candidate_prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
        multiples = np.arange(1, self._size // 2 // self._min_lag + 1)
        self._taps = self._candidates[:, None] * multiples[None, :]
        self._average_span = self._span(self._size)
        self._full_comb = self._comb_taps(self._size // 2)
        self._unbias = self._size / (self._size - np.arange(self._size // 2))
        self._recency = 0.85 ** np.arange(self._phase_len)  # in the phase comb: recent beats count most
        self.reset()

    def reset(self) -> None:
        """Forget everything heard: no tempo, no grid."""
        self._ring = np.zeros(self._size)
        self._count = 0  # values seen; the newest has index _count - 1
        self._period = 0.0  # hops per beat, 0 until estimated
        self._candidate = 0.0
        self._candidate_runs = 0
        self._next_beat = math.inf  # hop index of the next predicted beat
        self._relock = False  # the tempo just switched: place the grid afresh
        self._measured: tuple[tuple[np.ndarray, np.ndarray] | None, int] = (None, 0)
        self._last_emit = -math.inf
        self._confidence = 0.0
        self._last_active = -(10**9)  # the last hop whose onset strength was above QUIET_LEVEL
        self.phase = 0.0

    @property
    def bpm(self) -> float:
        return 60.0 * self.frame_rate / self._period if self._period > 0.0 else 0.0

    @property
    def confidence(self) -> float:
        return self._confidence

    def update(self, onset_strength: float) -> bool:
        """Add one hop's onset strength; True when a beat falls on this hop."""
        if not math.isfinite(onset_strength):  # one bad value would spoil 8 s of history
            onset_strength = 0.0
        t = self._count
        self._ring[t % self._size] = onset_strength
        self._count += 1
        if onset_strength > QUIET_LEVEL:
            self._last_active = t
        if self._count >= self._min_history:
            # The work of an update is spread over three hops, so no single hop pays for it all.
            step = self._count % self._update_every
            if step == 0:
                self._measure()
            elif step == self._update_every // 3:
                self._estimate_tempo()
            elif step == 2 * self._update_every // 3 and self._period > 0.0 and not self._stopped:
                self._track_phase()
        return self._advance(t)

    def _advance(self, t: int) -> bool:
        """Emit a beat when hop t is the one nearest the predicted beat; update the phase."""
        period = self._period
        if period <= 0.0 or math.isinf(self._next_beat):
            self.phase = 0.0
            return False
        beat = False
        if t + 0.5 >= self._next_beat:
            # A correction may have pulled the next beat close to the last one: never twice per beat.
            beat = (t - self._last_emit > 0.5 * period and self._confidence >= MIN_CONFIDENCE
                    and not self._stopped)
            if beat:
                self._last_emit = t
            while self._next_beat <= t + 0.5:
                self._next_beat += period
        self.phase = min(1.0, max(0.0, 1.0 - (self._next_beat - t) / period))
        return beat

    def _history(self, n: int) -> np.ndarray:
        """The newest n values in time order."""
        n = min(n, self._count, self._size)
        end = self._count % self._size
        if n <= end:
            return self._ring[end - n:end].copy()
        return np.concatenate((self._ring[self._size - (n - end):], self._ring[:end]))

    @property
    def _stopped(self) -> bool:
        return self._count - 1 - self._last_active > self._quiet_hops

    def _measure(self) -> None:
        """The autocorrelation of the detrended history, for `_estimate_tempo` a few hops later."""
        x = self._detrend(self._history(self._size))
        self._measured = self._autocorrelation(x), x.size

    def _estimate_tempo(self) -> None:
        """Pick and refine the period from the last measurement, then update the confidence."""
        acs, n = self._measured
        if acs is None or self._stopped:  # let confidence fade, keep the tempo for when music returns
            self._set_confidence(0.0, 0.0)
            return
        biased, unbiased = acs
        best, chosen = self._best_lag(biased)
        self._track_period(self._refine(unbiased, chosen))
        # Noise alone gives autocorrelation peaks of about 1/sqrt(n): count only what rises above that.
        floor = NOISE_PEAKS / math.sqrt(n)
        periodicity = max(0.0, (self._periodicity(unbiased) - floor) / (1.0 - floor))
        self._set_confidence(periodicity, self._stability(best))

    def _detrend(self, x: np.ndarray) -> np.ndarray:
        """Subtract a centred moving average one slowest beat long: slow swells of loudness (and
        the analyzer's decaying normaliser) would otherwise correlate at every lag and look periodic."""
        lo, hi = self._average_span if x.size == self._size else self._span(x.size)
        csum = np.zeros(x.size + 1)
        np.cumsum(x, out=csum[1:])
        return x - (csum[hi] - csum[lo]) / (hi - lo)

    def _span(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) of each sample's averaging window, clipped to n samples."""
        width = min(self._max_lag, n)
        start = np.arange(n) - width // 2
        return np.clip(start, 0, n), np.clip(start + width, 0, n)

    def _autocorrelation(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Autocorrelation normalised to 1 at lag 0, biased and unbiased; None for a flat input.

        Both are lightly smoothed: onsets land on whole hops, so a fractional period splits its peak
        over two lags. The biased one (which tapers with lag) ranks tempi, so that a tie between a
        tempo and its half goes to the faster; the unbiased one measures periodicity.
        """
        spectrum = np.fft.rfft(x, self._n_fft)
        raw = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, self._n_fft)[: x.size // 2]
        if raw[0] <= 1e-12 * x.size:
            return None
        biased = np.empty_like(raw)
        biased[1:-1] = 0.25 * raw[:-2] + 0.5 * raw[1:-1] + 0.25 * raw[2:]
        biased[0] = 0.5 * raw[0] + 0.5 * raw[1]  # the autocorrelation is even: raw[-1] == raw[1]
        biased[-1] = raw[-1]
        biased /= biased[0]
        if x.size == self._size:
            unbiased = biased * self._unbias
        else:
            unbiased = biased * (x.size / (x.size - np.arange(biased.size)))
        return biased, unbiased

    def _comb_scores(self, ac: np.ndarray) -> np.ndarray:
        """Per candidate period: the autocorrelation summed over its multiples, over the square root
        of how many there are, times the tempo prior.

        A plain sum would favour ever faster periods (they have more multiples), a mean the slower
        (half the tempo hits every other beat just as well); between them, a click track at 170 BPM
        reads 170, not 85, and a backbeat whose bar correlates more than its beat (kick and snare
        alternating) keeps its tempo instead of halving it.
        """
        lo, w_lo, w_hi, norm = self._full_comb if ac.size == self._size // 2 else self._comb_taps(ac.size)
        values = ac[lo] * w_lo
        values += ac[lo + 1] * w_hi
        return values.sum(axis=1) * norm

    def _comb_taps(self, n_lags: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Interpolation taps (index, weights) of each candidate's multiples within n_lags, and
        each candidate's normalisation (prior / sqrt(multiples))."""
        horizon = n_lags - 2
        inside = self._taps <= horizon
        lo = np.minimum(self._taps.astype(np.intp), horizon)
        frac = self._taps - lo
        norm = self._candidate_prior / np.sqrt(np.maximum(inside.sum(axis=1), 1))
        return lo, (1.0 - frac) * inside, frac * inside, norm

    def _best_lag(self, ac: np.ndarray) -> tuple[float, float]:
        """The best-scoring candidate period, and the one to track: the best, unless a candidate
        near the tracked period scores nearly as well (so near-ties never flip the tempo)."""
        scores = self._comb_scores(ac)
        best = chosen = int(np.argmax(scores))
        if self._period > 0.0:
            near = np.abs(self._candidates / self._period - 1.0) < SAME_TEMPO
            if near.any():
                current = int(np.flatnonzero(near)[np.argmax(scores[near])])
                if scores[best] < SWITCH_MARGIN * scores[current]:
                    chosen = current
        return float(self._candidates[best]), float(self._candidates[chosen])

    def _periodicity(self, ac: np.ndarray) -> float:
        """How periodic the envelope is at the tracked period: the unbiased autocorrelation's
        highest peak at 1, 2 or 4 beats (a beat that alternates kick and snare repeats best at 2)."""
        best = 0.0
        for m in (1, 2, 4):
            i = round(m * self._period)
            if i + 2 >= ac.size:
                break
            i = i - 1 + int(np.argmax(ac[i - 1:i + 2]))
            best = max(best, _parabolic(ac, i)[1])
        return min(1.0, best)

    @staticmethod
    def _refine(ac: np.ndarray, lag: float) -> float:
        """The period to a fraction of a hop, averaged over the peaks at 1..MULTIPLES beats."""
        estimates, weights = [], []
        for m in range(1, MULTIPLES + 1):
            centre = round(m * lag)
            if centre + 2 >= ac.size:
                break
            i = centre - 1 + int(np.argmax(ac[centre - 1:centre + 2]))
            offset, height = _parabolic(ac, i)
            if height <= 0.0:
                break
            estimates.append((i + offset) / m)
            weights.append(m * height)  # later peaks pin the period m times more finely
        if not estimates:
            return lag
        return sum(e * w for e, w in zip(estimates, weights, strict=True)) / sum(weights)

    def _track_period(self, period: float) -> None:
        """Smooth agreeing estimates; switch to a different tempo only after it has persisted."""
        if self._period <= 0.0:
            self._period = period
            return
        if abs(period / self._period - 1.0) < SAME_TEMPO:
            self._period += PERIOD_SMOOTHING * (period - self._period)
            self._candidate_runs = 0
            return
        if self._candidate > 0.0 and abs(period / self._candidate - 1.0) < SAME_TEMPO:
            self._candidate_runs += 1
        else:
            self._candidate, self._candidate_runs = period, 1
        if self._candidate_runs >= SWITCH_UPDATES:
            self._period = period
            self._candidate_runs = 0
            self._relock = True

    def _stability(self, best: float) -> float:
        """1 when the best candidate on its own agrees with the tracked period (or its double or
        half: the same pulse at another metrical level), falling off as it strays. Noise has no
        preferred period, so its best candidate wanders."""
        distance = min(abs(math.log(best * ratio / self._period)) for ratio in (1.0, 2.0, 0.5))
        return math.exp(-distance / SAME_TEMPO)

    def _set_confidence(self, periodicity: float, stability: float) -> None:
        self._confidence += CONFIDENCE_SMOOTHING * (periodicity * stability - self._confidence)

    def _track_phase(self) -> None:
        """Comb over recent onset strength at the tracked period; move the beat grid towards it."""
        period = self._period
        comb = self._phase_comb(period)
        if comb is None:
            return
        newest = self._count - 1
        # Place the grid outright when there is none yet, the tempo has just switched, or while
        # confidence is too low for beats to be emitted (so the jump is never seen).
        if math.isinf(self._next_beat) or self._relock or self._confidence < MIN_CONFIDENCE:
            beat_at = newest - PHASE_STEP * int(np.argmax(comb)) - self.latency_hops
            self._next_beat = beat_at + period * math.ceil((newest + 0.5 - beat_at) / period)
            self._relock = False
            return
        self._next_beat += self._phase_correction(comb, period, newest)

    def _phase_comb(self, period: float) -> np.ndarray | None:
        """For each candidate position of the latest beat (PHASE_STEP hops apart, going back from
        the newest value), the onset strength summed at that position and whole periods before it,
        recent beats weighing most."""
        x = self._history(self._phase_len)
        n_beats = int((x.size - 2) // period)
        if n_beats < 2:
            return None
        back = np.arange(0.0, period, PHASE_STEP)
        pos = (x.size - 1) - (back[:, None] + period * np.arange(n_beats)[None, :])
        lo = np.floor(pos).astype(np.intp)
        frac = pos - lo
        values = x[lo] * (1.0 - frac) + x[np.minimum(lo + 1, x.size - 1)] * frac
        return values @ self._recency[:n_beats]

    def _phase_correction(self, comb: np.ndarray, period: float, newest: int) -> float:
        """How far to move the next beat: towards the comb's peak near the current grid, or towards
        its best peak elsewhere when that is clearly stronger; a fraction of the error, capped."""
        n = comb.size
        # Where the current grid puts the latest beat, as an index into the comb.
        current = round(((newest - self.latency_hops - (self._next_beat - period)) % period) / PHASE_STEP) % n
        reach = max(1, round(PHASE_NEAR * period / PHASE_STEP))
        near = (current + np.arange(-reach, reach + 1)) % n
        target = int(near[np.argmax(comb[near])])
        best = int(np.argmax(comb))
        if comb[best] > PHASE_SWITCH_MARGIN * comb[target]:
            target = best
        error = (current - target) * PHASE_STEP  # hops the grid is late by (a beat further back = early)
        error = (error + 0.5 * period) % period - 0.5 * period
        # Gently, and never far at once: one misleading comb (a fill, a syncopated bar) must not
        # throw the grid off, while a real shift of phase wins within a second or two.
        limit = MAX_PHASE_STEP * period
        return min(limit, max(-limit, PHASE_PULL * error))
