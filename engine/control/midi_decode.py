"""Raw MIDI bytes -> control events: 7-bit CC, 14-bit CC pairs, NRPN, notes, program changes, clock.

Bytes are checked by mido (`Message.from_bytes`: status, length, data 0..127); anything it refuses is
counted as `invalid`, sysex is counted and dropped. The decoder keeps per-channel state for 14-bit
pairs and NRPN selection, so it is fed from one thread (the MIDI input thread).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

import mido

EventKind = Literal["cc", "cc14", "nrpn", "note", "program", "clock", "start", "stop", "continue"]

NRPN_MSB, NRPN_LSB, RPN_MSB, RPN_LSB = 99, 98, 101, 100
DATA_MSB, DATA_LSB = 6, 38
_SELECT_CONTROLLERS = frozenset({NRPN_MSB, NRPN_LSB, RPN_MSB, RPN_LSB})
RPN_SELECTED = -1  # data entry then belongs to an RPN (pitch-bend range...): consumed, not ours
_REALTIME: dict[str, EventKind] = {"clock": "clock", "start": "start", "stop": "stop", "continue": "continue"}


@dataclass(frozen=True, slots=True)
class MidiEvent:
    kind: EventKind
    channel: int = 0  # 1..16 (0 for system messages)
    number: int = 0  # controller (the MSB one for cc14), NRPN parameter, note or program
    value: int = 0  # raw value: 0..127, or 0..16383 for cc14/nrpn; velocity for notes (0 = off)
    resolution: int = 127  # the largest raw value, so value / resolution is the 0..1 position

    @property
    def position(self) -> float:
        return self.value / self.resolution


class MidiDecoder:
    def __init__(self, cc14: set[tuple[int, int]] | None = None) -> None:
        """`cc14`: (channel 1..16, MSB controller 0..31) pairs decoded as 14-bit; their CC n+32 is the LSB."""
        self.cc14: set[tuple[int, int]] = set(cc14 or ())
        self.counts: Counter[str] = Counter()  # decoded, invalid, sysex, ignored
        self._msb: dict[tuple[int, int], int] = {}  # (channel, controller) -> last 14-bit MSB
        self._nrpn: dict[int, int] = {}  # channel -> selected NRPN parameter, or RPN_SELECTED
        self._nrpn_select: dict[int, list[int]] = {}  # channel -> [msb, lsb] of the parameter being selected
        self._data_msb: dict[int, int] = {}

    def feed(self, data: list[int] | bytes) -> list[MidiEvent]:
        """Decode one MIDI message; raises ValueError naming the problem for bytes mido refuses."""
        try:
            msg = mido.Message.from_bytes(list(data))
        except (ValueError, TypeError, IndexError) as exc:
            self.counts["invalid"] += 1
            raise ValueError(f"{bytes(data[:8]).hex(' ')}{'...' if len(data) > 8 else ''}: {exc}") from None
        kind = msg.type
        if kind in _REALTIME:
            self.counts["decoded"] += 1
            return [MidiEvent(_REALTIME[kind])]
        if kind == "sysex":
            self.counts["sysex"] += 1
            return []
        if kind == "control_change":
            return self._control(msg.channel + 1, msg.control, msg.value)
        if kind in ("note_on", "note_off"):
            self.counts["decoded"] += 1
            velocity = msg.velocity if kind == "note_on" else 0  # note-on with velocity 0 is a note-off too
            return [MidiEvent("note", msg.channel + 1, msg.note, velocity)]
        if kind == "program_change":
            self.counts["decoded"] += 1
            return [MidiEvent("program", msg.channel + 1, msg.program, 0)]
        self.counts["ignored"] += 1  # pitch bend, aftertouch, song position... not mappable (yet)
        return []

    def _control(self, channel: int, number: int, value: int) -> list[MidiEvent]:
        # CC 6/38 are data entry only once an (N)RPN is selected on the channel; before that they are
        # ordinary controllers (a 16-fader box on CC 0-15 has a fader on CC 6).
        if number in _SELECT_CONTROLLERS or (number in (DATA_MSB, DATA_LSB) and channel in self._nrpn):
            return self._nrpn_control(channel, number, value)
        if (channel, number) in self.cc14:
            # The MSB resets the LSB (MIDI 1.0 spec), so a controller that only sends MSBs still works.
            self._msb[(channel, number)] = value
            self.counts["decoded"] += 1
            return [MidiEvent("cc14", channel, number, value << 7, 16383)]
        if 32 <= number < 64 and (channel, number - 32) in self.cc14:
            msb = self._msb.get((channel, number - 32))
            if msb is None:  # an LSB before any MSB: nothing to complete
                self.counts["ignored"] += 1
                return []
            self.counts["decoded"] += 1
            return [MidiEvent("cc14", channel, number - 32, (msb << 7) | value, 16383)]
        self.counts["decoded"] += 1
        return [MidiEvent("cc", channel, number, value)]

    def _nrpn_control(self, channel: int, number: int, value: int) -> list[MidiEvent]:
        if number in (NRPN_MSB, NRPN_LSB):
            select = self._nrpn_select.setdefault(channel, [0, 0])
            select[0 if number == NRPN_MSB else 1] = value
            self._nrpn[channel] = (select[0] << 7) | select[1]
            self._data_msb.pop(channel, None)
            return []
        if number in (RPN_MSB, RPN_LSB):  # RPNs are not ours: the data entry that follows is dropped
            self._nrpn[channel] = RPN_SELECTED
            return []
        parameter = self._nrpn[channel]
        if parameter == RPN_SELECTED:
            self.counts["ignored"] += 1
            return []
        if number == DATA_MSB:
            self._data_msb[channel] = value
            full = value << 7
        else:
            msb = self._data_msb.get(channel)
            if msb is None:
                self.counts["ignored"] += 1
                return []
            full = (msb << 7) | value
        self.counts["decoded"] += 1
        return [MidiEvent("nrpn", channel, parameter, full, 16383)]


def encode_feedback(kind: str, channel: int, number: int, value: int) -> list[list[int]]:
    """The messages that show raw `value` on a control (the inverse of the decoder) for MIDI out."""
    status = 0xB0 | (channel - 1)
    if kind == "cc":
        return [[status, number, value & 0x7F]]
    if kind == "cc14":
        return [[status, number, value >> 7], [status, number + 32, value & 0x7F]]
    if kind == "nrpn":
        return [[status, NRPN_MSB, number >> 7], [status, NRPN_LSB, number & 0x7F],
                [status, DATA_MSB, value >> 7], [status, DATA_LSB, value & 0x7F]]
    if kind == "note":
        return [[(0x90 if value else 0x80) | (channel - 1), number, value & 0x7F]]
    return []
