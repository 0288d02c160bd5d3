"""The beat: BPM, phase (a sweeping bar), confidence, a flash on each beat and each onset."""

from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from engine.analysis.features import FEATURE_NAMES

FLASH_SECONDS = 0.12


class BeatView(QtWidgets.QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setMinimumSize(180, 70)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)  # we paint every pixel
        self._drawn: tuple[object, ...] = ()
        self.names: tuple[str, ...] = FEATURE_NAMES  # replaced by the engine's `/analysis/names`
        self.bpm = 0.0
        self.phase = 0.0
        self.confidence = 0.0
        self.level = 0.0
        self.beat_at = 0.0
        self.onset_at = 0.0
        self.beats = 0
        self.onsets = 0
        self.received = 0

    def on_names(self, _address: str, args: list[object]) -> None:
        self.names = tuple(str(a) for a in args)

    def on_features(self, _address: str, args: list[object]) -> None:
        row = dict(zip(self.names, args, strict=False))
        self.phase = float(row.get("beat_phase", 0.0))  # type: ignore[arg-type]
        self.confidence = float(row.get("beat_confidence", 0.0))  # type: ignore[arg-type]
        self.bpm = float(row.get("bpm", 0.0))  # type: ignore[arg-type]
        self.level = float(row.get("level", 0.0))  # type: ignore[arg-type]
        self.received += 1

    def on_beat(self, _address: str, args: list[object]) -> None:
        self.beat_at = time.monotonic()
        self.beats += 1

    def on_onset(self, _address: str, args: list[object]) -> None:
        self.onset_at = time.monotonic()
        self.onsets += 1

    def refresh(self) -> None:
        now = time.monotonic()
        state = (round(self.bpm, 1), round(self.confidence, 2), round(self.phase * 20) / 20,
                 now - self.beat_at < FLASH_SECONDS, now - self.onset_at < FLASH_SECONDS)
        if state != self._drawn:  # repaint only what a viewer could tell apart
            self._drawn = state
            self.update()

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = QtGui.QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QtGui.QColor(22, 22, 28))
        now = time.monotonic()
        p.setPen(QtGui.QColor(235, 235, 235))
        font = p.font()
        font.setPointSize(16)
        font.setBold(True)
        p.setFont(font)
        p.drawText(QtCore.QRectF(0, 0, w * 0.5, h * 0.6), QtCore.Qt.AlignmentFlag.AlignCenter,
                   f"{self.bpm:.1f} BPM" if self.bpm > 0 else "- BPM")
        font.setPointSize(9)
        font.setBold(False)
        p.setFont(font)
        p.drawText(QtCore.QRectF(0, h * 0.55, w * 0.5, h * 0.2), QtCore.Qt.AlignmentFlag.AlignCenter,
                   f"confidence {self.confidence:.2f}")
        for k, (label, at) in enumerate((("BEAT", self.beat_at), ("ONSET", self.onset_at))):
            lit = now - at < FLASH_SECONDS
            rect = QtCore.QRectF(w * (0.52 + 0.24 * k), 4, w * 0.22, h * 0.55)
            p.fillRect(rect, QtGui.QColor(250, 200, 60) if lit else QtGui.QColor(45, 45, 55))
            p.setPen(QtGui.QColor(20, 20, 20) if lit else QtGui.QColor(160, 160, 170))
            p.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, label)
        bar = QtCore.QRectF(4, h * 0.8, w - 8, h * 0.15)
        p.fillRect(bar, QtGui.QColor(40, 40, 48))
        p.fillRect(QtCore.QRectF(bar.x(), bar.y(), bar.width() * min(max(self.phase, 0.0), 1.0), bar.height()),
                   QtGui.QColor(90, 170, 250))
        p.end()
