"""Controller maps: `presets/controllers/*.toml` turn a controller's messages into parameter writes.

```toml
name = "Generic 16 faders"

[[midi]]
type = "cc"                # cc | cc14 | nrpn | note | program
channel = 1                # 1..16
number = 0                 # CC / NRPN / note number (cc14: the MSB controller, LSB is number + 32)
address = "/rave/energy"
min = 0.3                  # optional: range inside the parameter's own (default: the whole range)
max = 2.0
curve = "exponential"      # linear | exponential | logarithmic | stepped
steps = 4                  # stepped only
invert = false
smoothing_ms = 0           # extra glide on top of the parameter's own smoothing
soft_takeover = true       # ignore the fader until it reaches the current value

[[osc]]
source = "/1/fader1"       # an address a controller sends (TouchOSC), values 0..1
address = "/rave/energy"
```

A mapping's `address` can also be an action (engine/control/actions.py): `scene:NAME`, `slot:N`,
`slot_save:N`, `beat:ACTION`, `theme:NAME`. Actions fire on a press: note on, CC past half way,
program change, an OSC button at 0.5 or more.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.control.actions import Action, is_action_text, parse_action
from engine.errors import ParamError, PresetError
from engine.presets.toml_file import read_toml

CONTROLLERS_DIR = Path(__file__).resolve().parents[2] / "presets" / "controllers"
DEFAULT_MIDI_MAP = "generic16"
CURVE_K = 4.0  # bend of the exponential/logarithmic curves
TAKEOVER_WINDOW = 0.03  # a fader "catches" the value within 3 % of travel
_LATENT = re.compile(r"^/rave/latent/\d+/")

Curve = Literal["linear", "exponential", "logarithmic", "stepped"]


class _Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    curve: Curve = "linear"
    steps: int = Field(default=2, ge=2, le=128)
    invert: bool = False
    smoothing_ms: float = Field(default=0.0, ge=0.0, le=10000.0)
    soft_takeover: bool = False

    @model_validator(mode="after")
    def _action_known(self) -> _Mapping:
        if self.min is not None and self.max is not None and self.min == self.max:
            raise ValueError(f"min and max are both {self.min}: the control would do nothing")
        if not is_action_text(self.address):
            if not self.address.startswith("/"):
                raise ValueError(f"address {self.address!r} must start with / (or be an action such as scene:NAME)")
            return self
        try:
            parse_action(self.address)
        except ParamError as exc:
            raise ValueError(str(exc)) from None  # pydantic adds the file and the key
        return self


class _MidiMapping(_Mapping):
    type: Literal["cc", "cc14", "nrpn", "note", "program"] = "cc"
    channel: int = Field(default=1, ge=1, le=16)
    number: int = Field(default=0, ge=0, le=16383)

    @model_validator(mode="after")
    def _number_fits(self) -> _MidiMapping:
        limit = 16383 if self.type == "nrpn" else 127
        if self.number > limit:
            raise ValueError(f"number {self.number} is out of range 0..{limit} for type {self.type}")
        if self.type == "cc14" and self.number > 31:
            raise ValueError(f"cc14 MSB controller must be 0..31 (LSB is number + 32), got {self.number}")
        return self


class _OscMapping(_Mapping):
    source: str


class _MapFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    midi: list[_MidiMapping] = Field(default_factory=list)
    osc: list[_OscMapping] = Field(default_factory=list)


@dataclass(frozen=True)
class Mapping:
    """How one control's normalised position (0..1) becomes a value, and back for feedback."""

    address: str
    lo: float | None
    hi: float | None
    curve: str = "linear"
    steps: int = 2
    invert: bool = False
    smoothing_ms: float = 0.0
    soft_takeover: bool = False
    action: Action | None = field(default=None, init=False, compare=False, repr=False)  # from `address`

    def __post_init__(self) -> None:
        # Parsed once here, so a press runs a checked Action; ParamError for a bad one.
        object.__setattr__(self, "action", parse_action(self.address) if is_action_text(self.address) else None)

    @property
    def is_action(self) -> bool:
        return self.action is not None

    def shape(self, x: float) -> float:
        """Normalised control position -> normalised parameter position, both 0..1."""
        x = min(max(x, 0.0), 1.0)
        if self.invert:
            x = 1.0 - x
        if self.curve == "exponential":
            return math.expm1(CURVE_K * x) / math.expm1(CURVE_K)
        if self.curve == "logarithmic":
            return math.log1p(x * math.expm1(CURVE_K)) / CURVE_K
        if self.curve == "stepped":
            return round(x * (self.steps - 1)) / (self.steps - 1)
        return x

    def unshape(self, y: float) -> float:
        """The inverse of `shape`: where the control must sit to show parameter position `y`."""
        y = min(max(y, 0.0), 1.0)
        if self.curve == "exponential":
            x = math.log1p(y * math.expm1(CURVE_K)) / CURVE_K
        elif self.curve == "logarithmic":
            x = math.expm1(CURVE_K * y) / math.expm1(CURVE_K)
        else:
            x = y
        return 1.0 - x if self.invert else x

    def to_value(self, x: float, lo: float, hi: float) -> float:
        """Map a control position onto [lo, hi] (the mapping's range, else the parameter's)."""
        lo = self.lo if self.lo is not None else lo
        hi = self.hi if self.hi is not None else hi
        return lo + (hi - lo) * self.shape(x)

    def to_position(self, value: float, lo: float, hi: float) -> float:
        lo = self.lo if self.lo is not None else lo
        hi = self.hi if self.hi is not None else hi
        return self.unshape((value - lo) / (hi - lo) if hi != lo else 0.0)


