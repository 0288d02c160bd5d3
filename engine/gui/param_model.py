"""The engine's parameter table and values as the console knows them, from `/engine/list` and feedback.

The table is whatever `/engine/list` returned last (`/engine/param ADDRESS KIND MIN MAX DEFAULT UNIT
[CHOICES...]`, then `/engine/list/done COUNT`), so per-dimension faders follow the loaded model. It
is read again when the engine comes back, when its status names another model, when the engine says
the table changed (`/engine/list/changed`), and when a value arrives for an address it does not know.
Widgets watch single addresses (`watch`), so a value costs one dict lookup, not a broadcast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6 import QtCore

Value = float | int | str | bool
Watcher = Callable[[Value], None]
CONTINUOUS = ("float",)


@dataclass(frozen=True)
class ParamInfo:
    address: str
    kind: str  # float, int, bool, enum, string
    minimum: float
    maximum: float
    default: Value
    unit: str
    choices: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args: list[object]) -> ParamInfo:
        address, kind, lo, hi, default, unit, *choices = args
        return cls(str(address), str(kind), float(lo), float(hi), default,  # type: ignore[arg-type]
                    str(unit), tuple(str(c) for c in choices))

    @property
    def continuous(self) -> bool:
        return self.kind in CONTINUOUS

    def clamp(self, value: float) -> float:
        return min(max(value, self.minimum), self.maximum)


class ParamModel(QtCore.QObject):
    table_changed = QtCore.Signal()
    listing_wanted = QtCore.Signal()  # the table should be read again (the window asks the link)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.params: dict[str, ParamInfo] = {}
        self.values: dict[str, Value] = {}
        self._incoming: dict[str, ParamInfo] = {}
        self._watchers: dict[str, list[Watcher]] = {}
        self.listing = False
        self.model_name = ""

    # --- the table -------------------------------------------------------------------------
    def begin_listing(self) -> None:
        self.listing = True
        self._incoming = {}

    def on_param(self, _address: str, args: list[object]) -> None:
        if len(args) >= 6:
            info = ParamInfo.from_args(args)
            self._incoming[info.address] = info

    def on_list_done(self, _address: str, _args: list[object]) -> None:
        if not self._incoming:
            return
        changed = set(self._incoming) != set(self.params) or self._incoming != self.params
        self.params, self._incoming, self.listing = self._incoming, {}, False
        for address in list(self.values):
            if address not in self.params:
                del self.values[address]
        if changed:
            self.table_changed.emit()

    def on_status(self, model_name: str) -> None:
        """A status reply's model: another model may have another latent size."""
        if self.model_name and model_name != self.model_name:
            self.listing_wanted.emit()
        self.model_name = model_name

    def addresses(self, prefix: str = "") -> list[str]:
        return [a for a in self.params if a.startswith(prefix)]

    def continuous_addresses(self) -> list[str]:
        return [a for a, p in self.params.items() if p.continuous]

    def latent_size(self) -> int:
        n = 0
        while f"/rave/latent/{n}/bias" in self.params:
            n += 1
        return n

    # --- values ----------------------------------------------------------------------------
    def on_value(self, address: str, args: list[object]) -> None:
        """Feedback (`ADDRESS value`) or a reply to `/engine/get`."""
        if len(args) != 1 or not address.startswith("/"):
            return
        value = args[0]
        if address not in self.params:
            if self.listing or not self.params:
                self.values[address] = value  # type: ignore[assignment]  # kept: the table is on its way
            elif address.startswith("/rave/latent/"):
                self.listing_wanted.emit()  # a model with more dimensions: the table grew
            return
        self.values[address] = value  # type: ignore[assignment]
        for watcher in self._watchers.get(address, ()):
            watcher(value)  # type: ignore[arg-type]

    def value(self, address: str) -> Value | None:
        return self.values.get(address)

    def watch(self, address: str, watcher: Watcher) -> None:
        self._watchers.setdefault(address, []).append(watcher)
        if address in self.values:
            watcher(self.values[address])

    def unwatch(self, address: str, watcher: Watcher) -> None:
        watchers = self._watchers.get(address)
        if watchers and watcher in watchers:
            watchers.remove(watcher)
