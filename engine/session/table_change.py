"""A model swap across latent sizes: the per-dimension addresses follow the playing model.

The table grows or shrinks (`/rave/latent/<i>/bias|scale` for every dimension the new model has);
values of the dimensions both models share carry over, new ones start at their defaults. What cannot
carry over is listed, never dropped in silence: non-default values of vanished dimensions, LFO and
modulation targets that named them, pattern-memory slots holding them, and controller mappings to
them. The session sends the list to OSC subscribers (`/engine/params_changed`, `/engine/params_lost`)
and logs one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.params.param import Value
from engine.params.store import FrozenStore, ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph

LATENT_ADDRESS = re.compile(r"^/rave/latent/(\d+)/(bias|scale)$")
MAX_LOST_LINES = 64  # what a subscriber is sent; the count says how many there were


@dataclass(frozen=True)
class TableChange:
    old_size: int
    new_size: int
    params: int  # addresses in the new table
    vanished: frozenset[str]  # addresses the new table lacks
    lost: tuple[tuple[str, str], ...]  # (address, what was lost) for values that did not carry over

    def with_lost(self, more: Iterable[tuple[str, str]]) -> TableChange:
        return TableChange(self.old_size, self.new_size, self.params, self.vanished, (*self.lost, *more))

    def summary(self) -> str:
        head = f"latent size {self.old_size} -> {self.new_size} ({self.params} addresses)"
        if not self.lost:
            return f"{head}; every value carried over"
        shown = ", ".join(f"{a} ({why})" for a, why in self.lost[:6])
        more = f" and {len(self.lost) - 6} more" if len(self.lost) > 6 else ""
        return f"{head}; not carried over: {shown}{more}"


def _is_default(address: str, value: Value) -> bool:
    match = LATENT_ADDRESS.match(address)
    return match is not None and float(value) == (1.0 if match.group(2) == "scale" else 0.0)


def commit_table(store: ParamStore, playing: RenderGraph, incoming: RenderGraph) -> TableChange:
    """Switch the live store to `incoming`'s table (built on a staging store of that table).

    The playing graph reads a frozen copy of the last snapshot from here on, for the fade-out its
    indices were built for; the incoming graph reads the live store, whose new table gives it the
    same indices as its staging store. Runs on the swap thread, just before `decoder.swap`."""
    new_size = incoming.shaper.latent_size
    old_size = playing.shaper.latent_size
    before = set(store.addresses)
    playing.store = FrozenStore(store.snapshot())  # type: ignore[assignment]
    lost_values = store.retable(build_param_table(new_size))
    incoming.store = store
    vanished = frozenset(before - set(store.addresses))
    lost = tuple((a, f"value {v}") for a, v in lost_values.items()
                 if a in vanished and not _is_default(a, v))
    lost += tuple((a, f"target {v} vanished, reset") for a, v in lost_values.items() if a not in vanished)
    return TableChange(old_size, new_size, len(store.addresses), vanished, lost)
