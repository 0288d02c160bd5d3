"""OSC controller-map routes: a controller's own addresses (TouchOSC `/1/fader1`, 0..1) -> parameters.

A source with an index suffix names one argument of a multi-value control: TouchOSC's `/1/xy1`
sends two floats, mapped by `source = "/1/xy1/0"` (x) and `source = "/1/xy1/1"` (y). Indices
count from 0, and a `BASE/0` row marks BASE as multi-value; without one, `/1/multifader1/3` is an
address of its own. Feedback goes back the same way: `/1/xy1 X Y` with both positions.

Soft takeover (MIDI habit, used for OSC too): a control that does not show the parameter's value
is ignored until it passes within 3 % of travel of it, so grabbing a fader never makes the value jump.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from engine.params.param import Kind, Param, Value
from engine.params.store import ParamStore
from engine.presets.controller_maps import TAKEOVER_WINDOW, Mapping, load_controller_map

log = logging.getLogger(__name__)


def value_of(mapping: Mapping, param: Param, x: float) -> Value:
    """A control position (0..1) as the parameter's value."""
    if param.kind is Kind.BOOL:
        return mapping.shape(x) >= 0.5
    if param.kind is Kind.ENUM:
        n = len(param.choices)
        return param.choices[min(n - 1, round(mapping.shape(x) * (n - 1)))]
    assert param.minimum is not None and param.maximum is not None
    value = mapping.to_value(x, param.minimum, param.maximum)
    return round(value) if param.kind is Kind.INT else value


def position_of(mapping: Mapping, param: Param, value: Value) -> float | None:
    """Where the control must sit to show `value`; None for text parameters."""
    if param.kind is Kind.BOOL:
        return mapping.unshape(1.0 if value else 0.0)
    if param.kind is Kind.ENUM:
        n = len(param.choices)
        return mapping.unshape(param.choices.index(str(value)) / max(1, n - 1))
    if param.kind is Kind.STRING or param.minimum is None or param.maximum is None:
        return None
    return min(max(mapping.to_position(float(value), param.minimum, param.maximum), 0.0), 1.0)


@dataclass
class _Takeover:
    caught: bool = False
    last_x: float | None = None
    written: tuple[float, float] = field(default=(0.0, 0.0))  # positions of the two last writes


@dataclass
class OscRoutes:
    """Sources (exact, or `BASE/INDEX`) -> Mapping, with the soft-takeover state per source."""

    name: str
    routes: dict[str, Mapping]
    bases: dict[str, int]  # BASE -> number of indexed sources under it (xy pads)
    _takeover: dict[str, _Takeover] = field(default_factory=dict)

    @classmethod
    def load(cls, name: str, store: ParamStore) -> OscRoutes:
        """Load a map's `[[osc]]` rows; rows naming parameters this model lacks (latent dimensions
        beyond its size) are skipped with a warning, so one map serves every model."""
        cmap = load_controller_map(name)
        routes: dict[str, Mapping] = {}
        for source, mapping in cmap.osc.items():
            if not mapping.is_action and mapping.address not in store:
                log.warning("controller map %s: %s -> %s skipped: no such parameter for this model",
                            cmap.name, source, mapping.address)
                continue
            routes[source] = mapping
        return cls.from_routes(cmap.name, routes)

    @classmethod
    def from_routes(cls, name: str, routes: dict[str, Mapping]) -> OscRoutes:
        bases: dict[str, int] = {}
        for source in routes:
            base, _, index = source.rpartition("/")
            # Argument indices count from 0; 1-based names (TouchOSC's /1/multifader1/1..8) are addresses.
            if index.isdigit() and base and base not in routes and f"{base}/0" in routes:
                bases[base] = max(bases.get(base, 0), int(index) + 1)
        return cls(name, routes, bases)

    def handles(self, address: str) -> bool:
        return address in self.routes or address in self.bases

    def sources(self, address: str, n_args: int) -> list[str]:
        """The mapped sources one message's arguments feed, one per argument."""
        if address in self.routes:
            return [address]
        return [f"{address}/{i}" for i in range(n_args)]

    def accept(self, source: str, mapping: Mapping, x: float, current_pos: float | None) -> bool:
        """Soft takeover: True when the control may write (always, for maps without soft_takeover)."""
        if not mapping.soft_takeover or current_pos is None:
            return True
        state = self._takeover.setdefault(source, _Takeover())
        lo, hi = sorted(state.written)
        if state.caught and not lo - TAKEOVER_WINDOW <= current_pos <= hi + TAKEOVER_WINDOW:
            state.caught = False  # moved by something else (scene, MIDI, another client)
        if not state.caught:
            crossed = state.last_x is not None and (state.last_x - current_pos) * (x - current_pos) <= 0
            state.caught = crossed or abs(x - current_pos) <= TAKEOVER_WINDOW
            if state.caught:
                state.written = (current_pos, current_pos)
        state.last_x = x
        return state.caught

    def wrote(self, source: str, position: float) -> None:
        state = self._takeover.get(source)
        if state is not None:
            state.written = (state.written[1], position)

    def feedback(self, changed: dict[str, Value], store: ParamStore) -> list[tuple[str, list[float]]]:
        """(source address, positions) for every control showing a changed parameter."""
        out: dict[str, list[float]] = {}
        for source, mapping in self.routes.items():
            if mapping.is_action or mapping.address not in changed:
                continue
            base, _, index = source.rpartition("/")
            if base in self.bases:
                out[base] = self._positions(base, store)
            else:
                pos = position_of(mapping, store.param(mapping.address), changed[mapping.address])
                if pos is not None:
                    out[source] = [pos]
        return list(out.items())

    def _positions(self, base: str, store: ParamStore) -> list[float]:
        positions = []
        for i in range(self.bases[base]):
            mapping = self.routes.get(f"{base}/{i}")
            pos = None
            if mapping is not None and not mapping.is_action and mapping.address in store:  # a swap may take one
                pos = position_of(mapping, store.param(mapping.address), store.get(mapping.address))
            positions.append(0.0 if pos is None else pos)
        return positions
