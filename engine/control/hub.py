"""The control hub: every OSC message, MIDI event, GUI move and scene recall becomes a write here.

Controller actions (`scene:`, `slot:`, `slot_save:`, `beat:`, `theme:`, `cluster:`) run here too, from
every surface, against the one slot bank the hub owns.

Writes are validated by the parameter store (unknown address, NaN, wrong type: refused, nothing
changes), patterns fan out to every matching address, and timed writes go onto the render
timeline so they land on the latent frame their time names, not when they arrive. Errors are
counted per kind and handed to listeners (OSC `/engine/error`); the log gets a few lines a second
per sender and then one summary per interval (rate_limit.py), so a flood cannot flood the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import tomli_w

from engine.control.actions import Action, parse_action
from engine.control.launcher import LAUNCH_ADDRESSES, SWITCHED_ON_LOAD, Launcher
from engine.control.patterns import is_pattern, match_addresses
from engine.control.rate_limit import CLIENT_TEXT_LIMIT, OTHER_KIND, LogLimiter, clip
from engine.control.slots import SLOTS_DIR, SlotBank
from engine.control.tap_tempo import TAP_ADDRESS, TapTempo
from engine.errors import ParamError, PresetError
from engine.params.param import Value
from engine.params.store import ParamStore
from engine.params.table import BEAT_ACTION_TRIGGERS
from engine.presets.scenes import SCENES_DIR, load_scene
from engine.render.timeline import Timeline

log = logging.getLogger(__name__)

ErrorListener = Callable[[str, str, str], None]  # (source, address, message)
# The models, how they play and the files they load are not part of a scene; nor are the transport and
# how launches wait (a scene saved while stopped must not stop the set when recalled).
NOT_IN_SCENES = ("/rave/model", "/rave/method", "/rave/model/b", "/rave/reference/a", "/rave/reference/b",
                 "/transport/play", "/launch/quantize")
MAX_ERROR_KINDS = 32  # kinds are a fixed vocabulary; a caller deriving them from input lands in "other"
MAX_KIND_LENGTH = 40


def error_kind(message: str) -> str:
    """What an error is counted and budgeted as: its message up to the first colon, clipped."""
    return message.split(":")[0][:MAX_KIND_LENGTH]


class ControlHub:
    def __init__(self, store: ParamStore, *, timeline: Callable[[], Timeline | None] = lambda: None,
                 audio_time: Callable[[float], float] | None = None, scenes_dir: Path = SCENES_DIR,
                 slots_dir: Path = SLOTS_DIR) -> None:
        """`timeline()` gives the live graph's timeline (it changes on a model swap); `audio_time(t)`
        maps a wall-clock time (time.time()) to the timeline's seconds."""
        self.store = store
        self._timeline = timeline
        self._audio_time = audio_time
        self.scenes_dir = scenes_dir
        self.slots = SlotBank(store, slots_dir)  # one bank for MIDI pads, OSC maps and OSC commands
        self.errors: Counter[str] = Counter()
        self.messages = 0
        self._error_listeners: list[ErrorListener] = []
        self.error_log = LogLimiter(log, "bad messages")
        self._lock = threading.Lock()
        self.scene = "-"
        # Beat actions (`beat:NAME` from a controller, MIDI clock beats), counted.
        self.beats: Counter[str] = Counter()
        self._learn_handler: Callable[[str], None] | None = None
        self._point_handler: Callable[[float, float, float], int] | None = None
        self.launcher = Launcher(store, timeline, audio_time)  # /launch/quantize: launches on the beat grid
        self.tap = TapTempo()  # /tempo/tap

    # --- writes ----------------------------------------------------------------------------
    def resolve(self, address: str) -> list[str]:
        """The addresses an address or OSC pattern names; ParamError when none."""
        if is_pattern(address):
            try:
                matches = match_addresses(address, self.store.addresses)
            except ValueError as exc:
                raise ParamError(str(exc)) from None
            if not matches:
                raise ParamError(f"pattern {address!r} matches no address")
            return matches
        self.store.param(address)  # raises for an unknown address
        return [address]

    def set(self, address: str, value: object) -> dict[str, Value]:
        """Set one address (or every address a pattern matches) now; all or nothing."""
        targets = self.resolve(address)
        if len(targets) == 1 and targets[0] in LAUNCH_ADDRESSES:  # from any surface: on the beat grid
            return {targets[0]: self.launch_set(targets[0], value)}
        self.messages += 1
        written = self.store.set_many({a: value for a in targets})
        if TAP_ADDRESS in written and value:
            self._tap()
        return written

    def _tap(self) -> None:
        bpm = self.tap.tap()
        if bpm is not None:
            self.store.set("/tempo/bpm", bpm)

    def launch_set(self, address: str, value: object, quantize: str | None = None) -> Value:
        """Write a launch parameter (/visual/theme, /rave/model, /rave/reference/a|b) on the beat grid:
        a theme switches on the grid line, a model or reference loads now and switches on the line after
        it is ready. `quantize` overrides /launch/quantize for this launch."""
        self.messages += 1
        checked = self.store.validate(address, value)
        if address in SWITCHED_ON_LOAD:
            self.launcher.remember(address, quantize)
            self.store.set(address, checked)
        else:
            self.launcher.launch_values(f"{address} {checked}", {address: checked}, quantize)
        return checked

    def set_at(self, wall_time: float, address: str, value: object) -> dict[str, Value]:
        """Set at a wall-clock time: on the timeline if it is in the future and an engine is playing."""
        timeline = self._timeline()
        if timeline is None or self._audio_time is None or wall_time <= time.time():
            return self.set(address, value)
        self.messages += 1
        changes = {a: self.store.validate(a, value) for a in self.resolve(address)}
        timeline.schedule(self._audio_time(wall_time), changes)
        return changes

    def glide(self, address: str, value: object, seconds: float) -> dict[str, Value]:
        """Ramp continuous parameters to `value` over `seconds` on the timeline (controller-map
        smoothing); switches at once without a playing engine or for non-continuous ones."""
        timeline = self._timeline()
        if timeline is None or seconds <= 0:
            return self.set(address, value)
        self.messages += 1
        changes = {a: self.store.validate(a, value) for a in self.resolve(address)}
        timeline.morph_now(changes, seconds)
        return changes

    # --- actions, beat actions and MIDI learn ---------------------------------------------
    def run_action(self, action: Action | str, quantize: str | None = None) -> None:
        """Run a controller action (text is parsed first); EngineError when it cannot run (an unknown
        scene or theme, an empty slot, a slot file that cannot be written). Scene, slot and theme
        actions are launches: they wait for the beat grid as /launch/quantize (or `quantize`) says."""
        if isinstance(action, str):
            action = parse_action(action)
        if action.kind == "scene":
            self.recall_scene(action.argument, quantize=quantize)
        elif action.kind == "slot":
            values = {a: v for a, v in self.slots.get(action.slot).items() if a in self.store}
            self.launcher.launch_values(str(action), values, quantize)
        elif action.kind == "slot_save":
            self.slots.save(action.slot)
        elif action.kind == "beat":
            self.fire_beat(action.argument)
        elif action.kind == "cluster":
            self.store.set_many({"/explore/cluster": action.slot, "/explore/chunk": -1})
        else:
            self.launch_set("/visual/theme", action.argument, quantize)

    def fire_beat(self, name: str) -> None:
        """Count a beat action and press its trigger parameter (the visuals read `/visual/pulse` and
        the like)."""
        self.beats[name] += 1
        if name in BEAT_ACTION_TRIGGERS:
            self.store.set(BEAT_ACTION_TRIGGERS[name], 1)

    def set_point_handler(self, handler: Callable[[float, float, float], int] | None) -> None:
        """Who finds the atlas chunk nearest a map position (the live session's atlas loader)."""
        self._point_handler = handler

    def explore_point(self, x: float, y: float, z: float) -> int:
        """`/explore/point X Y Z`: the walk goes to the chunk nearest that map position; returns it."""
        if self._point_handler is None:
            raise ParamError("/explore/point: no atlas can be loaded here")
        chunk = self._point_handler(x, y, z)
        self.messages += 1
        self.store.set_many({"/explore/chunk": chunk, "/explore/cluster": -1})
        return chunk

    def set_learn_handler(self, handler: Callable[[str], None] | None) -> None:
        self._learn_handler = handler

    def learn(self, address: str) -> None:
        """Arm MIDI learn (OSC `/midi/learn ADDRESS`): the next control moved is mapped to `address`."""
        if self._learn_handler is None:
            raise ParamError(f"/midi/learn {address}: no MIDI input is open to learn from")
        self._learn_handler(address)

    # --- scenes ----------------------------------------------------------------------------
    def recall_scene(self, name: str, morph_seconds: float | None = None, quantize: str | None = None) -> None:
        """Recall (morph to) a scene, on the beat grid when /launch/quantize (or `quantize`) says so."""
        scene = load_scene(name, self.store, self.scenes_dir)
        seconds = float(self.store.get("/scene/morph_time")) if morph_seconds is None else morph_seconds
        self.launcher.launch_values(f"scene:{scene.name}", dict(scene.values), quantize, morph_seconds=seconds)
        self.scene = scene.name

    def save_scene(self, name: str) -> Path:
        """Write every current value (but the model) to `<scenes_dir>/<name>.toml`."""
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip()).lower()
        if not stem:
            raise PresetError(f"scene name {name!r} has no usable characters")
        values = {a: v for a, v in self.store.snapshot().values.items()
                  if a not in NOT_IN_SCENES and not self.store.param(a).is_trigger}
        path = self.scenes_dir / f"{stem}.toml"
        path.write_text(tomli_w.dumps({"name": name.strip(), "description": "saved live", "params": values}))
        self.scene = name.strip()
        return path

    # --- errors ----------------------------------------------------------------------------
    def add_error_listener(self, listener: ErrorListener) -> None:
        self._error_listeners.append(listener)

    def report_error(self, source: str, address: str, message: str) -> None:
        """Count by kind (the message up to its first colon), log within the sender's budget, and
        tell listeners every time. Client text is clipped here, whoever reports it."""
        address = clip(address)
        message = clip(message, 2 * CLIENT_TEXT_LIMIT)
        kind = error_kind(message)
        with self._lock:
            if kind not in self.errors and len(self.errors) >= MAX_ERROR_KINDS:
                kind = OTHER_KIND
            self.errors[kind] += 1
        self.error_log.log(source, kind, logging.WARNING, "%s %s: %s", source, address, message)
        for listener in self._error_listeners:
            try:
                listener(source, address, message)
            except Exception:  # a listener failing must not take the control path down
                self.error_log.log("error listener", "failed", logging.ERROR,
                                   "error listener failed", exc_info=True)

    def flush_error_log(self, *, final: bool = False) -> None:
        """Write the error summaries that are due (all of them when `final`); the control threads
        call it when idle, so the last interval of a flood is summarised too."""
        self.error_log.flush(final=final)