MidiKey = tuple[str, int, int]  # (type, channel 1..16, number)


@dataclass(frozen=True)
class ControllerMap:
    name: str
    path: Path | None
    midi: dict[MidiKey, Mapping]
    osc: dict[str, Mapping]


def _mapping(raw: _Mapping) -> Mapping:
    return Mapping(raw.address, raw.min, raw.max, raw.curve, raw.steps, raw.invert, raw.smoothing_ms,
                   raw.soft_takeover)


def find_controller_map(name: str, directory: Path = CONTROLLERS_DIR) -> Path:
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        return path
    candidate = directory / f"{name}.toml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in directory.glob("*.toml"))) or "none"
    raise PresetError(f"unknown controller map {name!r} (known: {known})")


def load_controller_map(name: str, directory: Path = CONTROLLERS_DIR, addresses: tuple[str, ...] = (),
                        skipped: list[str] | None = None) -> ControllerMap:
    """Load and validate a map; with `addresses`, every parameter target must be one of them.

    Latent dimensions the playing model does not have (`/rave/latent/7/...` on a 4-dimensional
    model) are left out rather than refused, so one map fits models of any latent size; with
    `skipped`, their addresses are appended to it."""
    path = find_controller_map(name, directory)
    raw = read_toml(path, _MapFile, "controller map")
    midi: dict[MidiKey, Mapping] = {}
    for n, m in enumerate(raw.midi):
        key = (m.type, m.channel, m.number)
        if key in midi:
            raise PresetError(f"{path}: midi[{n}]: {m.type} channel {m.channel} number {m.number} is mapped twice")
        midi[key] = _mapping(m)
    osc = {m.source: _mapping(m) for m in raw.osc}
    if addresses:
        known = set(addresses)
        for table in (midi, osc):
            for key, target in list(table.items()):  # type: ignore[attr-defined]
                if target.is_action or target.address in known:
                    continue
                if not _LATENT.match(target.address):
                    raise PresetError(f"{path}: unknown address {target.address!r}")
                del table[key]  # type: ignore[attr-defined]
                if skipped is not None:
                    skipped.append(target.address)
    return ControllerMap(raw.name, path, midi, osc)


def save_controller_map(cmap: ControllerMap, path: Path) -> Path:
    """Write a map (MIDI learn adds to one) back as TOML."""
    import tomli_w

    def row(m: Mapping) -> dict[str, object]:
        out: dict[str, object] = {"address": m.address, "curve": m.curve, "invert": m.invert,
                                  "smoothing_ms": m.smoothing_ms, "soft_takeover": m.soft_takeover}
        if m.lo is not None:
            out["min"] = m.lo
        if m.hi is not None:
            out["max"] = m.hi
        if m.curve == "stepped":
            out["steps"] = m.steps
        return out

    doc = {
        "name": cmap.name,
        "midi": [{"type": t, "channel": c, "number": n, **row(m)} for (t, c, n), m in cmap.midi.items()],
        "osc": [{"source": s, **row(m)} for s, m in cmap.osc.items()],
    }
    path.write_text(tomli_w.dumps(doc))
    return path
