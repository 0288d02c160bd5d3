"""The analysis tap in the render graph: time stamps on the timeline, and sources merged without
counting one sound twice."""

from __future__ import annotations

import numpy as np

from engine.analysis.features import INDEX
from engine.analysis.tap import AnalysisTap

RATE = 48000


def bursts(seconds: float = 12.0, every: float = 0.5) -> np.ndarray:
    x = np.zeros(int(seconds * RATE), np.float32)
    for i in range(0, x.size - 500, int(RATE * every)):
        x[i:i + 400] = np.random.default_rng(i).standard_normal(400) * 0.5
    return x


def run(source: str, signal: np.ndarray) -> list[tuple[float, np.ndarray]]:
    tap = AnalysisTap(RATE, start_seconds=3.0)
    for i in range(0, signal.size, 2048):
        tap.push_input(signal[i:i + 2048], source, 3.0 + i / RATE)
        tap.push_output(signal[i:i + 2048, None], source)
    return list(tap.pending)


def counts(rows: list[tuple[float, np.ndarray]]) -> tuple[float, float]:
    return sum(r[INDEX["beat"]] for _, r in rows), sum(r[INDEX["onset"]] for _, r in rows)


def test_rows_are_stamped_on_the_timeline_one_hop_apart() -> None:
    rows = run("output", bursts(2.0))
    times = np.array([t for t, _ in rows])
    hop = round(RATE / 86.0) / RATE
    assert times[0] > 3.0  # the tap started at 3 s on the timeline
    np.testing.assert_allclose(np.diff(times), hop, rtol=1e-9)
    assert abs(times[-1] - (3.0 + len(rows) * hop)) < 1e-9


def test_both_sources_hearing_the_same_sound_count_it_once() -> None:
    signal = bursts()
    beats_out, onsets_out = counts(run("output", signal))
    beats_both, onsets_both = counts(run("both", signal))
    assert onsets_out >= 20 and beats_out >= 10
    assert abs(onsets_both - onsets_out) <= 1
    assert abs(beats_both - beats_out) <= 2


def test_input_only_follows_the_input() -> None:
    silence = np.zeros(RATE * 4, np.float32)
    tap = AnalysisTap(RATE)
    clicks = bursts(4.0)
    for i in range(0, silence.size, 2048):
        tap.push_input(clicks[i:i + 2048], "input", i / RATE)
        tap.push_output(silence[i:i + 2048, None], "input")
    levels = [r[INDEX["level"]] for _, r in tap.pending]
    assert len(levels) > 300 and max(levels) > 0.3  # the input's bursts, not the silent output
