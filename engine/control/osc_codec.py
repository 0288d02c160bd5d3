"""OSC 1.0 datagrams in and out, without python-osc's dispatcher (which sleeps on time tags).

`parse_packet` walks bundles (nested too) and returns every message with the wall-clock time
its enclosing bundle names (None: immediately); the server schedules those on the audio
timeline instead of waiting. `encode_message` builds replies with the plain types every client
reads (Pure Data's [oscparse] knows no T/F or doubles, so bools go out as ints).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from pythonosc.osc_message import OscMessage

from engine.errors import EngineError

BUNDLE_PREFIX = b"#bundle\x00"
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (unix epoch)
MAX_BUNDLE_DEPTH = 8


class OscPacketError(EngineError):
    """A datagram that is not a well-formed OSC message or bundle."""


@dataclass(frozen=True, slots=True)
class TimedMessage:
    when: float | None  # unix time from the enclosing bundle's time tag; None: now
    address: str
    args: tuple[object, ...]


def ntp_to_unix(tag: int) -> float | None:
    """An OSC time tag (64-bit NTP fixed point) as unix seconds; None for "immediately" (1, and 0)."""
    if tag <= 1:
        return None
    return (tag >> 32) - NTP_UNIX_OFFSET + (tag & 0xFFFF_FFFF) / 2**32


def unix_to_ntp(seconds: float) -> int:
    whole = math.floor(seconds)
    return ((whole + NTP_UNIX_OFFSET) << 32) | int((seconds - whole) * 2**32)


def parse_packet(data: bytes) -> tuple[list[TimedMessage], int]:
    """Every message in a datagram, in order, and the number of bundles it held."""
    messages: list[TimedMessage] = []
    bundles = _walk(data, None, 0, messages)
    return messages, bundles


def _walk(chunk: bytes, when: float | None, depth: int, out: list[TimedMessage]) -> int:
    if chunk.startswith(BUNDLE_PREFIX):
        if depth >= MAX_BUNDLE_DEPTH:
            raise OscPacketError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
        if len(chunk) < 16:
            raise OscPacketError(f"bundle of {len(chunk)} bytes has no time tag")
        tagged = ntp_to_unix(int.from_bytes(chunk[8:16], "big"))
        # A nested bundle never runs before the one around it (OSC 1.0 requires tags >= the parent's).
        if tagged is None or (when is not None and tagged < when):
            tagged = when
        count, i = 1, 16
        while i < len(chunk):
            if i + 4 > len(chunk):
                raise OscPacketError(f"bundle element size cut off at byte {i}")
            size = int.from_bytes(chunk[i:i + 4], "big", signed=True)
            if size <= 0 or i + 4 + size > len(chunk):
                raise OscPacketError(f"bundle element of {size} bytes at byte {i} overruns the {len(chunk)}-byte bundle")
            count += _walk(chunk[i + 4:i + 4 + size], tagged, depth + 1, out)
            i += 4 + size
        return count
    if not chunk.startswith(b"/"):
        raise OscPacketError(f"not an OSC message or bundle (starts with {bytes(chunk[:8])!r})")
    _check_layout(chunk)
    try:
        message = OscMessage(chunk)
        out.append(TimedMessage(when, message.address, tuple(message.params)))
    except Exception as exc:  # python-osc raises ParseError, UnicodeDecodeError, IndexError, struct.error
        raise OscPacketError(f"malformed message: {exc}") from None
    return 0


_FIXED_SIZES = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8,
                "T": 0, "F": 0, "N": 0, "I": 0, "[": 0, "]": 0}


def _string_end(chunk: bytes, start: int) -> int:
    end = chunk.find(b"\x00", start)
    if end < 0:
        raise OscPacketError(f"string at byte {start} has no terminator")
    return end + 4 - end % 4


def _check_layout(chunk: bytes) -> None:
    """Refuse what python-osc would quietly repair: short arguments (it pads a cut-off float with
    zeros) and unknown type tags (it skips them); a damaged packet must never write a value."""
    i = _string_end(chunk, 0)
    if i >= len(chunk):
        return  # no type tag string: an address-only message
    if chunk[i:i + 1] != b",":
        raise OscPacketError("type tag string does not start with ','")
    end = _string_end(chunk, i)
    tags = chunk[i + 1:chunk.index(b"\x00", i)].decode("ascii", "replace")
    pos = end
    for tag in tags:
        if tag in _FIXED_SIZES:
            pos += _FIXED_SIZES[tag]
        elif tag == "s" or tag == "S":
            pos = _string_end(chunk, pos)
        elif tag == "b":
            if pos + 4 > len(chunk):
                raise OscPacketError("blob size cut off")
            size = int.from_bytes(chunk[pos:pos + 4], "big")
            pos += 4 + size + (-size) % 4
        else:
            raise OscPacketError(f"unknown OSC type tag {tag!r}")
        if pos > len(chunk):
            raise OscPacketError(f"arguments ({tags}) need more than the message's {len(chunk)} bytes")


def _pad(raw: bytes) -> bytes:
    return raw + b"\x00" * (4 - len(raw) % 4)


def encode_message(address: str, *args: object) -> bytes:
    """One OSC message: ints (and bools) as i, floats as f, anything else as its string."""
    typed: list[tuple[object, str]] = []
    for arg in args:
        if isinstance(arg, bool | int) and -2**31 <= int(arg) < 2**31:
            typed.append((int(arg), "i"))
        elif isinstance(arg, float | int):
            typed.append((float(arg), "f"))
        else:
            typed.append((arg, "s"))
    return encode_typed(address, *typed)


def encode_typed(address: str, *typed: tuple[object, str]) -> bytes:
    """One OSC 1.0 message whose arguments name their own type tag: int32 (i), float32 (f), double (d),
    string (s) or blob (b, bytes; empty allowed, which python-osc's builder refuses)."""
    tags, payload = [","], []
    for value, kind in typed:
        tags.append(kind)
        if kind == "i":
            payload.append(struct.pack(">i", value))
        elif kind == "f":
            payload.append(struct.pack(">f", value))
        elif kind == "d":
            payload.append(struct.pack(">d", value))
        elif kind == "s":
            payload.append(_pad(str(value).encode("utf-8")))
        elif kind == "b":
            raw = bytes(value)  # type: ignore[call-overload]
            payload.append(struct.pack(">i", len(raw)) + raw + b"\x00" * (-len(raw) % 4))
        else:
            raise ValueError(f"OSC type {kind!r} is not one this encoder writes")
    return _pad(address.encode("utf-8")) + _pad("".join(tags).encode()) + b"".join(payload)


def encode_bundle(when: float | None, *elements: bytes) -> bytes:
    """A bundle (for tests and benchmarks): `when` in unix seconds, None for immediately."""
    tag = 1 if when is None else unix_to_ntp(when)
    return BUNDLE_PREFIX + tag.to_bytes(8, "big") + b"".join(len(e).to_bytes(4, "big") + e for e in elements)
