"""Decoded MIDI events -> parameter writes and actions, through the active controller map.

Each mapped control writes its parameter through the hub (validated, clamped), scaled by the
mapping's range and curve. Soft takeover keeps a fader that sits far from the parameter's value
from making it jump: the fader is ignored until it comes within 3 % of the value (or crosses it),
and is re-armed when the value changes from elsewhere (OSC, a scene morph). Actions (`scene:NAME`,
`slot:N`, `slot_save:N`, `beat:NAME`, `theme:NAME`; see engine/control/actions.py) fire on a button
press (note on, CC rising past half way, any program change) through `ControlHub.run_action`.

Runs on the MIDI input thread only; the map is swapped whole (MIDI learn), never edited in place.
"""

from __future__ import annotations

import time
from collections import Counter

from engine.control.hub import ControlHub
from engine.control.midi_decode import MidiDecoder, MidiEvent
from engine.errors import EngineError, ParamError
from engine.params.param import Kind, Value
from engine.presets.controller_maps import TAKEOVER_WINDOW, ControllerMap, Mapping, MidiKey

MAPPABLE = ("cc", "cc14", "nrpn", "note", "program")
GLIDE_GRACE_S = 0.05  # a glide's last frame may land this long after its nominal end


class MidiRouter:
    def __init__(self, hub: ControlHub, cmap: ControllerMap, decoder: MidiDecoder, *, port: str = "midi") -> None:
        self.hub = hub
        self.decoder = decoder
        self.port = port
        self.counts: Counter[str] = Counter()  # applied, actions, unmapped, takeover_ignored, errors
        self.learn: object | None = None  # a MidiLearn; typed loosely to keep the import one-way
        self.last_raw: dict[MidiKey, int] = {}  # the last raw value each control sent (feedback skips echoes)
        self._prev: dict[MidiKey, float] = {}
        self._caught: dict[MidiKey, bool] = {}
        self._written: dict[str, Value] = {}
        self._glide_until: dict[str, float] = {}
        self.cmap = cmap
        self.set_map(cmap)

    def set_map(self, cmap: ControllerMap) -> None:
        self.cmap = cmap
        self.decoder.cc14 = {(c, n) for (t, c, n) in cmap.midi if t == "cc14"}

    def handle(self, event: MidiEvent, now: float | None = None) -> None:
        if event.kind not in MAPPABLE:
            return
        now = time.monotonic() if now is None else now
        learn = self.learn
        if learn is not None and learn.capture(event):  # type: ignore[attr-defined]
            return
        key: MidiKey = (event.kind, event.channel, event.number)
        mapping = self.cmap.midi.get(key)
        if mapping is None:
            self.counts["unmapped"] += 1
            return
        self.last_raw[key] = event.value
        position = (1.0 if event.value > 0 else 0.0) if event.kind in ("note", "program") else event.position
        if event.kind == "program":
            position = 1.0
        previous = self._prev.get(key)
        self._prev[key] = position
        try:
            if mapping.action is not None:
                pressed = position >= 0.5 and (event.kind == "program" or previous is None or previous < 0.5)
                if pressed:
                    self.counts["actions"] += 1
                    self.hub.run_action(mapping.action)
                return
            self._apply(key, mapping, position, previous, now)
        except EngineError as exc:
            self.counts["errors"] += 1
            self.hub.report_error("midi", self.port, f"refused: {event.kind} ch{event.channel} #{event.number} "
                                                     f"value {event.value} -> {mapping.address}: {exc}")

    def _apply(self, key: MidiKey, mapping: Mapping, position: float, previous: float | None, now: float) -> None:
        address = mapping.address
        param = self.hub.store.param(address)
        current = self.hub.store.get(address)
        value: Value
        if param.kind in (Kind.FLOAT, Kind.INT):
            lo, hi = float(param.minimum or 0.0), float(param.maximum or 0.0)
            if mapping.soft_takeover and not self._takes_over(key, mapping, position, previous, float(current),
                                                               lo, hi, now):
                self.counts["takeover_ignored"] += 1
                return
            value = mapping.to_value(position, lo, hi)
            if param.kind is Kind.INT:
                value = round(value)
        elif param.kind is Kind.BOOL:
            value = mapping.shape(position) >= 0.5
        elif param.kind is Kind.ENUM:
            value = param.choices[round(mapping.shape(position) * (len(param.choices) - 1))]
        else:
            raise ParamError(f"{address} takes text, a MIDI control cannot set it")
        if mapping.smoothing_ms > 0 and param.continuous:
            seconds = mapping.smoothing_ms / 1000
            written = self.hub.glide(address, value, seconds)[address]
            self._glide_until[address] = now + seconds + GLIDE_GRACE_S
        else:
            written = self.hub.set(address, value)[address]
        self._written[address] = written
        self.counts["applied"] += 1

    def _takes_over(self, key: MidiKey, mapping: Mapping, position: float, previous: float | None,
                    current: float, lo: float, hi: float, now: float) -> bool:
        written = self._written.get(mapping.address)
        if written is not None and written != current and now >= self._glide_until.get(mapping.address, 0.0):
            self._caught[key] = False  # moved from elsewhere since our last write: catch it again
            self._written.pop(mapping.address, None)
        if self._caught.get(key, False):
            return True
        target = mapping.to_position(current, lo, hi)
        crossed = previous is not None and (previous - target) * (position - target) <= 0
        if abs(position - target) <= TAKEOVER_WINDOW or crossed:
            self._caught[key] = True
        return self._caught.get(key, False)
