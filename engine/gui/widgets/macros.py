"""The macros a performer reaches for first: energy, chaos, texture, style, walk, tempo (with tap),
and the master's loudness, ceiling and trim."""

from __future__ import annotations

from PySide6 import QtWidgets

from engine.control.tap_tempo import TapTempo
from engine.gui.context import ConsoleContext
from engine.gui.widgets.fader import Fader

MACROS = (("/rave/energy", "energy"), ("/rave/chaos", "chaos"), ("/rave/texture", "texture"),
          ("/rave/style", "style"), ("/rave/walk_speed", "walk"), ("/tempo/bpm", "tempo"))
MASTER = (("/master/loudness", "loudness"), ("/master/ceiling", "ceiling"), ("/master/gain_db", "trim"))


class MacroPanel(QtWidgets.QWidget):
    def __init__(self, ctx: ConsoleContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.faders: dict[str, Fader] = {}
        self.tapper = TapTempo()
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for group, items in (("Macros", MACROS), ("Master", MASTER)):
            box = QtWidgets.QGroupBox(group)
            row = QtWidgets.QHBoxLayout(box)
            for address, label in items:
                info = ctx.model.params.get(address)
                if info is None:
                    continue
                fader = Fader(ctx, info, label)
                self.faders[address] = fader
                row.addWidget(fader)
                if address == "/tempo/bpm":
                    self.tap_button = QtWidgets.QPushButton("TAP\n(space)")
                    self.tap_button.setMinimumSize(64, 64)
                    self.tap_button.clicked.connect(self.tap)
                    row.addWidget(self.tap_button)
            layout.addWidget(box, len(items))

    def tap(self) -> None:
        bpm = self.tapper.tap()
        info = self.ctx.model.params.get("/tempo/bpm")
        if bpm is not None and info is not None:
            bpm = info.clamp(bpm)
            self.ctx.write("/tempo/bpm", bpm)
            self.faders["/tempo/bpm"].show_value(bpm)
            self.ctx.notify(f"tap tempo {bpm:.1f} bpm")

    def detach(self) -> None:
        for fader in self.faders.values():
            fader.detach()
