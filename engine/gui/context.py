"""What every widget of the console needs: the parameter model, a way to write, and a place to say things."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.gui.osc_link import EngineLink
from engine.gui.param_model import ParamModel, Value


@dataclass
class ConsoleContext:
    model: ParamModel
    link: EngineLink
    notify: Callable[[str], None] = print  # the window's status bar

    def write(self, address: str, value: Value) -> None:
        """Set a parameter on the engine; the model shows it at once, feedback confirms it."""
        self.link.send(address, value)
        self.model.values[address] = value

    def command(self, address: str, *args: object) -> None:
        self.link.send(address, *args)
