"""Beat and tempo tracking: click tracks with known tempi, noise, silence, and real music."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.analysis.beat import BeatTracker
from engine.analysis.features import INDEX
from engine.analysis.offline import analyze

SR = 48000
LOCKED_S = 8.0  # the tempo must be right from here on
MUSIC_S = 30.0


def click_track(bpm: float, seconds: float, offset: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """5 ms decaying noise clicks at `bpm`, placed to the sample, and their times."""
    rng = np.random.default_rng(0)
    click = 0.5 * rng.standard_normal(int(0.005 * SR)) * np.exp(-np.arange(int(0.005 * SR)) / (0.001 * SR))
    audio = np.zeros(int(seconds * SR))
    times = np.arange(offset, seconds - 0.01, 60.0 / bpm)
    for t in times:
        i = round(t * SR)
        n = min(click.size, audio.size - i)
        audio[i:i + n] += click[:n]
    return audio.astype(np.float32), times


def nearest_error(events: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Signed distance (s) from each event to the nearest true time."""
    return np.array([e - truth[np.argmin(np.abs(truth - e))] for e in events])


@pytest.mark.parametrize("bpm", [90.0, 120.0, 128.0, 140.5, 170.0])
def test_click_track_tempo_confidence_and_beats(bpm):
    audio, clicks = click_track(bpm, 12.0)
    times, rows = analyze(audio, SR)
    locked = times >= LOCKED_S
    tracked = rows[locked, INDEX["bpm"]]
    assert np.all(np.abs(tracked / bpm - 1.0) < 0.02), (tracked.min(), tracked.max())
    assert rows[locked, INDEX["beat_confidence"]].min() > 0.5
    beats = times[(rows[:, INDEX["beat"]] > 0) & locked]
    in_span = clicks[(clicks >= LOCKED_S) & (clicks <= times[-1])]
    assert abs(beats.size - in_span.size) <= 1
    errors = nearest_error(beats, clicks)
    assert abs(np.median(errors)) < 0.030, errors
    assert np.all(np.abs(errors) < 0.060), errors
    phase = rows[:, INDEX["beat_phase"]]
    assert phase.min() >= 0.0 and phase.max() <= 1.0


def test_tempo_is_right_soon_after_the_first_estimate():
    audio, _ = click_track(128.0, 5.0)
    times, rows = analyze(audio, SR)
    bpm = rows[:, INDEX["bpm"]]
    assert bpm[times < 2.0].max() == 0.0  # nothing claimed on too little evidence
    assert abs(bpm[-1] / 128.0 - 1.0) < 0.02


def test_white_noise_has_low_confidence():
    rng = np.random.default_rng(1)
    times, rows = analyze((0.2 * rng.standard_normal(12 * SR)).astype(np.float32), SR)
    assert rows[:, INDEX["beat_confidence"]].max() < 0.3
    assert rows[:, INDEX["beat"]].sum() <= 2


def test_silence_has_no_tempo_or_beats():
    _, rows = analyze(np.zeros(10 * SR, dtype=np.float32), SR)
    for name in ("beat", "bpm", "beat_confidence", "beat_phase", "onset"):
        assert not rows[:, INDEX[name]].any(), name


def test_beats_stop_when_the_music_does():
    audio, clicks = click_track(120.0, 10.0)
    times, rows = analyze(np.concatenate([audio, np.zeros(6 * SR, dtype=np.float32)]), SR)
    beats = times[rows[:, INDEX["beat"]] > 0]
    assert beats[-1] < clicks[-1] + 2.0
    assert rows[-1, INDEX["beat_confidence"]] < 0.1


def test_follows_a_change_of_tempo():
    first, _ = click_track(120.0, 10.0)
    second, clicks = click_track(140.0, 10.0, offset=0.05)
    times, rows = analyze(np.concatenate([first, second]), SR)
    late = times >= 17.0
    assert np.all(np.abs(rows[late, INDEX["bpm"]] / 140.0 - 1.0) < 0.02)
    beats = times[(rows[:, INDEX["beat"]] > 0) & late]
    assert abs(np.median(nearest_error(beats, clicks + 10.0))) < 0.030


