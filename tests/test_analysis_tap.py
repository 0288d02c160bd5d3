"""The analysis tap in the render graph: time stamps on the timeline, sources merged without counting
one sound twice, and no analysis at all while nothing consumes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.analysis.analyzer import AudioAnalyzer
from engine.analysis.features import INDEX
from engine.analysis.tap import AnalysisTap
from engine.render.graph import RenderGraph
from engine.render.offline import RenderRequest, prepare

RATE = 48000


def bursts(seconds: float = 12.0, every: float = 0.5) -> np.ndarray:
    x = np.zeros(int(seconds * RATE), np.float32)
    for i in range(0, x.size - 500, int(RATE * every)):
        x[i:i + 400] = np.random.default_rng(i).standard_normal(400) * 0.5
    return x


def run(source: str, signal: np.ndarray) -> list[tuple[float, np.ndarray]]:
    tap = AnalysisTap(RATE)
    for i in range(0, signal.size, 2048):
        tap.push_output(signal[i:i + 2048, None], source, 3.0 + i / RATE)
        tap.push_input(signal[i:i + 2048], source, 3.0 + i / RATE)
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
        tap.push_output(silence[i:i + 2048, None], "input", i / RATE)
        tap.push_input(clicks[i:i + 2048], "input", i / RATE)
    levels = [r[INDEX["level"]] for _, r in tap.pending]
    assert len(levels) > 300 and max(levels) > 0.3  # the input's bursts, not the silent output


def render(graph: RenderGraph, frames: int) -> np.ndarray:
    return np.concatenate([graph.next_frame() for _ in range(frames)])


def test_nothing_consuming_it_runs_no_analysis(default_model_path: Path) -> None:
    graph = prepare(RenderRequest(seconds=2.0, model=default_model_path, scene="Intense"))
    render(graph, 30)
    assert not graph.analysis.running and len(graph.analysis.pending) == 0


def test_turned_on_later_it_starts_afresh_on_the_timeline(default_model_path: Path) -> None:
    graph = prepare(RenderRequest(seconds=2.0, model=default_model_path, scene="Intense"))
    render(graph, 40)
    graph.analysis.wanted = True  # the visuals or an OSC subscriber came along
    audio = render(graph, 30)
    times = np.array([t for t, _ in graph.analysis.pending])
    rows = np.array([r for _, r in graph.analysis.pending])
    analyzer = AudioAnalyzer(graph.output_rate)
    fresh = analyzer.process(audio)
    assert len(fresh) > 100
    np.testing.assert_array_equal(rows, fresh)  # what a fresh analyzer hears from the switch on
    hop_seconds = analyzer.hop / graph.output_rate
    expected = 40 * graph.frame_seconds + np.arange(1, len(fresh) + 1) * hop_seconds  # the timeline's time
    np.testing.assert_allclose(times, expected, rtol=0, atol=1e-9)


def test_a_modulation_slot_turns_it_on_and_off(default_model_path: Path) -> None:
    graph = prepare(RenderRequest(seconds=2.0, model=default_model_path, scene="Intense"))
    render(graph, 10)
    graph.store.set_many({"/mod/2/source": "level", "/mod/2/target": "/rave/energy", "/mod/2/depth": 0.0})
    render(graph, 20)
    rows = len(graph.analysis.pending)
    assert rows > 50 and graph.analysis.latest[INDEX["level"]] > 0.05  # the analysis hears the model
    graph.store.set("/mod/2/source", "off")
    render(graph, 20)
    assert len(graph.analysis.pending) == rows  # stopped
    assert not graph.analysis.latest.any()  # and a slot turned on later starts from silence
