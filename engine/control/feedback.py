"""OSC feedback: every parameter change, from any source, goes back to the subscribed clients.

The feedback thread polls `store.snapshot()` at most `rate_hz` times a second and sends each
value that changed since its last look as `ADDRESS value` (plus the mapped controller address
with the control's position, so TouchOSC faders follow scene morphs and MIDI). Polling the
immutable snapshot costs the writers nothing, and the rate limit bounds the traffic however
fast the decoder's timeline writes. Errors reported to the hub go out as
`/engine/error SOURCE ADDRESS MESSAGE`, at most `max_errors_per_second` (a flood of bad
packets must not become a flood of replies); what that leaves out is summarised once a second
as `/engine/error engine - "N more errors in 1 s (KIND COUNT, ...)"`.
"""

from __future__ import annotations

import logging
import socket
import threading

from engine.control.hub import error_kind
from engine.control.osc_codec import encode_message
from engine.control.osc_routes import OscRoutes
from engine.control.rate_limit import RateLimiter
from engine.params.param import Value
from engine.params.store import ParamStore

log = logging.getLogger(__name__)

Client = tuple[str, int]
MAX_SUBSCRIBERS = 32
ERROR_BUDGET = "subscribers"  # one budget for the error stream: every subscriber gets the same one


class Subscribers:
    """The clients registered with `/engine/subscribe`; safe to use from any thread."""

    def __init__(self, limit: int = MAX_SUBSCRIBERS) -> None:
        self.limit = limit
        self._clients: tuple[Client, ...] = ()
        self._lock = threading.Lock()

    def add(self, client: Client) -> bool:
        """False when the list is full; adding a known client again is fine."""
        with self._lock:
            if client in self._clients:
                return True
            if len(self._clients) >= self.limit:
                return False
            self._clients = (*self._clients, client)
            return True

    def remove(self, client: Client) -> bool:
        with self._lock:
            before = len(self._clients)
            self._clients = tuple(c for c in self._clients if c != client)
            return len(self._clients) < before

    def __iter__(self):  # noqa: ANN204 - an iterator over a tuple taken at once
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    def __contains__(self, client: object) -> bool:
        return client in self._clients


class Feedback(threading.Thread):
    def __init__(self, store: ParamStore, sock: socket.socket, subscribers: Subscribers, *,
                 routes: OscRoutes | None = None, rate_hz: float = 30.0, max_errors_per_second: int = 20) -> None:
        super().__init__(name="osc-feedback", daemon=True)
        if rate_hz <= 0:
            raise ValueError(f"feedback rate_hz must be above 0, got {rate_hz}")
        self.store = store
        self.sock = sock
        self.subscribers = subscribers
        self.routes = routes
        self.interval = 1.0 / rate_hz
        self.max_errors_per_second = max_errors_per_second
        snapshot = store.snapshot()
        self._version = snapshot.version
        self._last: dict[str, Value] = dict(snapshot.values)
        self._halt = threading.Event()
        self._errors = RateLimiter(rate=max_errors_per_second, burst=max_errors_per_second, interval=1.0, max_keys=1)
        self.stats = {"polls": 0, "messages_sent": 0, "errors_sent": 0, "errors_suppressed": 0, "send_failures": 0}

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.poll()
                self.send_error_summaries()
            except Exception:  # one bad send must not end feedback for the whole session
                log.exception("OSC feedback poll failed")

    def poll(self) -> int:
        """Send what changed since the last poll to every subscriber; returns the messages built."""
        snapshot = self.store.snapshot()
        self.stats["polls"] += 1
        if snapshot.version == self._version:
            return 0
        self._version = snapshot.version
        changed = {a: v for a, v in snapshot.values.items() if self._last.get(a) != v}
        self._last.update(changed)
        packets = [encode_message(a, v) for a, v in changed.items()]
        if self.routes is not None:
            packets += [encode_message(src, *pos) for src, pos in self.routes.feedback(changed, self.store)]
        clients = list(self.subscribers)
        for packet in packets:
            for client in clients:
                self._send(packet, client)
        return len(packets)

    def send_all(self, client: Client) -> None:
        """A new subscriber gets every current value at once, so its controls start in sync."""
        values = dict(self.store.snapshot().values)
        for address, value in values.items():
            self._send(encode_message(address, value), client)
        if self.routes is not None:
            for source, positions in self.routes.feedback(values, self.store):
                self._send(encode_message(source, *positions), client)

    def notice(self, address: str, *args: object) -> None:
        """Any thread: an engine notice (`/engine/params_changed` after a model swap) to every subscriber.
        The engine sends a bounded number of them per event; nothing a client sends makes one."""
        packet = encode_message(address, *args)
        for client in list(self.subscribers):
            self._send(packet, client)

    def on_error(self, source: str, address: str, message: str) -> None:
        """Hub error listener (any thread): `/engine/error SOURCE ADDRESS MESSAGE` to subscribers
        (the hub has clipped the client's text), within the error budget."""
        if not self._errors.allow(ERROR_BUDGET, error_kind(message)):
            self.stats["errors_suppressed"] += 1
            return
        self._send_error(source, address, message)

    def send_error_summaries(self, *, final: bool = False) -> int:
        """Tell subscribers how many errors the budget left out (the feedback thread calls it)."""
        summaries = self._errors.due(final=final)
        for summary in summaries:
            self._send_error("engine", "-", summary.describe("errors"))
        return len(summaries)

    def _send_error(self, source: str, address: str, message: str) -> None:
        packet = encode_message("/engine/error", source, address, message)
        for client in list(self.subscribers):
            self._send(packet, client)
            self.stats["errors_sent"] += 1

    def _send(self, packet: bytes, client: Client) -> None:
        try:
            self.sock.sendto(packet, client)
            self.stats["messages_sent"] += 1
        except OSError:  # a vanished client (ICMP unreachable) or a closed socket at shutdown
            self.stats["send_failures"] += 1
