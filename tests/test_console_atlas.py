"""The console's collection map in a real Qt (xcb on Xvfb, OpenGL through Mesa): an atlas fed by a fake
sender in the documented format is drawn, a click on a point sends `/explore/point` with its map
coordinates, a cluster button sends `/explore/cluster`, and positions move the marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytest.importorskip("OpenGL")
pytest.importorskip("pytestqt")

from osc_fixtures import Listener  # noqa: E402
from PySide6 import QtCore  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from engine.control.osc_codec import encode_message  # noqa: E402
from engine.explore.atlas import Atlas  # noqa: E402
from engine.explore.messages import atlas_messages  # noqa: E402
from engine.gui.main_window import ConsoleWindow  # noqa: E402
from engine.gui.osc_link import EngineLink  # noqa: E402

BATCH = 16


@pytest.fixture
def fake_engine() -> Iterator[Listener]:
    """A UDP socket standing in for the engine: it receives what the console sends and sends it an atlas."""
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def window(qtbot, fake_engine: Listener, console_settings_file: Path) -> Iterator[ConsoleWindow]:
    win = ConsoleWindow(EngineLink("127.0.0.1", fake_engine.port))
    qtbot.addWidget(win)
    win.show()
    win.start()
    win.tabs.setCurrentWidget(win.map_tab)
    yield win
    win.close()


def send_atlas(engine: Listener, console_port: int, points: np.ndarray, clusters: np.ndarray) -> None:
    send = lambda *message: engine.sock.sendto(encode_message(*message), ("127.0.0.1", console_port))  # noqa: E731
    send("/explore/atlas/begin", len(points), int(clusters.max()) + 1)
    for first in range(0, len(points), BATCH):
        args: list[object] = [first]
        for p, c in zip(points[first:first + BATCH], clusters[first:first + BATCH], strict=True):
            args += [float(p[0]), float(p[1]), float(p[2]), int(c)]
        send("/explore/atlas/points", *args)
    send("/explore/atlas/end", len(points))


def test_an_atlas_is_drawn_and_a_clicked_point_is_sent_to_the_engine(qtbot, window: ConsoleWindow,
                                                                     fake_engine: Listener) -> None:
    rng = np.random.default_rng(3)
    centres = np.array([[-1.0, 0, 0], [1.0, 0.5, 0], [0, -1.0, 0.8]])
    clusters = np.repeat(np.arange(3), 20)
    points = (centres[clusters] + rng.normal(0, 0.15, (60, 3))).astype(np.float32)
    send_atlas(fake_engine, window.link.port, points, clusters)
    atlas = window.atlas
    qtbot.waitUntil(lambda: len(atlas.cluster_buttons) == 3, timeout=10_000)
    np.testing.assert_allclose(atlas.points, points, atol=1e-6)
    assert list(atlas.clusters) == list(clusters)
    for _ in range(3):
        window.refresh()  # the map redraws every third tick
    qtbot.wait(200)  # a paint, so the view's camera and size are real
    frame = atlas.view.grabFramebuffer()
    assert not frame.isNull()
    screen = atlas.view.screen_positions()
    inside = [i for i, (x, y) in enumerate(screen) if 20 < x < atlas.view.width() - 20
              and 20 < y < atlas.view.height() - 20]
    assert inside, f"no point on screen: {screen[:5]}"
    distances = np.hypot(*(screen[:, None, :] - screen[None, :, :]).transpose(2, 0, 1)) + np.eye(len(screen)) * 1e9
    target = max(inside, key=lambda i: distances[i].min())  # the most isolated point: an unambiguous click
    x, y = screen[target]
    QTest.mouseClick(atlas.view, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier,
                     QtCore.QPoint(round(x), round(y)))
    received = fake_engine.wait_for(lambda r: any(a == "/explore/point" for a, _ in r), timeout=5.0)
    sent = next(args for a, args in received if a == "/explore/point")
    np.testing.assert_allclose(sent, points[target], atol=1e-5)

    atlas.cluster_buttons[2].click()
    received = fake_engine.wait_for(lambda r: any(a == "/explore/cluster" for a, _ in r), timeout=5.0)
    assert next(args for a, args in received if a == "/explore/cluster") == [2]


def test_positions_move_the_marker_and_leave_a_trail(qtbot, window: ConsoleWindow, fake_engine: Listener) -> None:
    for k in range(5):
        fake_engine.sock.sendto(encode_message("/explore/position", 0.1 * k, 0.0, -0.1 * k),
                                ("127.0.0.1", window.link.port))
    qtbot.waitUntil(lambda: window.atlas.history.shape[0] == 5, timeout=10_000)
    for _ in range(3):
        window.refresh()  # the map redraws every third tick
    np.testing.assert_allclose(window.atlas.history[-1], [0.4, 0.0, -0.4], atol=1e-6)
    np.testing.assert_allclose(window.atlas.view.marker.pos[0], [0.4, 0.0, -0.4], atol=1e-6)
    assert window.atlas.view.trail.pos.shape == (5, 3)


def test_the_engines_own_atlas_messages_are_drawn(qtbot, window: ConsoleWindow, fake_engine: Listener,
                                                  atlas_path: Path) -> None:
    """What the engine sends to /explore/subscribe (engine/explore/messages.py), read by the map."""
    atlas = Atlas.load(atlas_path)
    for address, args in atlas_messages(atlas, str(atlas_path)):
        fake_engine.sock.sendto(encode_message(address, *args), ("127.0.0.1", window.link.port))
    qtbot.waitUntil(lambda: len(window.atlas.cluster_buttons) == atlas.n_clusters, timeout=10_000)
    np.testing.assert_allclose(window.atlas.points, atlas.positions, atol=1e-6)
    assert list(window.atlas.clusters) == list(atlas.clusters)


def test_a_clicked_point_moves_the_playing_engine(qtbot, jack_server, default_model_path: Path, atlas_path: Path,
                                                  console_settings_file: Path, tmp_path: Path) -> None:
    """End to end: a live engine loads an atlas, the console draws what the engine sends, a click on a
    point reaches the engine, which goes to that chunk (`/explore/chunk`) and moves its walk there."""
    from gui_fixtures import start_engine
    from test_console_gui import engine_value, open_window

    engine = start_engine(jack_server, default_model_path, tmp_path / "engine.log",
                          extra=("--allow-model-dir", str(atlas_path.parent)))
    try:
        window = open_window(qtbot, engine.port)
        window.tabs.setCurrentWidget(window.map_tab)
        client = Listener()
        client.send(engine.port, encode_message("/explore/atlas", str(atlas_path)))
        client.close()
        atlas = Atlas.load(atlas_path)
        qtbot.waitUntil(lambda: len(window.atlas.cluster_buttons) == atlas.n_clusters, timeout=20_000)
        np.testing.assert_allclose(window.atlas.points, atlas.positions, atol=1e-6)
        assert engine_value(engine.port, "/explore/chunk") == -1
        for _ in range(3):
            window.refresh()
        qtbot.wait(200)
        screen = window.atlas.view.screen_positions()
        view = window.atlas.view
        inside = [i for i, (x, y) in enumerate(screen) if 20 < x < view.width() - 20 and 20 < y < view.height() - 20]
        assert inside
        distances = np.hypot(*(screen[:, None, :] - screen[None, :, :]).transpose(2, 0, 1)) + np.eye(len(screen)) * 1e9
        target = max(inside, key=lambda i: distances[i].min())
        x, y = screen[target]
        QTest.mouseClick(view, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier,
                         QtCore.QPoint(round(x), round(y)))
        qtbot.waitUntil(lambda: engine_value(engine.port, "/explore/chunk") == target, timeout=10_000)
        assert engine.alive()
    finally:
        engine.stop()
