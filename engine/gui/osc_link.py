"""The console's one OSC socket to the engine: send, receive, and know whether the engine is there.

Receiving happens on the GUI thread through a QSocketNotifier on a non-blocking UDP socket, so no
thread hands data across; each wake-up drains what is queued (at most MAX_READ packets, so a flood
cannot freeze the window) and calls the handler registered for each address. A heartbeat asks
`/engine/status` twice a second: no reply for STALE_SECONDS means the engine is gone; the first reply
after that (a restarted engine on the same port) subscribes to every stream again, and whoever
listens to `connected_changed` re-reads the parameter table.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

from PySide6 import QtCore

from engine.control.osc_codec import OscPacketError, encode_message, parse_packet

log = logging.getLogger(__name__)

Handler = Callable[[str, list[object]], None]
HEARTBEAT_MS = 500
STALE_SECONDS = 2.0
MAX_READ = 2000  # packets per wake-up; the rest wait for the next one
# The atlas stream is optional: an engine without one refuses it once per connection (not shown as an error).
OPTIONAL_STREAMS = ("/explore/subscribe", "/explore/unsubscribe")
STREAMS = ("/engine/subscribe", "/analysis/subscribe", "/meters/subscribe", "/scope/subscribe", OPTIONAL_STREAMS[0])
UNSUBSCRIBE = {s: s.replace("/subscribe", "/unsubscribe") for s in STREAMS}


def parse_target(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`) as a UDP address; ValueError naming the text when it is not one."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--connect {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9000") from None
    if not 0 < number < 65536:
        raise ValueError(f"--connect {text!r}: port must be 1..65535")
    return host or "127.0.0.1", number


class EngineLink(QtCore.QObject):
    """`connected_changed(True)` on the first status reply after none; `(False)` when replies stop."""

    connected_changed = QtCore.Signal(bool)

    def __init__(self, host: str, port: int, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.target = (socket.gethostbyname(host), port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(("0.0.0.0" if host not in ("127.0.0.1", "localhost") else "127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.connected = False
        self.atlas_seen = False  # the engine has the optional atlas stream (so unsubscribing is no error)
        self.last_reply = 0.0  # time.monotonic() of the last status reply
        self.stats = {"received": 0, "sent": 0, "malformed": 0, "send_failures": 0}
        self._handlers: dict[str, list[Handler]] = {}
        self._fallback: list[Handler] = []
        self._notifier = QtCore.QSocketNotifier(self.sock.fileno(), QtCore.QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)
        self._heartbeat = QtCore.QTimer(self)
        self._heartbeat.setInterval(HEARTBEAT_MS)
        self._heartbeat.timeout.connect(self._beat)
        self.on("/engine/status/reply", self._status_reply)

    # --- wiring ----------------------------------------------------------------------------
    def on(self, address: str, handler: Handler) -> None:
        self._handlers.setdefault(address, []).append(handler)

    def on_other(self, handler: Handler) -> None:
        """Every address nobody registered for (parameter values, replies to `/engine/get`)."""
        self._fallback.append(handler)

    def start(self) -> None:
        self._heartbeat.start()
        self._beat()

    def close(self) -> None:
        self._heartbeat.stop()
        self._notifier.setEnabled(False)
        if self.connected:
            for stream in STREAMS:
                if stream not in OPTIONAL_STREAMS or self.atlas_seen:
                    self.send(UNSUBSCRIBE[stream])
        self.sock.close()

    # --- traffic ---------------------------------------------------------------------------
    def send(self, address: str, *args: object) -> None:
        try:
            self.sock.sendto(encode_message(address, *args), self.target)
            self.stats["sent"] += 1
        except OSError:  # the engine is away (ICMP unreachable): the heartbeat says so
            self.stats["send_failures"] += 1

    def _read(self) -> None:
        for _ in range(MAX_READ):
            try:
                data, _sender = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ECONNREFUSED from an earlier send to a closed port
                continue
            try:
                messages, _ = parse_packet(data)
            except OscPacketError:
                self.stats["malformed"] += 1
                continue
            for message in messages:
                self.stats["received"] += 1
                self.dispatch(message.address, list(message.args))

    def dispatch(self, address: str, args: list[object]) -> None:
        if address.startswith("/explore/"):
            self.atlas_seen = True
        for handler in self._handlers.get(address) or self._fallback:
            try:
                handler(address, args)
            except Exception:  # one bad message must not stop the console
                log.exception("console: handling %s failed", address)

    # --- liveness --------------------------------------------------------------------------
    def _beat(self) -> None:
        self.send("/engine/status")
        if self.connected and time.monotonic() - self.last_reply > STALE_SECONDS:
            self.connected = False
            self.connected_changed.emit(False)

    def _status_reply(self, _address: str, _args: list[object]) -> None:
        self.last_reply = time.monotonic()
        if not self.connected:
            self.connected = True
            for stream in STREAMS:
                self.send(stream)
            self.connected_changed.emit(True)
