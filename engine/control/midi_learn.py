"""MIDI learn: `hub.learn(ADDRESS)` (OSC `/midi/learn ADDRESS`) arms it, the next control moved is mapped.

The next CC, 14-bit CC, NRPN, note-on or program change received is mapped to ADDRESS in the
active controller map (replacing whatever that control did before), and the map is saved, to
`learned.toml` beside the shipped maps unless the map in use already is that file: shipped maps
stay as they are, and `--midi-map learned` plays the result. A 14-bit CC is learned as 14-bit
only when the map already decodes that controller as cc14; otherwise it is learned as a 7-bit CC.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from engine.control.actions import is_action_text, parse_action
from engine.control.midi_decode import MidiEvent
from engine.control.midi_router import MAPPABLE, MidiRouter
from engine.errors import ParamError
from engine.presets.controller_maps import ControllerMap, Mapping, save_controller_map

log = logging.getLogger(__name__)
LEARNED_NAME = "learned.toml"


class MidiLearn:
    def __init__(self, router: MidiRouter, path: Path | None = None) -> None:
        self.router = router
        current = router.cmap.path
        if path is None and current is not None:
            path = current if current.name == LEARNED_NAME else current.parent / LEARNED_NAME
        self.path = path
        self.armed: str | None = None
        self.learned: list[tuple[str, int, int, str]] = []  # (type, channel, number, address)
        self._lock = threading.Lock()
        router.learn = self

    def arm(self, address: str) -> None:
        """Validate the target now, so a typo is refused at the request, not at the fader move."""
        if is_action_text(address):
            try:
                parse_action(address)
            except ParamError as exc:
                raise ParamError(f"/midi/learn: {exc}") from None
        else:
            self.router.hub.store.param(address)
        with self._lock:
            self.armed = address

    def capture(self, event: MidiEvent) -> bool:
        """Called for every mappable event; maps it and returns True when learn was armed."""
        if self.armed is None or event.kind not in MAPPABLE or (event.kind == "note" and event.value == 0):
            return False
        with self._lock:
            address, self.armed = self.armed, None
        if address is None:
            return False
        old = self.router.cmap
        key = (event.kind, event.channel, event.number)
        midi = {k: m for k, m in old.midi.items() if k != key}
        midi[key] = Mapping(address, None, None)
        name = old.name if old.path is not None and old.path == self.path else f"{old.name} (learned)"
        cmap = ControllerMap(name, self.path, midi, dict(old.osc))
        self.router.set_map(cmap)
        self.learned.append((*key, address))
        if self.path is not None:
            try:
                save_controller_map(cmap, self.path)
            except OSError as exc:
                self.router.hub.report_error("midi", str(self.path), f"learn: cannot save the map: {exc}")
        log.info("MIDI learn: %s ch%d #%d -> %s (%s)", event.kind, event.channel, event.number, address, self.path)
        return True
