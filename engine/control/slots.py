"""Pattern-memory slots: saved sets of latent bias/scale values, recalled at once from a pad or program change.

A slot is smaller than a scene (only the per-dimension latent offsets and gains, which shape the
pattern), so flipping slots mid-phrase leaves energy, tempo, LFOs and the mix alone. Slots live in
memory and in `presets/slots/slot_N.toml`, so they survive a restart.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import tomli_w

from engine.errors import PresetError
from engine.params.param import Value
from engine.params.store import ParamStore

SLOTS_DIR = Path(__file__).resolve().parents[2] / "presets" / "slots"
SLOT_ADDRESS = re.compile(r"^/rave/latent/\d+/(bias|scale)$")
MAX_SLOT = 127


class SlotBank:
    def __init__(self, store: ParamStore, directory: Path = SLOTS_DIR) -> None:
        self.store = store
        self.directory = directory
        self._slots: dict[int, dict[str, Value]] = {}

    @property
    def addresses(self) -> tuple[str, ...]:
        """The latent addresses of the playing model's table (it changes with a model's latent size)."""
        return tuple(a for a in self.store.addresses if SLOT_ADDRESS.match(a))

    def values_lost(self, addresses: set[str]) -> dict[int, list[str]]:
        """Per slot in memory, which of `addresses` (dimensions a new model lacks) it holds away from
        their defaults: values a recall can no longer set."""
        lost: dict[int, list[str]] = {}
        for slot, values in sorted(self._slots.items()):
            gone = [a for a in values if a in addresses and values[a] != (1.0 if a.endswith("/scale") else 0.0)]
            if gone:
                lost[slot] = gone
        return lost

    def _path(self, slot: int) -> Path:
        if not 0 <= slot <= MAX_SLOT:
            raise PresetError(f"slot {slot} is out of range 0..{MAX_SLOT}")
        return self.directory / f"slot_{slot}.toml"

    def save(self, slot: int) -> Path:
        path = self._path(slot)
        values = self.store.snapshot().values
        self._slots[slot] = {a: values[a] for a in self.addresses}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(tomli_w.dumps({"slot": slot, "params": self._slots[slot]}))
        except OSError as exc:  # kept in memory all the same: recall still works until a restart
            raise PresetError(f"slot {slot}: cannot write {path}: {exc.strerror or exc}") from None
        return path

    def get(self, slot: int) -> dict[str, Value]:
        """A slot's values (from memory, else its file); PresetError when empty or malformed."""
        if slot in self._slots:
            return self._slots[slot]
        path = self._path(slot)
        if not path.is_file():
            raise PresetError(f"slot {slot} is empty (no {path})")
        try:
            params = tomllib.loads(path.read_text())["params"]
            values = {a: self.store.validate(a, v) for a, v in params.items() if a in self.addresses}
        except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise PresetError(f"{path}: params: {exc}") from None
        self._slots[slot] = values
        return values

    def recall(self, slot: int) -> dict[str, Value]:
        values = {a: v for a, v in self.get(slot).items() if a in self.store}  # saved with a larger model
        self.store.set_many(values)
        return values
