"""The collection map: a 3D scatter of the atlas (`pyqtgraph.opengl`) coloured by cluster, the engine's
position as a moving marker with a trail; click a point to go there, click a cluster to go to it.

Messages expected from the engine (README, "The console"), after `/explore/subscribe`:
    /explore/atlas/begin COUNT CLUSTERS     a new atlas of COUNT points follows (the map is cleared)
    /explore/atlas/points FIRST x y z c ...  points FIRST, FIRST+1, ...: map coordinates and cluster id
    /explore/atlas/end COUNT                the atlas is complete
    /explore/position X Y Z                 where the engine plays now (a few times a second or more)
Sent to the engine: `/explore/point X Y Z` (a clicked point) and `/explore/cluster N` (a cluster button).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6 import QtCore, QtGui, QtWidgets

from engine.gui.context import ConsoleContext

MAX_POINTS = 100_000  # a bound on what a sender can make the console hold
TRAIL = 90
PICK_PIXELS = 14.0
CLICK_SLOP = 4  # pixels a press may move and still be a click (not an orbit)


def cluster_colours(clusters: np.ndarray) -> np.ndarray:
    n = int(clusters.max()) + 1 if clusters.size else 1
    table = np.array([pg.intColor(i, hues=max(n, 1)).getRgbF() for i in range(n)], dtype=np.float32)
    return table[np.clip(clusters, 0, n - 1)]


class AtlasGL(gl.GLViewWidget):
    """The 3D view; emits `picked(index)` for a click (not a drag) near a point."""

    picked = QtCore.Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setBackgroundColor((16, 16, 21))
        self.setCameraPosition(distance=4.0)
        self.points = np.zeros((0, 3), dtype=np.float32)
        self.scatter = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=6, color=(0, 0, 0, 0), pxMode=True)
        self.marker = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), size=16, color=(1, 1, 1, 0), pxMode=True)
        self.trail = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=(1.0, 0.85, 0.3, 0.0), width=2, antialias=True)
        for item in (self.scatter, self.trail, self.marker):
            self.addItem(item)
        self._press: QtCore.QPointF | None = None

    def set_points(self, points: np.ndarray, colours: np.ndarray) -> None:
        self.points = points
        if points.size:
            self.scatter.setData(pos=points, color=colours, size=7)
            span = float(np.abs(points - points.mean(axis=0)).max()) or 1.0
            self.opts["center"] = pg.Vector(*points.mean(axis=0))
            self.setCameraPosition(distance=span * 3.2)

    def set_position(self, history: np.ndarray) -> None:
        if history.shape[0] == 0:
            return
        self.marker.setData(pos=history[-1:], color=(1, 1, 1, 1), size=16)
        if history.shape[0] >= 2:
            self.trail.setData(pos=history, color=(1.0, 0.85, 0.3, 0.8))

    def screen_positions(self) -> np.ndarray:
        """Every point's position in this widget's pixels (x right, y down)."""
        if not self.points.size:
            return np.zeros((0, 2))
        w, h = self.width(), self.height()
        dpr = self.devicePixelRatioF()
        viewport = (0, 0, int(w * dpr), int(h * dpr))
        mvp = self.projectionMatrix(viewport, viewport) * self.viewMatrix()
        m = np.array(mvp.data(), dtype=np.float64).reshape(4, 4).T  # Qt stores column-major
        homogeneous = np.c_[self.points, np.ones(len(self.points))] @ m.T
        ndc = homogeneous[:, :2] / homogeneous[:, 3:4]
        return np.c_[(ndc[:, 0] + 1) * 0.5 * w, (1 - ndc[:, 1]) * 0.5 * h]

    def nearest(self, x: float, y: float) -> int | None:
        screen = self.screen_positions()
        if not screen.size:
            return None
        distance = np.hypot(screen[:, 0] - x, screen[:, 1] - y)
        index = int(np.argmin(distance))
        return index if distance[index] <= PICK_PIXELS else None

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._press = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt's name
        press, self._press = self._press, None
        if press is not None and (event.position() - press).manhattanLength() <= CLICK_SLOP:
            index = self.nearest(event.position().x(), event.position().y())
            if index is not None:
                self.picked.emit(index)
        super().mouseReleaseEvent(event)


class AtlasView(QtWidgets.QWidget):
    """The Map tab. The GL view is made the first time the tab is shown: a window holding an OpenGL
    widget composes all of itself through OpenGL, which costs nothing on a GPU but several times the
    CPU of plain raster drawing for every repaint of every widget on a software renderer."""

    def __init__(self, ctx: ConsoleContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._layout = QtWidgets.QHBoxLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self.view: AtlasGL | None = None
        self._placeholder = QtWidgets.QWidget()
        self._layout.addWidget(self._placeholder, 1)
        side = QtWidgets.QVBoxLayout()
        self.caption = QtWidgets.QLabel("no atlas loaded\n(the engine sends one when a\ncollection is mapped)")
        side.addWidget(self.caption)
        self.cluster_box = QtWidgets.QVBoxLayout()
        side.addLayout(self.cluster_box)
        side.addStretch(1)
        self._layout.addLayout(side)
        self.points = np.zeros((0, 3), dtype=np.float32)
        self.clusters = np.zeros(0, dtype=np.int64)
        self.expected = 0
        self.history = np.zeros((0, 3), dtype=np.float32)
        self._dirty_points = False
        self._dirty_position = False
        self.cluster_buttons: list[QtWidgets.QPushButton] = []

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt's name
        if self.view is None:
            self.view = AtlasGL()
            self.view.picked.connect(self.go_to_point)
            self._layout.replaceWidget(self._placeholder, self.view)
            self._placeholder.deleteLater()
            self._dirty_points = self._dirty_position = True
        super().showEvent(event)

    # --- from the engine -------------------------------------------------------------------
    def on_begin(self, _address: str, args: list[object]) -> None:
        count = min(int(args[0]), MAX_POINTS) if args and isinstance(args[0], int | float) else 0
        self.expected = count
        self.points = np.zeros((count, 3), dtype=np.float32)
        self.clusters = np.zeros(count, dtype=np.int64)
        self.history = np.zeros((0, 3), dtype=np.float32)
        self._dirty_points = True

    def on_points(self, _address: str, args: list[object]) -> None:
        if not args:
            return
        first = int(args[0])  # type: ignore[call-overload]
        values = np.asarray(args[1:1 + 4 * ((len(args) - 1) // 4)], dtype=np.float64).reshape(-1, 4)
        end = min(first + len(values), self.expected)
        if first < 0 or end <= first:
            return
        self.points[first:end] = values[:end - first, :3]
        self.clusters[first:end] = values[:end - first, 3].astype(np.int64)
        self._dirty_points = True

    def on_end(self, _address: str, _args: list[object]) -> None:
        self._dirty_points = True
        self._rebuild_clusters()

    def on_position(self, _address: str, args: list[object]) -> None:
        if len(args) >= 3:
            row = np.asarray(args[:3], dtype=np.float32)[None, :]
            self.history = np.concatenate([self.history[-(TRAIL - 1):], row])
            self._dirty_position = True

    def refresh(self) -> None:
        if self.view is None:
            return
        if self._dirty_points:
            self._dirty_points = False
            self.view.set_points(self.points, cluster_colours(self.clusters))
            n_clusters = len(np.unique(self.clusters)) if self.clusters.size else 0
            self.caption.setText(f"{len(self.points)} points, {n_clusters} clusters\n"
                                 "click a point to go there" if len(self.points) else "no atlas loaded")
        if self._dirty_position:
            self._dirty_position = False
            self.view.set_position(self.history)

    # --- to the engine ---------------------------------------------------------------------
    def _rebuild_clusters(self) -> None:
        for button in self.cluster_buttons:
            button.setParent(None)
            button.deleteLater()
        self.cluster_buttons = []
        if not self.clusters.size:
            return
        colours = cluster_colours(np.arange(int(self.clusters.max()) + 1))
        for n in np.unique(self.clusters)[:24]:
            r, g, b, _ = (int(255 * c) for c in colours[n])
            button = QtWidgets.QPushButton(f"cluster {n}")
            button.setStyleSheet(f"border-left: 10px solid rgb({r},{g},{b});")
            button.clicked.connect(lambda _=False, n=int(n): self.go_to_cluster(n))
            self.cluster_box.addWidget(button)
            self.cluster_buttons.append(button)

    def go_to_point(self, index: int) -> None:
        x, y, z = (float(v) for v in self.points[index])
        self.ctx.command("/explore/point", x, y, z)
        self.ctx.notify(f"going to point {index} (cluster {int(self.clusters[index])})")

    def go_to_cluster(self, n: int) -> None:
        self.ctx.command("/explore/cluster", n)
        self.ctx.notify(f"going to cluster {n}")
