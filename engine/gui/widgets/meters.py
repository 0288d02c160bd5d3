"""The master meters (`/engine/meters`): sample and true peak, short-term loudness, gain reduction."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

FLOOR_DB = -60.0
# (label, index in /engine/meters, floor, top, warn above)
BARS = (("peak", 0, FLOOR_DB, 0.0, -1.0), ("TP", 1, FLOOR_DB, 0.0, -1.0),
        ("LUFS-S", 2, -40.0, 0.0, -9.0), ("GR", 4, 0.0, 12.0, 6.0))


class MeterBars(QtWidgets.QWidget):
    """Vertical bars drawn with QPainter: cheaper at 30 fps than a plot per bar."""

    def __init__(self) -> None:
        super().__init__()
        self.values = [FLOOR_DB, FLOOR_DB, -120.0, -120.0, 0.0]
        self.setMinimumSize(180, 130)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)  # we paint every pixel
        self.received = 0
        self._drawn = -1

    def on_meters(self, _address: str, args: list[object]) -> None:
        if len(args) >= 5:
            self.values = [float(a) for a in args[:5]]  # type: ignore[arg-type]
            self.received += 1

    def refresh(self) -> None:
        if self.received != self._drawn:  # ten meter messages a second: no repaint in between
            self._drawn = self.received
            self.update()

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = QtGui.QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QtGui.QColor(22, 22, 28))
        n = len(BARS)
        slot = w / n
        text_h = 18
        for k, (label, index, lo, hi, warn) in enumerate(BARS):
            value = self.values[index]
            if label == "GR":
                value = abs(value)
            frac = min(max((value - lo) / (hi - lo), 0.0), 1.0)
            x = int(k * slot + slot * 0.2)
            bw = int(slot * 0.6)
            bar_h = h - 2 * text_h
            p.fillRect(x, text_h, bw, bar_h, QtGui.QColor(40, 40, 48))
            colour = QtGui.QColor(230, 70, 60) if value > warn else QtGui.QColor(70, 200, 120)
            fill = int(bar_h * frac)
            p.fillRect(x, text_h + bar_h - fill, bw, fill, colour)
            p.setPen(QtGui.QColor(220, 220, 220))
            p.drawText(QtCore.QRectF(k * slot, 0, slot, text_h), QtCore.Qt.AlignmentFlag.AlignCenter, label)
            shown = "-inf" if value <= -119 else f"{value:.1f}"
            p.drawText(QtCore.QRectF(k * slot, h - text_h, slot, text_h), QtCore.Qt.AlignmentFlag.AlignCenter,
                       shown)
        p.end()
