"""The engine's health as the performer needs it: connection, CPU, underruns, latency, device, model,
scene, OSC counts, visual frame rate and restarts, and the last errors (`/engine/error`)."""

from __future__ import annotations

import time
from collections import deque

from PySide6 import QtWidgets

from engine.gui.osc_link import OPTIONAL_STREAMS

LAST_ERRORS = 20


class StatusPanel(QtWidgets.QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.connection = QtWidgets.QLabel("connecting...")
        self.connection.setObjectName("connection")
        self.connection.setProperty("state", "waiting")
        self.summary = QtWidgets.QLabel("-")
        self.summary.setWordWrap(True)
        self.errors_view = QtWidgets.QListWidget()
        self.errors_view.setMinimumHeight(60)
        layout.addWidget(self.connection)
        layout.addWidget(self.summary)
        layout.addWidget(QtWidgets.QLabel("last errors"))
        layout.addWidget(self.errors_view, 1)
        self.errors: deque[str] = deque(maxlen=LAST_ERRORS)
        self.reply: list[object] = []
        self.visual_fps = 0.0
        self._frames: tuple[float, int] | None = None
        self.error_count = 0
        self._errors_shown = 0

    def set_connected(self, connected: bool, target: str) -> None:
        state = "up" if connected else "down"
        text = f"engine {target}: connected" if connected else f"engine {target}: NOT RESPONDING, reconnecting..."
        self.connection.setText(text)
        self.connection.setProperty("state", state)
        self.connection.style().unpolish(self.connection)
        self.connection.style().polish(self.connection)

    def on_status(self, _address: str, args: list[object]) -> None:
        self.reply = args
        if len(args) >= 14:
            now, frames = time.monotonic(), int(args[12])  # type: ignore[call-overload]
            if self._frames is not None and now > self._frames[0]:
                self.visual_fps = max(0.0, (frames - self._frames[1]) / (now - self._frames[0]))
            self._frames = (now, frames)

    def on_error(self, _address: str, args: list[object]) -> None:
        if len(args) >= 2 and args[1] in OPTIONAL_STREAMS:
            return  # an engine without that stream refused our subscription: nothing is wrong
        self.errors.append(" ".join(str(a) for a in args)[:200])
        self.error_count += 1

    def refresh(self) -> None:
        a = self.reply
        if len(a) >= 12:
            device = "ok" if a[8] else "AWAY"
            text = (f"CPU {float(a[0]) * 100:.1f}%   underruns {a[1]}   latency {float(a[7]):.1f} ms   "  # type: ignore[arg-type]
                    f"device {device} (outages {a[9]})\nmodel {a[10]}   scene {a[11]}   {a[2]} Hz\n"
                    f"OSC messages {a[3]}   errors {a[4]}   dropped {a[5]}   subscribers {a[6]}")
            if len(a) >= 14:
                text += f"\nvisuals {self.visual_fps:.1f} fps   restarts {a[13]}"
            self.summary.setText(text)
        if self.error_count != self._errors_shown:
            self.errors_view.clear()
            self.errors_view.addItems(list(self.errors)[::-1])
            self._errors_shown = self.error_count
