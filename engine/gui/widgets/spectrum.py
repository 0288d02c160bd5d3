"""The output's spectrum (`/engine/spectrum`: 40 mel bands, low to high), as bars with a falling peak."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engine.gui.widgets.still_plot import StillPlot

N_BANDS = 40
PEAK_FALL = 0.02  # per refresh


class SpectrumView(StillPlot):
    def __init__(self) -> None:
        super().__init__((0.0, 1.0), axes=False)
        self.setXRange(-0.5, N_BANDS - 0.5, padding=0)
        self.setMinimumHeight(90)
        self.bands = np.zeros(N_BANDS)
        self.peaks = np.zeros(N_BANDS)
        # One filled step curve instead of 40 bar items: a single path to draw per refresh.
        self.edges = np.arange(N_BANDS + 1) - 0.5
        self.bars = pg.PlotDataItem(self.edges, self.bands, stepMode="center", fillLevel=0, brush=(90, 170, 250),
                                    pen=pg.mkPen((140, 200, 255), width=1))
        self.peak_line = pg.PlotDataItem(np.arange(N_BANDS), self.peaks, pen=None, symbol="s", symbolSize=3,
                                         symbolBrush=(250, 220, 120), symbolPen=None)
        self.peak_line.setSkipFiniteCheck(True)
        self.addItem(self.bars)
        self.addItem(self.peak_line)
        self.received = 0
        self._dirty = False

    def on_spectrum(self, _address: str, args: list[object]) -> None:
        values = np.asarray(args, dtype=float)
        if values.size:
            n = min(values.size, N_BANDS)
            self.bands[:n] = values[:n]
            self.received += 1
            self._dirty = True

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        top = max(1.0, float(self.bands.max()))
        shown = self.bands / top
        self.peaks = np.maximum(self.peaks - PEAK_FALL, shown)
        self.bars.setData(self.edges, shown)
        self.peak_line.setData(np.arange(N_BANDS), self.peaks)
