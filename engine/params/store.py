"""The parameter store: writers validate and publish, readers take immutable snapshots.

Readers (decoder thread, visuals, feedback) never lock: `snapshot()` returns the current
`Snapshot` object, which is replaced whole on every write (one reference swap, atomic in
CPython). Writers serialise among themselves with a lock so no write is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from engine.errors import ParamError
from engine.params.param import Kind, Param, Value


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every parameter value at one moment; `continuous` holds the float ones in table order."""

    version: int
    values: Mapping[str, Value]
    continuous: np.ndarray

    def __getitem__(self, address: str) -> Value:
        return self.values[address]


class ParamStore:
    def __init__(self, params: Iterable[Param],
                 validators: Mapping[str, Callable[[Value], None]] | None = None) -> None:
        """`validators`: extra checks per address that need more than the table (a theme name must
        name a loadable theme); each raises ParamError, and the write changes nothing."""
        self._set_table(params)
        self._validators = dict(validators or {})
        self._write_lock = threading.Lock()
        values = {a: p.default for a, p in self._params.items()}
        self._snapshot = self._publish(0, values)

    def _set_table(self, params: Iterable[Param]) -> None:
        """Every table-derived attribute, each bound to a new object: a reader that took one (a render
        graph's indices) keeps a consistent old one when the table changes."""
        table: dict[str, Param] = {}
        for param in params:
            if param.address in table:
                raise ValueError(f"duplicate parameter address {param.address}")
            table[param.address] = param
        self._params = table
        self.continuous_addresses: tuple[str, ...] = tuple(a for a, p in table.items() if p.continuous)
        self.continuous_index: dict[str, int] = {a: i for i, a in enumerate(self.continuous_addresses)}
        # Ranges of the continuous values, in `continuous` order: modulators clip to them.
        self.continuous_minimum = np.array([table[a].minimum for a in self.continuous_addresses], dtype=np.float64)
        self.continuous_maximum = np.array([table[a].maximum for a in self.continuous_addresses], dtype=np.float64)
        self.continuous_minimum.flags.writeable = self.continuous_maximum.flags.writeable = False

    def retable(self, params: Iterable[Param]) -> dict[str, Value]:
        """Switch to another table (a model with another latent size): values of the addresses both
        tables share carry over, new ones start at their defaults, all in one new snapshot. Returns
        what could not carry over: each vanished address with its value, and each `*/target` whose
        address vanished (reset to empty). Readers that cached indices must be rebuilt for the new table."""
        with self._write_lock:
            old = self._snapshot.values
            self._set_table(params)
            values = {a: old.get(a, p.default) for a, p in self._params.items()}
            lost = {a: v for a, v in old.items() if a not in self._params}
            for address, value in values.items():
                if address.endswith("/target") and value and value not in self._params:
                    lost[address] = value
                    values[address] = self._params[address].default
            self._snapshot = self._publish(self._snapshot.version + 1, values)
        return lost

    # --- reading -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def get(self, address: str) -> Value:
        return self._snapshot.values[self.param(address).address]

    def param(self, address: str) -> Param:
        try:
            return self._params[address]
        except KeyError:
            raise ParamError(f"unknown address {address!r}") from None

    def __contains__(self, address: object) -> bool:
        return address in self._params

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params.values())

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(self._params)

    # --- writing -------------------------------------------------------------------------
    def set(self, address: str, value: object) -> Value:
        """Validate and write one value; returns what was stored (after clamping)."""
        return self.set_many({address: value})[address]

    def set_many(self, changes: Mapping[str, object]) -> dict[str, Value]:
        """Validate every change first, then publish them in one snapshot: all or nothing."""
        coerced = {address: self.validate(address, value) for address, value in changes.items()}
        with self._write_lock:
            values = dict(self._snapshot.values)
            for address, value in coerced.items():  # a trigger counts presses: non-zero fires once more,
                if self._params[address].is_trigger:  # 0 (a button's release) fires nothing
                    coerced[address] = int(values[address]) + (1 if value else 0)
            values.update(coerced)
            self._snapshot = self._publish(self._snapshot.version + 1, values)
        return coerced

    def parse(self, address: str, text: str) -> Value:
        return self.param(address).parse(text)

    def validate(self, address: str, value: object) -> Value:
        param = self.param(address)
        coerced = param.coerce(value)
        if param.kind is Kind.STRING and address.endswith("/target") and coerced:
            target = self._params.get(str(coerced))
            if target is None or not target.continuous:
                raise ParamError(f"{address}: {coerced!r} is not the address of a continuous parameter")
        check = self._validators.get(address)
        if check is not None:
            check(coerced)
        return coerced

    def _publish(self, version: int, values: dict[str, Value]) -> Snapshot:
        vector = np.array([values[a] for a in self.continuous_addresses], dtype=np.float64)
        vector.flags.writeable = False
        return Snapshot(version, MappingProxyType(values), vector)


class FrozenStore:
    """One snapshot standing in for a store: what a graph fading out reads once the live store has
    moved to a table it was not built for (its indices would not fit the new snapshots)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def get(self, address: str) -> Value:
        return self._snapshot.values[address]


def parse_sets(store: ParamStore, sets: Sequence[str]) -> dict[str, Value]:
    """`ADDRESS=VALUE` pairs from the command line, parsed per parameter type."""
    values: dict[str, Value] = {}
    for item in sets:
        address, sep, text = item.partition("=")
        if not sep:
            raise ParamError(f"--set {item!r}: expected ADDRESS=VALUE, e.g. /rave/energy=1.5")
        values[address.strip()] = store.parse(address.strip(), text.strip())
    return values
