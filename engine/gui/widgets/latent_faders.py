"""Per-dimension latent bias and scale, one pair of faders for every dimension the loaded model has
(as many as `/engine/list` names), in a strip that scrolls sideways for large models."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from engine.gui.context import ConsoleContext
from engine.gui.widgets.fader import Fader


class LatentFaders(QtWidgets.QScrollArea):
    def __init__(self, ctx: ConsoleContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.faders: dict[str, Fader] = {}
        self.setWidgetResizable(True)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        inner = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(inner)
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setHorizontalSpacing(2)
        grid.addWidget(QtWidgets.QLabel("bias"), 0, 0)
        grid.addWidget(QtWidgets.QLabel("scale"), 1, 0)
        for i in range(ctx.model.latent_size()):
            for row, kind in enumerate(("bias", "scale")):
                info = ctx.model.params[f"/rave/latent/{i}/{kind}"]
                fader = Fader(ctx, info, f"z{i}")
                fader.slider.setMinimumHeight(64)
                self.faders[info.address] = fader
                grid.addWidget(fader, row, i + 1)
        self.setWidget(inner)

    def detach(self) -> None:
        for fader in self.faders.values():
            fader.detach()
