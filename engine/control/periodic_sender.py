"""A thread that sends a stream to its OSC subscribers at a fixed rate, whatever the engine does.

The streams (meters, scope) read latest-value slots the render thread keeps swapping; this thread
reads them at its own rate and sends, so the traffic is bounded by the rate and the subscriber limit,
nothing is sent while nobody listens, and a slow or vanished client costs a counted send failure.
"""

from __future__ import annotations

import socket
import threading

from engine.control.feedback import Subscribers


class PeriodicSender(threading.Thread):
    def __init__(self, name: str, sock: socket.socket, subscribers: Subscribers, rate_hz: float) -> None:
        super().__init__(name=name, daemon=True)
        self.sock = sock
        self.subscribers = subscribers
        self.period = 1.0 / rate_hz
        self.stats = {"sent": 0, "send_failures": 0}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.send_once()

    def packets_now(self) -> list[bytes]:
        """This tick's packets (empty: nothing to send)."""
        raise NotImplementedError

    def send_once(self) -> None:
        clients = list(self.subscribers)
        if not clients:
            return
        packets = self.packets_now()
        for client in clients:
            for packet in packets:
                try:
                    self.sock.sendto(packet, client)
                    self.stats["sent"] += 1
                except OSError:
                    self.stats["send_failures"] += 1

    def stop(self) -> None:
        self._halt.set()
