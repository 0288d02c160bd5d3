"""The loaded atlas to `/explore/subscribe` clients: all of it to a client when it subscribes, and to
every subscriber when a new atlas loads; then where the walk plays on the map (`/explore/position`).
The messages are encoded once, when the atlas loads, and their number is bounded
(engine/explore/messages.py), so a subscribe costs a bounded burst of datagrams and nothing else."""

from __future__ import annotations

import logging
import socket

from engine.control.feedback import Client, Subscribers
from engine.control.osc_codec import encode_message

log = logging.getLogger(__name__)


class AtlasSender:
    def __init__(self, sock: socket.socket, subscribers: Subscribers) -> None:
        self.sock = sock
        self.subscribers = subscribers
        self._datagrams: tuple[bytes, ...] = ()  # replaced whole: readers on other threads never lock
        self.sent = 0

    def publish(self, messages: list[tuple[str, list[object]]]) -> None:
        """A new atlas (or none: an empty list): encode it and send it to every subscriber."""
        self._datagrams = tuple(encode_message(address, *args) for address, args in messages)
        for client in self.subscribers:
            self.send_to(client)

    def send_to(self, client: Client) -> None:
        for datagram in self._datagrams:
            try:
                self.sock.sendto(datagram, client)
                self.sent += 1
            except OSError:  # a client that went away: the feedback stream notices it as well
                log.debug("atlas to %s:%d failed", *client)
                return

    def send_position(self, x: float, y: float, z: float) -> None:
        """`/explore/position X Y Z` to every subscriber (the session calls it a few times a second)."""
        datagram = encode_message("/explore/position", x, y, z)
        for client in self.subscribers:
            try:
                self.sock.sendto(datagram, client)
            except OSError:
                continue
