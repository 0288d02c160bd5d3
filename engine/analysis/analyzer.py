"""Streaming, causal audio analysis: one feature row (engine/analysis/features.py) per hop.

`AudioAnalyzer` runs inside the audio decoder thread (and offline render), so it is built to cost
little per hop: windows, band and filterbank matrices and tables are made once in `__init__`, and
each hop is a short, fixed sequence of array operations on the most recent `n_fft` samples. It
never looks ahead: a row depends only on the samples up to the end of its hop, so any block size
gives the same rows and live matches offline.

Per hop (about 86 per second): RMS level, four band energies, spectral centroid, log-magnitude
spectral flux, a normalised onset strength with causal onset picking, a 12-bin chroma, and the beat
fields from `BeatTracker`, which reads the onset strength.
"""

from __future__ import annotations

import math

import numpy as np

from engine.analysis.beat import BeatTracker
from engine.analysis.features import BANDS_HZ, CHROMA_SLICE, FRAME_RATE_HZ, INDEX, N_FEATURES

FLOOR_DB = -60.0  # the bottom of the level and band mapping; below it a signal counts as silence
REFERENCE_RATE = 48000.0
REFERENCE_FFT = 2048  # window at 48 kHz (43 ms); scaled with the rate to a power of two
RMS_WINDOW_S = 0.021  # RMS over the newest ~21 ms: smoother than one hop, quicker than the window
CENTROID_HZ = (50.0, 12000.0)
CHROMA_HZ = (55.0, 5000.0)  # pitch classes from A1 to ~D#8; lower bins are too coarse
FLUX_BANDS = 40  # mel bands the flux is taken over: robust to vibrato and noise
FLUX_HZ = (30.0, 16000.0)
# log(1 + gain * magnitude): compresses the top ~40 dB. More compression makes a hi-hat's rise as big
# as a kick's, and a beat with off-beat hats then reads as double time.
FLUX_GAIN = 100.0
FLUX_SCALE = 0.06  # flux (mean log rise per band) that reads 0.63 after squashing
ONSET_MAX_HALF_LIFE_S = 4.0  # decaying running max that normalises onset strength
ONSET_MAX_FLOOR = 0.01  # so faint noise never normalises itself up to full strength
ONSET_MEAN_S = 0.15  # causal window of the onset threshold's mean
ONSET_RATIO = 2.0  # an onset must exceed this multiple of the recent mean...
ONSET_DELTA = 0.12  # ...and the mean by this much
ONSET_MIN_STRENGTH = 0.2
ONSET_GAP_S = 0.05  # minimum inter-onset interval
# Hops from a sound's start to the peak of its flux: the frame sees a new sound as soon as it enters,
# but the Hann window weighs it fully only about a hop later. The beat tracker fires this much early.
ENVELOPE_LATENCY_HOPS = 1.0

_I_RMS, _I_LEVEL = INDEX["rms"], INDEX["level"]
_I_BANDS = slice(INDEX["bass"], INDEX["high"] + 1)
_I_CENTROID, _I_FLUX = INDEX["centroid"], INDEX["flux"]
_I_STRENGTH, _I_ONSET = INDEX["onset_strength"], INDEX["onset"]
_I_BEAT, _I_PHASE = INDEX["beat"], INDEX["beat_phase"]
_I_BPM, _I_CONF = INDEX["bpm"], INDEX["beat_confidence"]


def default_n_fft(samplerate: int) -> int:
    """2048 at 48 kHz, the nearest power of two to the same duration at other rates."""
    return 1 << max(6, round(math.log2(REFERENCE_FFT * samplerate / REFERENCE_RATE)))


def _db_to_unit(db: float) -> float:
    """-60..0 dB -> 0..1, clipped."""
    return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))


