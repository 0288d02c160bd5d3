"""What the beat grid drives besides launches: MIDI clock out on an outside (Link) beat and with the
transport, and the visuals' beat taken from Link's grid."""

from __future__ import annotations

import time
from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest
from waiting import wait_until

from engine.analysis.features import INDEX, empty
from engine.control.hub import ControlHub
from engine.control.midi_clock import START, STOP, TICK, ClockOut, next_tick
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.beat_grid import GridPoint
from engine.render.timeline import Timeline
from engine.session.feed import FeatureFeed


def test_clock_ticks_follow_the_outside_beat_one_by_one() -> None:
    tick, wait = next_tick(None, 2.49, 120.0)  # 59.76 ticks: the next is 60, a quarter tick away
    assert tick == 60 and wait == pytest.approx(0.24 * 60 / (120 * 24))
    tick, wait = next_tick(60, 2.4999, 120.0)  # the clock reads a hair before the tick just sent: the next
    assert tick == 61 and wait > 0
    tick, wait = next_tick(61, 62.5 / 24, 120.0)  # late (a slow thread): the next one at once, none skipped
    assert tick == 62 and wait == 0.0
    tick, _ = next_tick(62, 10.0, 120.0)  # the session's beat jumped: back onto its grid
    assert tick == 240


def test_clock_out_stops_and_starts_with_the_transport() -> None:
    store = ParamStore(build_param_table(1))
    store.set("/tempo/bpm", 300.0)  # 120 ticks a second: the test does not wait long
    sent: list[int] = []
    clock = ClockOut(ControlHub(store), lambda message: sent.append(message[0]))
    clock.start()
    try:
        assert wait_until(lambda: sent.count(TICK) >= 5, 5.0)
        store.set("/transport/play", False)
        assert wait_until(lambda: STOP in sent, 5.0)
        stopped = len(sent)
        time.sleep(0.1)  # a dozen ticks' time: none may come while stopped
        assert len(sent) == stopped
        store.set("/transport/play", True)
        assert wait_until(lambda: sent[stopped:].count(TICK) >= 3, 5.0)
        assert sent[stopped] == START
    finally:
        clock.stop()
    assert sent[0] == START and sent[-1] == STOP


def test_the_visuals_get_links_beat_when_joined() -> None:
    store = ParamStore(build_param_table(1))
    timeline = Timeline(store)
    timeline.grid.external = lambda: GridPoint(0.0, 0.0, 150.0)  # Link: beat 0 at render time 0, 150 bpm
    timeline.advance(1.0, 0.04)
    rows = deque()
    for k in range(1, 40):
        row = empty()
        row[INDEX["beat_phase"]], row[INDEX["bpm"]] = 0.9, 97.0  # what the tracker thought
        rows.append((k * 0.02, row))
    graph = SimpleNamespace(analysis=SimpleNamespace(pending=rows), latents_pending=deque(), timeline=timeline)
    published: list[np.ndarray] = []
    feed = FeatureFeed(lambda: graph, store, lambda: 1.0,  # type: ignore[arg-type,return-value]
                       publish=lambda *args: published.append(args[1]), send_row=None)
    sent: list[np.ndarray] = []
    feed._send_row = sent.append
    assert feed.poll() == 39
    phases = [float(r[INDEX["beat_phase"]]) for r in sent]
    assert phases[0] == pytest.approx(0.05) and phases[-1] == pytest.approx((0.78 * 2.5) % 1.0)
    assert all(float(r[INDEX["bpm"]]) == 150.0 for r in sent)
    assert [round(k * 0.02, 2) for k, r in enumerate(sent, 1) if r[INDEX["beat"]] > 0.5] == [0.4]  # beat 1 at 0.4 s


@pytest.mark.parametrize("method", ["", "forward"], ids=["decode", "effect"])
def test_a_stopped_transport_is_silent_in_both_graphs(default_model, tmp_path, method: str) -> None:
    import soundfile as sf

    from engine.render.offline import RenderRequest, render

    rate = default_model.sample_rate or 48000
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(rate // 2) / rate)).astype(np.float32)
    sf.write(tmp_path / "in.wav", tone, rate)
    sets = [f"/rave/method={method}"] if method else []
    playing = render(RenderRequest(seconds=None, input=tmp_path / "in.wav", sets=sets, seed=1),
                     model=default_model).audio
    stopped = render(RenderRequest(seconds=None, input=tmp_path / "in.wav", sets=[*sets, "/transport/play=0"],
                                   seed=1), model=default_model).audio
    assert np.abs(playing).max() > 1e-2 and np.abs(stopped).max() < 1e-4
