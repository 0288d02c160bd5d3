"""Controller actions: `kind:argument` text that a pad, a button or an OSC command fires.

- `scene:NAME` recalls a scene (with the scene morph time),
- `slot:N` recalls pattern-memory slot N (0..127), `slot_save:N` stores the latent biases/scales in it,
- `beat:NAME` fires a visual beat action (`pulse_noise`, `cache_reset`, `prompt_cycle`,
  `transition_trigger`: the names a theme's `[[beat]]` rows use),
- `theme:NAME` switches the visuals' theme (over `/visual/theme_transition`),
- `cluster:N` glides the walk into cluster N of the loaded atlas (`/explore/cluster`; -1: the prior).

The text is checked once, where it enters (a controller map at load, MIDI learn when armed, OSC
`/engine/action` on arrival); `ControlHub.run_action` runs the result for every surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

from engine.control.slots import MAX_SLOT
from engine.errors import ParamError
from engine.params.table import BEAT_ACTION_TRIGGERS, MAX_ATLAS_CLUSTERS

ActionKind = Literal["scene", "slot", "slot_save", "beat", "theme", "cluster"]
ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)
BEAT_ACTIONS: tuple[str, ...] = tuple(BEAT_ACTION_TRIGGERS)


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    argument: str

    @property
    def slot(self) -> int:
        """The slot number of a `slot:` / `slot_save:` action (the cluster of a `cluster:` one)."""
        return int(self.argument)

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}"


def is_action_text(text: str) -> bool:
    """Whether a controller-map target names an action rather than a parameter address."""
    return ":" in text


def parse_action(text: str) -> Action:
    """`kind:argument` as an Action; ParamError naming the text when it is not a valid one."""
    kind, colon, argument = text.partition(":")
    if not colon or kind not in ACTION_KINDS:
        raise ParamError(f"unknown action {kind!r} in {text!r} (actions: {', '.join(ACTION_KINDS)})")
    if not argument:
        raise ParamError(f"action {text!r} names nothing after the colon")
    if kind in ("slot", "slot_save") and not (argument.isascii() and argument.isdigit()
                                              and int(argument) <= MAX_SLOT):
        raise ParamError(f"slot {argument!r} in {text!r} must be a number 0..{MAX_SLOT}")
    if kind == "cluster" and not (argument == "-1" or argument.isascii() and argument.isdigit()
                                  and int(argument) < MAX_ATLAS_CLUSTERS):
        raise ParamError(f"cluster {argument!r} in {text!r} must be a number -1..{MAX_ATLAS_CLUSTERS - 1}")
    if kind == "beat" and argument not in BEAT_ACTIONS:
        raise ParamError(f"unknown beat action {argument!r} in {text!r} (beat actions: {', '.join(BEAT_ACTIONS)})")
    return Action(cast(ActionKind, kind), argument)
