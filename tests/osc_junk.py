"""Bad OSC datagrams of every kind a misbehaving client sends, for the flood test and benchmark.

None of them may change a value: each is malformed, refused by type or range, or only a query.
"""

from __future__ import annotations

import random
import string
import struct
from collections.abc import Callable

from engine.control.osc_codec import encode_bundle, encode_message

REAL_ADDRESSES = ("/rave/energy", "/master/gain_db", "/rave/latent/0/bias", "/rave/source/a", "/lfo/0/target",
                  "/visual/theme", "/tempo/bpm")
_PRINTABLE = string.ascii_letters + string.digits + "/_-.*?[]{}!,\n\t\\'\""


def _random_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(1, 300))


def _truncated(rng: random.Random) -> bytes:
    full = encode_message(rng.choice(REAL_ADDRESSES), rng.random())
    return full[:rng.randint(1, len(full) - 1)]


def _unknown_type_tag(rng: random.Random) -> bytes:
    tag = rng.choice("qxyzAQ%")
    return encode_message(rng.choice(REAL_ADDRESSES))[:-4] + f",{tag}\x00\x00".encode() + rng.randbytes(8)


def _not_finite(rng: random.Random) -> bytes:
    return encode_message(rng.choice(REAL_ADDRESSES), rng.choice((float("nan"), float("inf"), float("-inf"))))


def _unknown_address(rng: random.Random) -> bytes:
    length = rng.choice((rng.randint(1, 40), rng.randint(40, 300), rng.randint(300, 3000)))
    return encode_message("/" + "".join(rng.choices(_PRINTABLE, k=length)), rng.random())


def _oversized_string(rng: random.Random) -> bytes:
    return encode_message(rng.choice(REAL_ADDRESSES), "s" * rng.randint(257, 8000))


def _blob(rng: random.Random) -> bytes:
    size = rng.randint(1, 8000)
    body = rng.randbytes(size) + b"\x00" * (-size % 4)
    declared = size if rng.random() < 0.5 else size + rng.randint(1, 1 << 20)  # half of them lie about the size
    return encode_message(rng.choice(REAL_ADDRESSES))[:-4] + b",b\x00\x00" + struct.pack(">i", declared) + body


def _deep_bundle(rng: random.Random) -> bytes:
    packet = encode_message("/rave/energy", float("nan"))
    for _ in range(rng.randint(9, 40)):  # deeper than the parser's limit
        packet = encode_bundle(None, packet)
    return packet


def _bundle_of_bad(rng: random.Random) -> bytes:
    return encode_bundle(None, *(_not_finite(rng) for _ in range(rng.randint(2, 20))))


def _wildcard(rng: random.Random) -> bytes:
    pattern = rng.choice(("/*/*/*", "/*/*", "/rave/*", "/*/*/*/*", "/[a-z]*/*", "/{rave,lfo}/*/*"))
    choice = rng.random()
    if choice < 0.3:
        return encode_message("/engine/get", pattern)  # a query: replies to the flooder, changes nothing
    if choice < 0.35:
        return encode_message("/engine/list", pattern)
    return encode_message(pattern, float("nan"))  # a set every match refuses


def _bad_command(rng: random.Random) -> bytes:
    return rng.choice((encode_message("/engine/get"), encode_message("/engine/get", 1, 2),
                       encode_message("/engine/subscribe", "port"), encode_message("/scene/save"),
                       encode_message("/engine/get", "/" + "n" * rng.randint(1, 500))))


KINDS: tuple[Callable[[random.Random], bytes], ...] = (
    _random_bytes, _truncated, _unknown_type_tag, _not_finite, _unknown_address, _unknown_address,
    _oversized_string, _blob, _deep_bundle, _bundle_of_bad, _wildcard, _bad_command)


def bad_packets(count: int, seed: int = 0) -> list[bytes]:
    """`count` bad datagrams, every kind in turn with random content (the same for a seed)."""
    rng = random.Random(seed)
    return [KINDS[i % len(KINDS)](rng)[:65000] for i in range(count)]
