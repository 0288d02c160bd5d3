"""A pyqtgraph plot that only shows: no context menu, no pan or zoom, no auto-range button.

On stage a stray drag must never move a view; the console's plots all start from this.
"""

from __future__ import annotations

import pyqtgraph as pg


class StillPlot(pg.PlotWidget):
    def __init__(self, y_range: tuple[float, float], *, axes: bool = True) -> None:
        super().__init__()
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        if not axes:
            self.getPlotItem().hideAxis("left")
            self.getPlotItem().hideAxis("bottom")
        self.setYRange(*y_range, padding=0)
