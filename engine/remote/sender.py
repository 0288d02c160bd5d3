"""The engine's side of a remote visual node: a UDP sender that never makes anyone wait.

The feed thread `offer`s rows (a deque append: when the sender falls behind, the oldest row goes,
counted) and parameter sets (only the newest is kept). This thread encodes and sends them with a
non-blocking socket, answers the node's pings on the same socket (so the node can measure the
network and the clocks), and watches for the node: no ping for `GONE_SECONDS` and it says once that
the node vanished, and once that it is back when pings return. It keeps sending meanwhile, so a
restarted node has pictures at once. Nothing here touches the audio threads.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from engine.control.osc_codec import OscPacketError, parse_packet
from engine.remote.protocol import (
    MAX_DATAGRAM,
    PING,
    FrameRow,
    ProtocolError,
    decode_doubles,
    encode_frame,
    encode_params,
    encode_pong,
)

log = logging.getLogger(__name__)

QUEUE_ROWS = 64  # about 0.75 s of rows at 86 a second: a sender further behind drops the oldest
PARAMS_EVERY_SECONDS = 1.0
GONE_SECONDS = 2.0  # eight missed pings
WAKE_SECONDS = 0.02
MAX_EVENTS = 16


class RemoteVisualSender(threading.Thread):
    def __init__(self, host: str, port: int, *, session: int | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
        """`host`, `port`: the node's `--listen` address (resolved here: a bad name fails now, in one line).
        `session`: the engine run's id in every message (random if not given; one per engine start, shared
        by its senders). `on_event`: called on this thread with the one-line news of the node vanishing
        or coming back."""
        super().__init__(name="visual-remote", daemon=True)
        try:
            family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except OSError as exc:
            raise ValueError(f"--visual-remote {host}:{port}: cannot resolve {host!r} ({exc})") from None
        self.target = f"{host}:{port}"
        self._address = address
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self.session = session if session is not None else new_session_id()
        self._rows: deque[FrameRow] = deque(maxlen=QUEUE_ROWS)
        self._params: dict[str, object] | None = None
        self._params_version = 0
        self._params_sent_at = 0.0
        self._params_due = False
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._on_event = on_event
        self.rows_sent = 0
        self.rows_dropped = 0  # the queue was full: the oldest went
        self.send_errors = 0
        self.pings = 0
        self.bad_packets = 0
        self.node_frames = 0
        self.node_state = "waiting"  # waiting (never heard), present, gone
        self._last_ping = 0.0
        self._created_at = time.monotonic()
        self._nudged = False  # said once that nobody answers yet
        self.events: deque[str] = deque(maxlen=MAX_EVENTS)

    # --- the feed thread ------------------------------------------------------------------
    def offer_row(self, row: FrameRow) -> None:
        """Never waits: a full queue loses its oldest row (counted)."""
        if len(self._rows) == QUEUE_ROWS:
            self.rows_dropped += 1
        self._rows.append(row)
        self._wake.set()

    def offer_params(self, params: dict[str, object]) -> None:
        self._params = dict(params)
        self._params_version += 1
        self._params_due = True
        self._wake.set()

    # --- this thread ------------------------------------------------------------------------
    def stop(self) -> None:
        self._halt.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout=2)
        self._sock.close()

    def run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(WAKE_SECONDS)
            self._wake.clear()
            try:
                self._receive()
                self._send_params(time.monotonic())
                while self._rows:
                    self._send(encode_frame(self._rows.popleft()))
                    self.rows_sent += 1
                self._watch(time.monotonic())
            except Exception:  # the sender must outlive any surprise; the audio never notices
                self.send_errors += 1
                if self.send_errors == 1:
                    log.exception("visual remote sender")

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendto(data, self._address)
        except OSError:  # a full socket buffer, no route, the node's port closed (ICMP): drop, count
            self.send_errors += 1

    def _send_params(self, now: float) -> None:
        if self._params is None:
            return
        if self._params_due or now - self._params_sent_at >= PARAMS_EVERY_SECONDS:
            self._params_due = False
            self._params_sent_at = now
            self._send(encode_params(self.session, self._params_version, self._params))

    def _receive(self) -> None:
        while True:
            try:
                data, source = self._sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP port unreachable reported on a later call: the node is not there yet
                continue
            received = time.time()
            try:
                messages, _ = parse_packet(data)
                for message in messages:
                    if message.address != PING:
                        raise ProtocolError(f"unexpected {message.address}")
                    seq, (t1,), rest = decode_doubles(message, 1)
                    self._sock.sendto(encode_pong(seq, t1, received, time.time()), source)
                    self.pings += 1
                    self._last_ping = time.monotonic()
                    if rest and isinstance(rest[0], int):
                        self.node_frames = rest[0]
            except (OscPacketError, ProtocolError, OSError):
                self.bad_packets += 1

    def _watch(self, now: float) -> None:
        heard = self._last_ping > 0 and now - self._last_ping < GONE_SECONDS
        if heard and self.node_state != "present":
            back = self.node_state == "gone"
            self.node_state = "present"
            self._params_due = True  # a node that just started wants the look at once
            self._say(f"visual node {self.target} is back" if back else f"visual node {self.target} is here")
        elif not heard and self.node_state == "waiting" and not self._nudged and now - self._created_at > GONE_SECONDS * 3:
            self._nudged = True
            self._say(f"visual node {self.target} does not answer yet (is `visuals serve --listen ...:{self._address[1]}` "
                      "running there, and its UDP port open?); sending anyway")
        elif not heard and self.node_state == "present":
            self.node_state = "gone"
            self._say(f"visual node {self.target} vanished (no answer for {GONE_SECONDS:.0f} s); "
                      "still sending, the audio plays on")

    def _say(self, line: str) -> None:
        self.events.append(line)
        log.warning("%s", line)
        if self._on_event is not None:
            try:
                self._on_event(line)
            except Exception:
                log.exception("visual remote listener failed")

    def stats(self) -> dict[str, object]:
        return {"target": self.target, "session": self.session, "node": self.node_state,
                "node_frames": self.node_frames, "rows_sent": self.rows_sent, "rows_dropped": self.rows_dropped,
                "send_errors": self.send_errors, "pings": self.pings, "bad_packets": self.bad_packets,
                "events": list(self.events)}


def new_session_id() -> int:
    return random.randrange(1, 2**31)
