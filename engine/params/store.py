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
        self._params: dict[str, Param] = {}
        for param in params:
            if param.address in self._params:
                raise ValueError(f"duplicate parameter address {param.address}")
            self._params[param.address] = param
        self.continuous_addresses: tuple[str, ...] = tuple(a for a, p in self._params.items() if p.continuous)
        self.continuous_index: dict[str, int] = {a: i for i, a in enumerate(self.continuous_addresses)}
        # Ranges of the continuous values, in `continuous` order: modulators clip to them.
        self.continuous_minimum = np.array([self._params[a].minimum for a in self.continuous_addresses], dtype=np.float64)
        self.continuous_maximum = np.array([self._params[a].maximum for a in self.continuous_addresses], dtype=np.float64)
        self.continuous_minimum.flags.writeable = self.continuous_maximum.flags.writeable = False
        self._validators = dict(validators or {})
        self._write_lock = threading.Lock()
        values = {a: p.default for a, p in self._params.items()}
        self._snapshot = self._publish(0, values)

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


def parse_sets(store: ParamStore, sets: Sequence[str]) -> dict[str, Value]:
    """`ADDRESS=VALUE` pairs from the command line, parsed per parameter type."""
    values: dict[str, Value] = {}
    for item in sets:
        address, sep, text = item.partition("=")
        if not sep:
            raise ParamError(f"--set {item!r}: expected ADDRESS=VALUE, e.g. /rave/energy=1.5")
        values[address.strip()] = store.parse(address.strip(), text.strip())
    return values
