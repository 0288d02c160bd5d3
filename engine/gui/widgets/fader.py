"""A fader for one continuous (or int) parameter: large enough to hit on stage, two-way.

The slider runs 0..STEPS over the parameter's range. A drag (or the keyboard, or the wheel) writes to
the engine; values from the engine (another client, MIDI, a scene morph) move it, except while the
performer holds it, so the fader never fights the hand.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from engine.gui.context import ConsoleContext
from engine.gui.param_model import ParamInfo, Value
from engine.gui.widgets.control_menu import attach_control_menu

STEPS = 1000
FADER_WIDTH = 56
FADER_HEIGHT = 120


SHORT_UNITS = {"LUFS": "", "dBTP": "", "bpm": "", "cycle": "", "-": "", "trigger": ""}


def format_value(value: float, unit: str) -> str:
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    unit = SHORT_UNITS.get(unit, unit)
    return f"{text} {unit}" if unit else text


class Fader(QtWidgets.QWidget):
    def __init__(self, ctx: ConsoleContext, info: ParamInfo, label: str | None = None,
                 orientation: QtCore.Qt.Orientation = QtCore.Qt.Orientation.Vertical) -> None:
        super().__init__()
        self.ctx = ctx
        self.info = info
        self.address = info.address
        self.setObjectName("fader")
        self.setToolTip(f"{info.address} ({info.minimum:g}..{info.maximum:g} {info.unit}); right-click for more")
        vertical = orientation == QtCore.Qt.Orientation.Vertical
        layout = QtWidgets.QVBoxLayout(self) if vertical else QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        self.title = QtWidgets.QLabel(label or info.address.rsplit("/", 1)[-1])
        self.title.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.slider = QtWidgets.QSlider(orientation)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(STEPS // 10)
        if vertical:
            self.slider.setMinimumSize(FADER_WIDTH - 8, FADER_HEIGHT)
            self.setMinimumWidth(FADER_WIDTH)
        else:
            self.slider.setMinimumSize(80, 32)
            self.title.setMinimumWidth(36)
        self.readout = QtWidgets.QLabel("-")
        self.readout.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.readout.setMinimumWidth(52)
        for widget in (self.title, self.slider, self.readout):
            layout.addWidget(widget, 1 if widget is self.slider else 0)
        self.slider.valueChanged.connect(self._moved)
        attach_control_menu(self, ctx, info.address)
        attach_control_menu(self.slider, ctx, info.address)
        self._showing = False
        self.value: float = float(info.default)  # type: ignore[arg-type]
        self.show_value(info.default)
        ctx.model.watch(info.address, self._from_engine)

    def detach(self) -> None:
        self.ctx.model.unwatch(self.address, self._from_engine)

    # --- positions -------------------------------------------------------------------------
    def position_of(self, value: float) -> int:
        span = self.info.maximum - self.info.minimum
        return 0 if span <= 0 else round((self.info.clamp(value) - self.info.minimum) / span * STEPS)

    def value_at(self, position: int) -> float:
        value = self.info.minimum + position / STEPS * (self.info.maximum - self.info.minimum)
        return float(round(value)) if self.info.kind == "int" else value

    # --- both ways -------------------------------------------------------------------------
    def _moved(self, position: int) -> None:
        if self._showing:
            return
        self.value = self.value_at(position)
        self.readout.setText(format_value(self.value, self.info.unit))
        self.ctx.write(self.address, int(self.value) if self.info.kind == "int" else self.value)

    def _from_engine(self, value: Value) -> None:
        if self.slider.isSliderDown():
            return  # the hand wins while it holds the fader
        self.show_value(value)

    def show_value(self, value: Value) -> None:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        self.value = number
        self._showing = True
        try:
            self.slider.setValue(self.position_of(number))
        finally:
            self._showing = False
        self.readout.setText(format_value(number, self.info.unit))