def test_tracker_on_a_pulse_envelope():
    """Fed directly: a pulse every 0.5 s at 100 values/s is 120 BPM; beats land on the pulses."""
    tracker = BeatTracker(100.0)
    beats, phases = [], []
    for t in range(1200):
        if tracker.update(1.0 if t % 50 == 7 else 0.0):
            beats.append(t)
        phases.append(tracker.phase)
    assert tracker.bpm == pytest.approx(120.0, rel=0.01)
    assert tracker.confidence > 0.8
    late = np.array([b for b in beats if b > 600])
    assert np.all((late - 7) % 50 == 0), late
    # phase climbs through each beat and wraps to 0 on it
    assert min(phases) >= 0.0 and max(phases) <= 1.0
    assert all(phases[b] < 0.05 for b in late)
    tracker.reset()
    assert tracker.bpm == 0.0 and tracker.confidence == 0.0


def test_non_finite_strength_is_ignored():
    tracker = BeatTracker(100.0)
    for t in range(1000):
        tracker.update(float("nan") if t == 500 else (1.0 if t % 50 == 0 else 0.0))
    assert tracker.bpm == pytest.approx(120.0, rel=0.01) and tracker.confidence > 0.8


def test_tracker_refuses_bad_settings():
    with pytest.raises(ValueError):
        BeatTracker(0.0)
    with pytest.raises(ValueError):
        BeatTracker(86.0, min_bpm=200, max_bpm=100)


def test_bpm_range_is_respected():
    tracker = BeatTracker(100.0, min_bpm=90, max_bpm=160)
    for t in range(1200):
        tracker.update(1.0 if t % 30 == 0 else 0.0)  # 200 BPM pulses: outside the range
    assert tracker.bpm == 0.0 or 90.0 * 0.98 <= tracker.bpm <= 160.0 * 1.02


MUSIC = ["Kevin_MacLeod_-_Vibe_Ace.ogg", "admiralbob77_-_Choice_-_Drum-bass.ogg"]


@pytest.fixture(scope="module", params=MUSIC)
def music(request, music_dir: Path) -> tuple[str, np.ndarray, np.ndarray]:
    audio, rate = sf.read(str(music_dir / request.param), dtype="float32", always_2d=True)
    times, rows = analyze(audio[: int(MUSIC_S * rate)], rate)
    return request.param, times, rows


def test_music_tempo_with_confidence(music):
    name, times, rows = music
    late = times >= 10.0
    bpm = rows[late, INDEX["bpm"]]
    confidence = rows[late, INDEX["beat_confidence"]]
    print(f"{name}: {np.median(bpm):.2f} BPM, confidence {np.median(confidence):.2f}")
    assert 60.0 <= np.median(bpm) <= 200.0
    assert bpm.max() / bpm.min() < 1.03  # one tempo, held
    assert np.median(confidence) > 0.3


def test_music_beats_are_regular(music):
    _, times, rows = music
    beats = times[(rows[:, INDEX["beat"]] > 0) & (times >= 10.0)]
    period = 60.0 / np.median(rows[times >= 10.0, INDEX["bpm"]])
    intervals = np.diff(beats)
    assert beats.size >= 0.9 * (times[-1] - 10.0) / period
    assert abs(np.median(intervals) / period - 1.0) < 0.03
    assert np.mean(np.abs(intervals / period - 1.0) < 0.1) > 0.9


def test_music_onsets_are_found(music):
    _, times, rows = music
    per_second = rows[:, INDEX["onset"]].sum() / times[-1]
    assert 1.0 < per_second < 10.0


def test_music_onset_envelope_peaks_on_the_beats(music):
    """The onset strength around tracked beats is far above its level between them."""
    _, times, rows = music
    envelope = rows[:, INDEX["onset_strength"]]
    beats = np.flatnonzero((rows[:, INDEX["beat"]] > 0) & (times >= 10.0))
    beats = beats[beats + 3 < envelope.size]
    half = int(round(np.median(np.diff(beats)) / 2))
    # a beat is flagged on the hop it falls in; its flux peaks on that hop or within two after
    on_beat = np.max([envelope[beats + k] for k in range(3)], axis=0).mean()
    off_beat = np.max([envelope[beats - half + k] for k in range(3)], axis=0).mean()
    assert on_beat > 1.3 * off_beat
    assert on_beat > 3.0 * envelope[times >= 10.0].mean()
