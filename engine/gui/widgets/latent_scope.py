"""The latent scope: the last 10 seconds of every latent dimension (`/engine/latent`, 30 a second)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engine.gui.widgets.still_plot import StillPlot

HISTORY_SECONDS = 10.0
RATE_HZ = 30.0
N_POINTS = int(HISTORY_SECONDS * RATE_HZ)


class LatentScope(StillPlot):
    def __init__(self) -> None:
        super().__init__((-3.5, 3.5))
        self.setXRange(-HISTORY_SECONDS, 0, padding=0)
        self.getPlotItem().showGrid(x=True, y=True, alpha=0.15)
        self.setMinimumHeight(110)
        self.times = np.linspace(-HISTORY_SECONDS, 0, N_POINTS)
        self.history = np.zeros((0, N_POINTS))
        self.curves: list[pg.PlotDataItem] = []
        self.received = 0
        self._dirty = False

    def _resize(self, dims: int) -> None:
        for curve in self.curves:
            self.removeItem(curve)
        self.history = np.zeros((dims, N_POINTS))
        self.curves = [self.plot(self.times, self.history[i], pen=pg.mkPen(pg.intColor(i, hues=max(dims, 1)),
                                                                          width=1)) for i in range(dims)]
        for curve in self.curves:
            curve.setSkipFiniteCheck(True)

    def on_latent(self, _address: str, args: list[object]) -> None:
        row = np.asarray(args, dtype=float)
        if row.size != self.history.shape[0]:
            self._resize(row.size)  # a model swap changed the latent size
        self.history[:, :-1] = self.history[:, 1:]
        self.history[:, -1] = row
        self.received += 1
        self._dirty = True

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for curve, values in zip(self.curves, self.history, strict=True):
            curve.setData(self.times, values)
