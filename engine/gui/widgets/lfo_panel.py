"""The LFOs: rate or sync division, shape with a drawn preview (and where the LFO is now, from
`/engine/lfo`), depth and target, one row per LFO; and the modulation matrix (feature, target, depth)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.gui.context import ConsoleContext
from engine.gui.widgets.choice import Choice
from engine.gui.widgets.fader import Fader
from engine.gui.widgets.still_plot import StillPlot

PREVIEW_POINTS = 128
N_LFOS = 4
N_MODS = 4
_HORIZONTAL = QtCore.Qt.Orientation.Horizontal


def shape_curve(shape: str, phases: np.ndarray) -> np.ndarray:
    """One cycle of an LFO shape, -1..1 (the random shapes drawn as a fixed example)."""
    if shape == "sine":
        return np.sin(2 * np.pi * phases)
    if shape == "triangle":
        return 1.0 - 4.0 * np.abs(((phases + 0.25) % 1.0) - 0.5)
    if shape == "square":
        return np.where(phases < 0.5, 1.0, -1.0)
    if shape == "saw":
        return 2.0 * phases - 1.0
    steps = np.array([0.6, -0.3, 0.9, -0.8])
    if shape == "sample_hold":
        return steps[np.minimum((phases * steps.size).astype(int), steps.size - 1)]
    k = np.minimum((phases * steps.size).astype(int), steps.size - 1)
    w = 0.5 - 0.5 * np.cos(np.pi * (phases * steps.size - k))
    return (1 - w) * steps[k] + w * steps[(k + 1) % steps.size]


class ShapePreview(StillPlot):
    def __init__(self) -> None:
        super().__init__((-1.1, 1.1), axes=False)
        self.setXRange(0, 1, padding=0)
        self.setFixedSize(96, 52)
        self.phases = np.linspace(0, 1, PREVIEW_POINTS, endpoint=False)
        self.curve = self.plot(self.phases, np.zeros(PREVIEW_POINTS), pen=pg.mkPen((90, 170, 250), width=2))
        self.marker = self.plot([0.0], [0.0], pen=None, symbol="o", symbolSize=9, symbolBrush=(250, 200, 60))
        self.shape = "sine"

    def set_shape(self, shape: str) -> None:
        self.shape = shape
        self.curve.setData(self.phases, shape_curve(shape, self.phases))

    def set_position(self, phase: float, value: float) -> None:
        self.marker.setData([phase % 1.0], [value])


class LfoPanel(QtWidgets.QWidget):
    def __init__(self, ctx: ConsoleContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.controls: list[QtWidgets.QWidget] = []
        self.previews: list[ShapePreview] = []
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        targets = ["", *ctx.model.continuous_addresses()]
        lfos = QtWidgets.QGroupBox("LFOs")
        grid = QtWidgets.QGridLayout(lfos)
        for col, title in enumerate(("", "rate", "sync", "shape", "", "depth", "target")):
            grid.addWidget(QtWidgets.QLabel(title), 0, col)
        for n in range(N_LFOS):
            p = ctx.model.params
            if f"/lfo/{n}/rate" not in p:
                break
            row = n + 1
            grid.addWidget(QtWidgets.QLabel(f"LFO {n}"), row, 0)
            preview = ShapePreview()
            self.previews.append(preview)
            widgets = [Fader(ctx, p[f"/lfo/{n}/rate"], "Hz", _HORIZONTAL), Choice(ctx, p[f"/lfo/{n}/sync"]),
                       Choice(ctx, p[f"/lfo/{n}/shape"], on_change=preview.set_shape), preview,
                       Fader(ctx, p[f"/lfo/{n}/depth"], "depth", _HORIZONTAL),
                       Choice(ctx, p[f"/lfo/{n}/target"], targets)]
            for col, widget in enumerate(widgets, start=1):
                grid.addWidget(widget, row, col)
            self.controls += [w for w in widgets if w is not preview]
        layout.addWidget(lfos)
        mods = QtWidgets.QGroupBox("Modulation matrix: an audio feature moves a target")
        grid = QtWidgets.QGridLayout(mods)
        for col, title in enumerate(("", "feature", "target", "depth")):
            grid.addWidget(QtWidgets.QLabel(title), 0, col)
        for n in range(N_MODS):
            p = ctx.model.params
            if f"/mod/{n}/source" not in p:
                break
            grid.addWidget(QtWidgets.QLabel(f"mod {n}"), n + 1, 0)
            widgets = [Choice(ctx, p[f"/mod/{n}/source"]), Choice(ctx, p[f"/mod/{n}/target"], targets),
                       Fader(ctx, p[f"/mod/{n}/depth"], "depth", _HORIZONTAL)]
            for col, widget in enumerate(widgets, start=1):
                grid.addWidget(widget, n + 1, col)
            self.controls += widgets
        layout.addWidget(mods)
        layout.addStretch(1)
        self.lfo_state: list[float] = []

    def on_lfo(self, _address: str, args: list[object]) -> None:
        """`/engine/lfo V0..V3 PHASE0..PHASE3`: kept; drawn on the next refresh."""
        self.lfo_state = [float(a) for a in args]  # type: ignore[arg-type]

    def refresh(self) -> None:
        half = len(self.lfo_state) // 2
        for n, preview in enumerate(self.previews[:half]):
            offset = self.ctx.model.values.get(f"/lfo/{n}/phase", 0.0)
            phase = self.lfo_state[half + n] + float(offset)  # type: ignore[arg-type]
            preview.set_position(phase, self.lfo_state[n])

    def detach(self) -> None:
        for control in self.controls:
            control.detach()  # type: ignore[attr-defined]