def _band_matrix(freqs: np.ndarray) -> np.ndarray:
    """Rows of 0/1 that sum the power in each of BANDS_HZ (DC excluded)."""
    rows = [(freqs >= lo) & (freqs < hi) & (freqs > 0) for lo, hi in BANDS_HZ.values()]
    return np.array(rows, dtype=np.float64)


def _mel(hz: np.ndarray | float) -> np.ndarray | float:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_filterbank(freqs: np.ndarray, n_bands: int, lo: float, hi: float) -> np.ndarray:
    """Triangular filters evenly spaced in mel, each averaging the bins under it (rows sum to 1).

    Mel rather than pure log spacing: low bands a single bin wide would make the flux of steady
    noise jumpy (one bin's magnitude fluctuates wildly), and onsets are broadband anyway.
    """
    hi = min(hi, 0.95 * freqs[-1])
    edges_mel = np.linspace(_mel(lo), _mel(hi), n_bands + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    bank = np.zeros((n_bands, freqs.size))
    for j in range(n_bands):
        left, centre, right = edges[j], edges[j + 1], edges[j + 2]
        rise = (freqs - left) / (centre - left)
        fall = (right - freqs) / (right - centre)
        bank[j] = np.clip(np.minimum(rise, fall), 0.0, None)
        if bank[j].sum() <= 0.0:  # narrower than a bin (very short windows): take the nearest bin
            bank[j, np.argmin(np.abs(freqs - centre))] = 1.0
    return bank / bank.sum(axis=1, keepdims=True)


class AudioAnalyzer:
    """Feature rows from a stream of audio blocks; see the module docstring."""

    def __init__(self, samplerate: int, *, n_fft: int | None = None) -> None:
        if samplerate <= 0:
            raise ValueError(f"samplerate must be positive, got {samplerate}")
        self.samplerate = int(samplerate)
        self.hop = max(1, round(samplerate / FRAME_RATE_HZ))
        self.n_fft = default_n_fft(samplerate) if n_fft is None else int(n_fft)
        if self.n_fft < self.hop or self.n_fft & (self.n_fft - 1):
            raise ValueError(f"n_fft must be a power of two >= hop ({self.hop}), got {self.n_fft}")
        self.frame_rate = samplerate / self.hop
        self._build_tables()
        self.tracker = BeatTracker(self.frame_rate, latency_hops=ENVELOPE_LATENCY_HOPS)
        self.reset()

    def _build_tables(self) -> None:
        n, sr = self.n_fft, self.samplerate
        k = np.arange(n)
        self._window = 0.5 - 0.5 * np.cos(2 * np.pi * k / n)  # periodic Hann
        # The time-derivative of the window, per sample: its spectrum gives each bin's true frequency.
        self._dwindow = (np.pi / n) * np.sin(2 * np.pi * k / n)
        freqs = np.fft.rfftfreq(n, 1.0 / sr)
        # Power normalisation: the band sums read a signal's mean square (a full-scale sine: 0.5).
        self._power_scale = 2.0 / (n * n * np.mean(self._window**2))
        self._mag_scale = 2.0 / self._window.sum()  # a full-scale sine's peak bin reads 1
        self._bands = _band_matrix(freqs)
        lo_c, hi_c = CENTROID_HZ
        self._log_freqs = np.log(np.maximum(freqs, 1.0))
        self._centroid_span = (math.log(lo_c), math.log(hi_c))
        self._filterbank = _mel_filterbank(freqs, FLUX_BANDS, *FLUX_HZ)
        lo_k, hi_k = np.searchsorted(freqs, CHROMA_HZ)
        self._chroma_bins = slice(int(lo_k), int(min(hi_k, freqs.size - 1)))
        self._chroma_index = np.arange(self._chroma_bins.start, self._chroma_bins.stop, dtype=np.float64)
        self._chroma_floor = 10.0 ** (FLOOR_DB / 10.0)  # mean square in the pitched range
        self._bin_hz = sr / n
        self._n_rms = min(n, max(self.hop, round(RMS_WINDOW_S * sr)))
        self._mean_len = max(2, round(ONSET_MEAN_S * self.frame_rate))
        self._gap_hops = math.ceil(ONSET_GAP_S * self.frame_rate)
        self._max_decay = 0.5 ** (1.0 / (ONSET_MAX_HALF_LIFE_S * self.frame_rate))

    def reset(self) -> None:
        """Forget all history, as if freshly made."""
        self._buf = np.zeros(self.n_fft)  # the newest n_fft samples; the last `hop` fill up
        self._fill = 0  # samples written into the current hop
        self._wbuf = np.empty(self.n_fft)
        self._prev_log = np.zeros(FLUX_BANDS)
        self._rise = np.empty(FLUX_BANDS)
        self._strengths = np.zeros(self._mean_len)  # onset strengths before this hop (ring)
        self._flux_max = ONSET_MAX_FLOOR
        self._last_onset = -(10**9)
        self._prev_strength = 0.0
        self.frames = 0
        self.latest = np.zeros(N_FEATURES, dtype=np.float32)
        self.tracker.reset()

    @property
    def mel_bands(self) -> np.ndarray:
        """The newest hop's 40 mel bands, log(1 + magnitude): a fresh array each hop, never written after,
        so another thread may hold it (a console's spectrum)."""
        return self._prev_log

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed audio (n,) or (n, channels); returns the rows of the hops it completed, (k, N_FEATURES)."""
        mono = self._mono(block)
        total = self._fill + mono.size
        rows = np.zeros((total // self.hop, N_FEATURES), dtype=np.float32)
        tail = self.n_fft - self.hop  # where the current hop's samples go
        start, r = 0, 0
        while start < mono.size:
            take = min(self.hop - self._fill, mono.size - start)
            at = tail + self._fill
            self._buf[at:at + take] = mono[start:start + take]
            self._fill += take
            start += take
            if self._fill == self.hop:
                self._analyse(rows[r])
                r += 1
                self._buf[:tail] = self._buf[self.hop:]
                self._fill = 0
        if r:
            self.latest = rows[r - 1]
        return rows

    @staticmethod
    def _mono(block: np.ndarray) -> np.ndarray:
        a = np.asarray(block)
        if a.ndim == 2:
            a = a.mean(axis=1)
        elif a.ndim != 1:
            raise ValueError(f"audio must be (n,) or (n, channels), got shape {a.shape}")
        a = a.astype(np.float64, copy=False)
        if not np.isfinite(a).all():  # a NaN would poison every running state downstream
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
        return a

    def _analyse(self, row: np.ndarray) -> None:
        """One hop: fill `row` from the newest n_fft samples in self._buf."""
        self.frames += 1
        recent = self._buf[-self._n_rms:]
        mean_square = float(np.dot(recent, recent)) / self._n_rms
        row[_I_RMS] = math.sqrt(mean_square)
        level_db = 10.0 * math.log10(mean_square + 1e-20)
        row[_I_LEVEL] = _db_to_unit(level_db)

        np.multiply(self._buf, self._window, out=self._wbuf)
        spectrum = np.fft.rfft(self._wbuf)
        power = spectrum.real**2 + spectrum.imag**2
        magnitude = np.sqrt(power)
        row[_I_BANDS] = self._band_levels(power)
        row[_I_CENTROID] = self._centroid(magnitude)

        flux = self._flux(magnitude)
        row[_I_FLUX] = 1.0 - math.exp(-flux / FLUX_SCALE)
        strength = self._onset_strength(flux)
        row[_I_STRENGTH] = strength
        row[_I_ONSET] = self._pick_onset(strength)

        self._chroma(spectrum, power, row[CHROMA_SLICE])
        tracker = self.tracker
        row[_I_BEAT] = tracker.update(strength)
        row[_I_PHASE] = tracker.phase
        row[_I_BPM] = tracker.bpm
        row[_I_CONF] = tracker.confidence

    def _band_levels(self, power: np.ndarray) -> np.ndarray:
        """Each band's mean square in dB, mapped -60..0 dB -> 0..1 like the level."""
        bands = self._bands @ power
        bands *= self._power_scale
        bands += 1e-20
        np.log10(bands, out=bands)
        bands *= 10.0 / -FLOOR_DB  # (10 log10(p) - FLOOR_DB) / -FLOOR_DB, in place
        bands += 1.0
        return np.clip(bands, 0.0, 1.0, out=bands)

    def _centroid(self, magnitude: np.ndarray) -> float:
        """Magnitude-weighted mean log-frequency, 50 Hz..12 kHz -> 0..1 (0 in silence)."""
        total = float(magnitude[1:].sum())
        if total <= 1e-9:
            return 0.0
        mean_log = float(np.dot(magnitude[1:], self._log_freqs[1:])) / total
        lo, hi = self._centroid_span
        return min(1.0, max(0.0, (mean_log - lo) / (hi - lo)))

    def _flux(self, magnitude: np.ndarray) -> float:
        """Mean half-wave rectified rise of the log band magnitudes since the previous hop."""
        bands = self._filterbank @ magnitude
        bands *= self._mag_scale * FLUX_GAIN
        np.log1p(bands, out=bands)
        np.subtract(bands, self._prev_log, out=self._rise)
        self._prev_log = bands
        np.maximum(self._rise, 0.0, out=self._rise)
        return float(self._rise.sum()) / FLUX_BANDS

    def _onset_strength(self, flux: float) -> float:
        """Flux over a running max that decays (halves in 4 s), so quiet passages still read."""
        self._flux_max = max(flux, self._flux_max * self._max_decay, ONSET_MAX_FLOOR)
        return flux / self._flux_max

    def _pick_onset(self, strength: float) -> float:
        """1.0 when the strength rises above the recent mean by a margin, at most once per gap."""
        i = self.frames % self._mean_len
        mean = float(self._strengths.sum()) / self._mean_len
        threshold = max(ONSET_MIN_STRENGTH, ONSET_RATIO * mean, mean + ONSET_DELTA)
        rising = strength > self._prev_strength
        self._strengths[i] = strength
        self._prev_strength = strength
        if rising and strength > threshold and self.frames - self._last_onset >= self._gap_hops:
            self._last_onset = self.frames
            return 1.0
        return 0.0

    def _chroma(self, spectrum: np.ndarray, power: np.ndarray, out: np.ndarray) -> None:
        """Pitch-class profile: each bin's magnitude goes to the pitch class of its true frequency.

        The true (reassigned) frequency of a bin comes from the derivative-window spectrum, so the
        whole main lobe of a partial lands in one class although a bin here spans over a semitone.
        """
        bins = self._chroma_bins
        p = power[bins]
        if float(p.sum()) * self._power_scale < self._chroma_floor:
            return  # silence, or nothing in the pitched range (an 8 kHz tone): all zeros
        np.multiply(self._buf, self._dwindow, out=self._wbuf)
        deriv = np.fft.rfft(self._wbuf)[bins]
        x = spectrum[bins]
        # The true frequency, in bins: the bin's centre plus Im(deriv / x) * n / 2pi.
        true_bin = (deriv.real * x.imag - deriv.imag * x.real) / (p + 1e-30) * (self.n_fft / (2 * np.pi))
        true_bin += self._chroma_index
        freq = true_bin * self._bin_hz
        keep = freq > 0.0
        pitch = 12.0 * np.log2(freq[keep] / 16.351597831287414)  # semitones above C0
        classes = np.rint(pitch).astype(np.intp) % 12
        chroma = np.bincount(classes, weights=np.sqrt(p[keep]), minlength=12)
        peak = chroma.max()
        if peak > 0.0:
            out[:] = chroma / peak
