"""A drop-down for an enum parameter, or for a text parameter whose useful values are known
(an LFO or modulation target: any continuous address; a theme; a model file)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6 import QtWidgets

from engine.gui.context import ConsoleContext
from engine.gui.param_model import ParamInfo, Value
from engine.gui.widgets.control_menu import attach_control_menu


class Choice(QtWidgets.QComboBox):
    def __init__(self, ctx: ConsoleContext, info: ParamInfo, choices: Sequence[str] | None = None,
                 on_change: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.info = info
        self.address = info.address
        self.on_change = on_change
        self.setMinimumHeight(36)
        self.setToolTip(f"{info.address}; right-click for more")
        self._showing = False
        self.set_choices(choices if choices is not None else info.choices)
        self.currentTextChanged.connect(self._picked)
        attach_control_menu(self, ctx, info.address)
        ctx.model.watch(info.address, self.show_value)

    def detach(self) -> None:
        self.ctx.model.unwatch(self.address, self.show_value)

    def set_choices(self, choices: Sequence[str]) -> None:
        current = self.currentText()
        self._showing = True
        try:
            self.clear()
            self.addItems(list(choices))
            if current:
                self._select(current)
        finally:
            self._showing = False

    def _select(self, text: str) -> None:
        index = self.findText(text)
        if index < 0 and text:
            self.addItem(text)  # a value the engine has that the list lacked (a model outside models/)
            index = self.count() - 1
        self.setCurrentIndex(index)

    def _picked(self, text: str) -> None:
        if self._showing:
            return
        self.ctx.write(self.address, text)
        if self.on_change is not None:
            self.on_change(text)

    def show_value(self, value: Value) -> None:
        self._showing = True
        try:
            self._select(str(value))
        finally:
            self._showing = False
        if self.on_change is not None:
            self.on_change(str(value))
