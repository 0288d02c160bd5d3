"""MIDI out feedback: parameter values sent back to their mapped controls (motorised faders, LED rings).

Rate-limited: the MIDI thread calls `update()` at most `rate_hz` times a second, and it sends only
the controls whose position changed since the last send, skipping a whole pass when the store's
snapshot version has not moved. A control is not echoed the value it just sent itself (a motorised
fader fighting the hand that moves it).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.control.midi_decode import encode_feedback
from engine.control.midi_router import MidiRouter
from engine.params.param import Kind
from engine.presets.controller_maps import MidiKey

FEEDBACK_KINDS = ("cc", "cc14", "nrpn", "note")
DEFAULT_RATE_HZ = 30.0


class MidiFeedback:
    def __init__(self, router: MidiRouter, send: Callable[[list[int]], None], rate_hz: float = DEFAULT_RATE_HZ) -> None:
        self.router = router
        self.send = send
        self.interval = 1.0 / rate_hz
        self.sent = 0
        self._last_time = -1e9
        self._last_version = -1
        self._last_map: object = None
        self._shown: dict[MidiKey, int] = {}

    def update(self, now: float) -> None:
        if now - self._last_time < self.interval:
            return
        self._last_time = now
        store = self.router.hub.store
        snapshot = store.snapshot()
        cmap = self.router.cmap
        if snapshot.version == self._last_version and cmap is self._last_map:
            return
        self._last_version, self._last_map = snapshot.version, cmap
        for key, mapping in cmap.midi.items():
            kind, channel, number = key
            if kind not in FEEDBACK_KINDS or mapping.is_action or mapping.address not in store:
                continue  # (a latent dimension a model swap took away has nothing to show)
            param = store.param(mapping.address)
            if param.kind not in (Kind.FLOAT, Kind.INT, Kind.BOOL):
                continue
            lo, hi = float(param.minimum or 0.0), float(param.maximum or 1.0)
            position = mapping.to_position(float(snapshot.values[mapping.address]), lo, hi)
            resolution = 16383 if kind in ("cc14", "nrpn") else 127
            raw = round(min(max(position, 0.0), 1.0) * resolution)
            if self._shown.get(key) == raw:
                continue
            self._shown[key] = raw
            if self.router.last_raw.get(key) == raw:
                continue  # the control itself put it there
            for message in encode_feedback(kind, channel, number, raw):
                self.send(message)
            self.sent += 1
