"""MIDI ports through python-rtmidi: open by name substring or as a virtual port, and reopen after an unplug.

On Linux without an ALSA sequencer (`/dev/snd/seq` missing: containers, JACK-only setups) the JACK
MIDI backend is used; `RAVE_MIDI_API=jack|alsa|coremidi|winmm` forces one. An input is read by
polling (`get_message`) from our own thread rather than through rtmidi's callback: with JACK the
callback runs on JACK's real-time process thread, and taking the GIL there would stall every JACK
client in the graph, the engine's own audio included.

`check()` (called about twice a second by the MIDI thread) notices the named port vanishing (device
unplugged, JACK client gone) and reopens it when a port matching the name comes back.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Literal

import rtmidi

from engine.errors import EngineError

CLIENT_NAME = "rave-engine"
QUEUE_SIZE = 4096  # rtmidi drops silently beyond this; at 2 ms polling it is never reached
_APIS = {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA, "coremidi": rtmidi.API_MACOSX_CORE,
         "winmm": rtmidi.API_WINDOWS_MM}


class MidiPortError(EngineError):
    """A MIDI port that cannot be found or opened."""


def default_api() -> int:
    forced = os.environ.get("RAVE_MIDI_API", "").strip().lower()
    if forced:
        if forced not in _APIS:
            raise MidiPortError(f"RAVE_MIDI_API={forced!r} is not one of {', '.join(_APIS)}")
        return _APIS[forced]
    compiled = rtmidi.get_compiled_api()
    if (sys.platform.startswith("linux") and not os.path.exists("/dev/snd/seq")
            and rtmidi.API_UNIX_JACK in compiled):
        return rtmidi.API_UNIX_JACK
    return rtmidi.API_UNSPECIFIED


class MidiPort:
    """One input or output port; `label` names it in every log line and error report."""

    def __init__(self, direction: Literal["in", "out"], name: str | None, *, virtual: bool = False,
                 client: str = CLIENT_NAME, api: int | None = None) -> None:
        if not virtual and not name:
            raise MidiPortError(f"MIDI {direction}: give a port name (substring) or ask for a virtual port")
        self.direction = direction
        self.wanted = name or ""
        self.virtual = virtual
        self.client = f"{client}-{direction}"
        self.api = default_api() if api is None else api
        self.label = f"{self.client}:{name or 'virtual'}" if virtual else f"{direction} {name!r}"
        self.opened = ""  # the full name of the port we are connected to
        self.connected = False
        self.dropped = 0  # messages an output could not send (port gone)
        self._lock = threading.Lock()
        cls = rtmidi.MidiIn if direction == "in" else rtmidi.MidiOut
        try:
            self.rt = cls(self.api, self.client, queue_size_limit=QUEUE_SIZE) if direction == "in" \
                else cls(self.api, self.client)
        except rtmidi.SystemError as exc:
            raise MidiPortError(f"MIDI {direction} {name!r}: backend unavailable: {exc}") from None
        if direction == "in":
            self.rt.ignore_types(sysex=False, timing=False, active_sense=True)  # sysex is counted, clock used

    def open(self) -> None:
        if self.virtual:
            self.rt.open_virtual_port(self.wanted or self.direction)
            self.opened, self.connected = f"{self.client}:{self.wanted or self.direction}", True
            return
        found = self._find()
        if found is None:
            raise MidiPortError(f"MIDI {self.direction}: no port matches {self.wanted!r} "
                                f"(available: {', '.join(self._candidates()) or 'none'})")
        self._open_index(*found)

    def _candidates(self) -> list[str]:
        own = self.client + ":"
        return [p for p in self.rt.get_ports() if not p.startswith(own)]

    def _find(self) -> tuple[int, str] | None:
        ports = self.rt.get_ports()
        own = self.client + ":"
        wanted = self.wanted.lower()
        exact = [i for i, p in enumerate(ports) if p == self.opened]
        matches = exact or [i for i, p in enumerate(ports) if wanted in p.lower() and not p.startswith(own)]
        return (matches[0], ports[matches[0]]) if matches else None

    def _open_index(self, index: int, port: str) -> None:
        with self._lock:
            if self.rt.is_port_open():
                self.rt.close_port()
            try:
                self.rt.open_port(index, "in" if self.direction == "in" else "out")
            except (rtmidi.SystemError, rtmidi.InvalidPortError) as exc:
                raise MidiPortError(f"MIDI {self.direction} {port!r}: cannot open: {exc}") from None
            self.opened, self.connected = port, True

    def check(self) -> Literal["lost", "back"] | None:
        """Notice the port vanishing or coming back; returns what changed, None if nothing did."""
        if self.virtual:
            return None
        present = self.opened in self.rt.get_ports()
        if self.connected and not present:
            self.connected = False
            return "lost"
        if not self.connected:
            found = self._find()
            if found is not None:
                try:
                    self._open_index(*found)
                except MidiPortError:
                    return None  # half-registered: try again at the next check
                return "back"
        return None

    def receive(self) -> tuple[list[int], float] | None:
        """One (bytes, seconds since the previous message) or None; input only."""
        return self.rt.get_message()  # type: ignore[no-any-return]

    def send(self, message: list[int]) -> None:
        """Thread-safe (clock-out and feedback share the port); counts what an absent port drops."""
        with self._lock:
            if not self.connected:
                self.dropped += 1
                return
            self.rt.send_message(message)

    def close(self) -> None:
        with self._lock:
            if self.rt.is_port_open():
                self.rt.close_port()
            self.connected = False
            self.rt.delete()
