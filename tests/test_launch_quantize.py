"""Quantised launches: a scene, slot or theme launched mid-bar lands on the next line of the beat grid.

The landing is checked where it matters, in rendered audio: a scene that starts the transport (silence
to sound: the sharpest level change there is), launched mid-bar with quantize `bar`, is heard from the
bar line on, within one latent frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.control.hub import ControlHub
from engine.control.launcher import Launcher
from engine.errors import ParamError
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.beat_grid import BeatGrid, GridPoint, next_boundary
from engine.render.graph import RenderGraph
from engine.render.launch_queue import MAX_PENDING, Launch, LaunchQueue
from engine.render.timeline import Timeline

QUIET = {"/master/agc": False, "/master/gain_db": -60.0, "/scene/morph_time": 0.0}
SILENT = {"/master/agc": False, "/transport/play": False, "/scene/morph_time": 0.0}


def _scenes(folder: Path) -> Path:
    (folder / "loud.toml").write_text('name = "loud"\n[params]\n"/master/gain_db" = 0.0\n')
    (folder / "start.toml").write_text('name = "start"\n[params]\n"/transport/play" = true\n')
    (folder / "drop.toml").write_text('name = "drop"\n[params]\n"/master/gain_db" = 0.0\n"/visual/theme" = "strobe"\n')
    return folder


def _render_until(graph: RenderGraph, seconds: float, out: list[np.ndarray]) -> None:
    while graph.time_seconds < seconds:
        out.append(graph.next_frame())


def _onset_seconds(audio: np.ndarray, rate: int, after: float) -> float:
    """The first sample above -80 dBFS after `after` seconds (silence leaves only the DC blocker's tail)."""
    start = int(after * rate)
    return (start + int(np.argmax(np.abs(audio[start:]) > 1e-4))) / rate


@pytest.mark.parametrize(("bpm", "quantize", "launch_at"), [(120.0, "bar", 1.3), (133.0, "beat", 0.7),
                                                            (100.0, "2bar", 2.1)])
def test_a_scene_launched_mid_bar_steps_the_audio_at_the_grid_line(default_model: NNModel, tmp_path: Path,
                                                                   bpm: float, quantize: str,
                                                                   launch_at: float) -> None:
    store = ParamStore(build_param_table(default_model.latent_size or 1))
    store.set_many({**SILENT, "/tempo/bpm": bpm})
    graph = RenderGraph(default_model, store, seed=1)
    hub = ControlHub(store, timeline=lambda: graph.timeline, scenes_dir=_scenes(tmp_path))
    frames: list[np.ndarray] = []
    _render_until(graph, launch_at, frames)
    hub.recall_scene("start", quantize=quantize)
    assert store.get("/transport/play") is False  # waiting for the grid, not at once
    beats = {"beat": 1, "bar": 4, "2bar": 8}[quantize]
    line = next_boundary(launch_at * bpm / 60.0, beats) * 60.0 / bpm
    _render_until(graph, line + 1.0, frames)
    audio = np.concatenate(frames)[:, 0]
    assert np.abs(audio[: int(launch_at * graph.output_rate)]).max() < 1e-4  # silent until the launch
    onset = _onset_seconds(audio, graph.output_rate, launch_at)
    assert abs(onset - line) <= graph.frame_seconds, (onset, line)
    assert store.get("/transport/play") is True and np.abs(audio[-graph.output_rate // 2:]).max() > 1e-3  # 20 dB over the floor
    landed = graph.timeline.launches.landed[-1]
    assert landed.label == "scene:start" and abs(landed.seconds - line) <= graph.frame_seconds / 2 + 1e-9


def test_quantize_off_launches_at_once_and_the_param_sets_the_default(tmp_path: Path) -> None:
    store = ParamStore(build_param_table(2))
    timeline = Timeline(store)
    hub = ControlHub(store, timeline=lambda: timeline, scenes_dir=_scenes(tmp_path))
    store.set_many(QUIET)
    hub.recall_scene("loud")  # /launch/quantize is off by default
    assert store.get("/master/gain_db") == 0.0
    store.set_many({**QUIET, "/launch/quantize": "bar"})
    hub.recall_scene("loud")
    assert store.get("/master/gain_db") == -60.0 and timeline.launches.pending == 1
    hub.recall_scene("loud", quantize="off")  # a launch's own argument wins
    assert store.get("/master/gain_db") == 0.0


def test_slots_and_themes_wait_for_the_grid_too(tmp_path: Path) -> None:
    store = ParamStore(build_param_table(2))
    timeline = Timeline(store)
    hub = ControlHub(store, timeline=lambda: timeline, scenes_dir=_scenes(tmp_path), slots_dir=tmp_path / "slots")
    store.set("/rave/latent/1/bias", 2.0)
    hub.slots.save(3)
    store.set_many({"/rave/latent/1/bias": 0.0, "/launch/quantize": "beat"})
    hub.run_action("slot:3")
    hub.run_action("theme:strobe")
    hub.set("/visual/theme", "nebula")  # a plain write of a launch address, from any surface
    frame = 0.04
    timeline.advance(0.1, frame)  # 120 bpm: the first beat line after 0 is 0.5 s
    assert store.get("/rave/latent/1/bias") == 0.0 and timeline.launches.pending == 3
    t = 0.1
    while store.get("/rave/latent/1/bias") == 0.0:
        t += frame
        timeline.advance(t, frame)
    assert abs(t - 0.5) <= frame / 2
    assert store.get("/visual/theme") == "nebula" and timeline.launches.pending == 0  # the later one wins
    with pytest.raises(ParamError):
        hub.run_action("theme:strobe", quantize="3bar")


def test_the_visual_part_of_a_launch_switches_when_its_frame_is_heard(tmp_path: Path) -> None:
    store = ParamStore(build_param_table(2))
    timeline = Timeline(store)
    timeline.launches.defer_visuals = True  # live: the feed publishes what is heard
    hub = ControlHub(store, timeline=lambda: timeline, scenes_dir=_scenes(tmp_path))
    store.set_many({**QUIET, "/launch/quantize": "beat"})
    timeline.advance(0.0, 0.04)
    timeline.advance(0.04, 0.04)
    hub.recall_scene("drop")
    for k in range(2, 20):
        timeline.advance(k * 0.04, 0.04)
    assert store.get("/master/gain_db") == 0.0  # the audio part landed at 0.5 s on the render thread
    assert store.get("/visual/theme") == "nebula"  # the visual part waits for the audio clock
    assert timeline.launches.run_heard(0.45) == 0
    assert timeline.launches.run_heard(0.49) == 1  # the frame nearest the line starts at 0.48 s
    assert store.get("/visual/theme") == "strobe"


def test_a_line_already_rendered_moves_the_launch_to_the_next_one() -> None:
    queue = LaunchQueue()
    landed: list[float] = []
    # Asked for at 0.9 s heard while the render head is at 1.2 s (a 0.3 s lookahead), 120 bpm, beats.
    queue.add(Launch("x", 1.0, 0.9, audio=landed.append))
    t = 1.2
    while not landed:
        queue.release(GridPoint(t, t * 2.0, 120.0), 0.02)
        t += 0.02
    assert landed[0] == pytest.approx(1.5, abs=0.011)  # the 1.0 s line was gone: the next beat


def test_the_queue_is_bounded() -> None:
    queue = LaunchQueue()
    for _ in range(MAX_PENDING):
        queue.add(Launch("x", 4.0, 0.0))
    with pytest.raises(ParamError, match="already wait"):
        queue.add(Launch("x", 4.0, 0.0))


def test_the_own_grid_follows_the_tempo_and_restarts_on_play() -> None:
    grid = BeatGrid(120.0)
    grid.advance(0.0, 120.0)
    grid.advance(1.0, 60.0)
    assert grid.point.beat == pytest.approx(2.0)  # one second at 120 bpm
    grid.advance(2.0, 60.0)
    assert grid.point.beat == pytest.approx(3.0)
    grid.advance(3.0, 60.0, playing=False)
    grid.advance(4.0, 60.0, playing=True)
    assert grid.point.beat == 0.0


def test_an_outside_grid_wins_over_the_tempo() -> None:
    grid = BeatGrid(120.0)
    grid.external = lambda: GridPoint(10.0, 100.0, 133.0)
    point = grid.advance(11.0, 90.0)
    assert point.bpm == 133.0 and point.beat == pytest.approx(100.0 + 133.0 / 60.0)


def test_a_launcher_without_an_engine_runs_at_once() -> None:
    store = ParamStore(build_param_table(1))
    store.set("/launch/quantize", "4bar")
    ran: list[float] = []
    assert not Launcher(store, lambda: None, None).launch("x", audio=ran.append)
    assert ran == [0.0]


def test_osc_launch_messages_take_a_quantize_argument(tmp_path: Path) -> None:
    from osc_fixtures import Listener

    from engine.control.osc_codec import encode_message
    from engine.control.osc_server import OscServer

    store = ParamStore(build_param_table(2))
    timeline = Timeline(store)
    timeline.advance(0.1, 0.04)
    hub = ControlHub(store, timeline=lambda: timeline, scenes_dir=_scenes(tmp_path), slots_dir=tmp_path / "slots")
    store.set("/rave/latent/0/bias", 1.0)
    hub.slots.save(2)
    store.set_many({**QUIET, "/rave/latent/0/bias": 0.0})
    listener = Listener()
    try:
        with OscServer(hub, port=0) as server:
            for address, *args in (("/scene/recall", "loud", 0.0, "bar"), ("/slot/recall", 2, "beat"),
                                   ("/engine/action", "theme:strobe", "2bar"), ("/visual/theme", "ink", "4bar")):
                listener.send(server.port, encode_message(address, *args))
            listener.send(server.port, encode_message("/scene/recall", "loud", "3bar"))
            listener.send(server.port, encode_message("/sync", 1))
            listener.wait_for(lambda r: ("/synced", [1]) in r)
    finally:
        listener.close()
    assert timeline.launches.pending == 4  # every launch waits; the bad quantize was refused
    assert store.get("/master/gain_db") == -60.0 and store.get("/visual/theme") == "nebula"
    assert any(a == "/fail" and args[0] == "/scene/recall" and "3bar" in str(args[1])
               for a, args in listener.received)
    labels = []
    t = 0.1
    while timeline.launches.pending:
        t += 0.04
        timeline.advance(t, 0.04)
        labels += [(x.label, round(x.grid_seconds, 3)) for x in list(timeline.launches.landed)[len(labels):]]
    assert labels == [("slot:2", 0.5), ("scene:loud", 2.0), ("/visual/theme strobe", 4.0),
                      ("/visual/theme ink", 8.0)]
    assert store.get("/visual/theme") == "ink" and store.get("/rave/latent/0/bias") == 1.0
