"""What the engine and a remote visual node say to each other (OSC 1.0 over UDP).

Engine -> node, one datagram each, so a lost packet costs one row and nothing else:
- a bundle whose time tag is the engine's wall-clock time at which the row's audio is heard, holding
  `/node/frame SESSION SEQ TIME BEATS ONSETS FEATURES LATENT CONTROLS`: SESSION a random id per engine
  start, SEQ the row's number in it, TIME its timeline seconds (double), BEATS and ONSETS running
  counts (counts, not flags: a lost row loses no beat), then float32 blobs of the feature row, the
  model's latent and the VISUAL_MODULATED controls (empty when the graph has none);
- `/node/params SESSION VERSION JSON`: the visual parameters (`/visual/...`, `/analysis/...`), on each
  change and once a second (a node that starts late, or lost the packet, catches up);
- `/node/pong SEQ T1 T2 T3` (doubles): the answer to a ping.
Node -> engine: `/node/ping SEQ T1 FRAMES` (T1 the node's send time, FRAMES rendered so far), four a
second, to wherever the engine's packets come from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from engine.control.osc_codec import TimedMessage, encode_bundle, encode_typed

FRAME = "/node/frame"
PARAMS = "/node/params"
PING = "/node/ping"
PONG = "/node/pong"
MAX_DATAGRAM = 8192  # a frame holds at most 256 latent dimensions: about 1.3 kB


@dataclass(frozen=True)
class FrameRow:
    """One analysis row as the node gets it."""

    session: int
    seq: int
    time: float  # timeline seconds of its audio
    heard_at: float  # the engine's wall-clock time at which that audio is heard
    beats: int
    onsets: int
    features: np.ndarray
    latent: np.ndarray
    controls: np.ndarray | None


def _blob(values: np.ndarray | None) -> bytes:
    return b"" if values is None else np.ascontiguousarray(values, dtype=">f4").tobytes()


def encode_frame(row: FrameRow) -> bytes:
    message = encode_typed(FRAME, (row.session, "i"), (row.seq, "i"), (row.time, "d"), (row.beats, "i"),
                       (row.onsets, "i"), (_blob(row.features), "b"), (_blob(row.latent), "b"),
                       (_blob(row.controls), "b"))
    return encode_bundle(row.heard_at, message)


def encode_params(session: int, version: int, params: dict[str, object]) -> bytes:
    return encode_typed(PARAMS, (session, "i"), (version, "i"), (json.dumps(params), "s"))


def encode_ping(seq: int, sent_at: float, frames: int) -> bytes:
    return encode_typed(PING, (seq, "i"), (sent_at, "d"), (frames, "i"))


def encode_pong(seq: int, t1: float, t2: float, t3: float) -> bytes:
    return encode_typed(PONG, (seq, "i"), (t1, "d"), (t2, "d"), (t3, "d"))


class ProtocolError(ValueError):
    """A message of ours with the wrong arguments (counted and dropped by the receiver)."""


def _floats(blob: object, what: str) -> np.ndarray:
    if not isinstance(blob, bytes) or len(blob) % 4:
        raise ProtocolError(f"{what}: expected a float32 blob")
    return np.frombuffer(blob, dtype=">f4").astype(np.float32)


def decode_frame(message: TimedMessage, n_features: int) -> FrameRow:
    args = message.args
    if len(args) != 8 or message.when is None:
        raise ProtocolError(f"{FRAME}: expected a time-tagged bundle with 8 arguments, got {len(args)}")
    session, seq, time_s, beats, onsets = args[:5]
    if not all(isinstance(v, int) for v in (session, seq, beats, onsets)) or not isinstance(time_s, float):
        raise ProtocolError(f"{FRAME}: wrong argument types")
    features = _floats(args[5], "features")
    if features.shape[0] != n_features:
        raise ProtocolError(f"{FRAME}: {features.shape[0]} features, this node knows {n_features}")
    controls = _floats(args[7], "controls")
    return FrameRow(session, seq, time_s, message.when, beats, onsets, features, _floats(args[6], "latent"),
                    controls if controls.size else None)


def decode_params(message: TimedMessage) -> tuple[int, int, dict[str, object]]:
    args = message.args
    if len(args) != 3 or not isinstance(args[0], int) or not isinstance(args[1], int) or not isinstance(args[2], str):
        raise ProtocolError(f"{PARAMS}: expected SESSION VERSION JSON")
    try:
        params = json.loads(args[2])
    except ValueError as exc:
        raise ProtocolError(f"{PARAMS}: bad JSON: {exc}") from None
    if not isinstance(params, dict):
        raise ProtocolError(f"{PARAMS}: expected a JSON object")
    return args[0], args[1], params


def decode_doubles(message: TimedMessage, count: int) -> tuple[int, list[float], tuple[object, ...]]:
    """SEQ, then `count` doubles, then the rest (ping: FRAMES)."""
    args = message.args
    if len(args) < 1 + count or not isinstance(args[0], int) or not all(
            isinstance(v, float) for v in args[1:1 + count]):
        raise ProtocolError(f"{message.address}: expected SEQ and {count} times")
    return args[0], [float(v) for v in args[1:1 + count]], args[1 + count:]


def parse_host_port(text: str, what: str) -> tuple[str, int]:
    """"HOST:PORT" (or ":PORT", "PORT") -> (host, port); bad text raises ValueError naming `what`."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{what} {text!r}: expected HOST:PORT, e.g. 192.168.1.20:9100") from None
    if not 0 < port < 65536:
        raise ValueError(f"{what} {text!r}: port must be 1..65535")
    return host.strip("[]"), port
