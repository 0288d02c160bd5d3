"""The master meters to OSC clients that asked with `/meters/subscribe [PORT]`, ten times a second.

Each message is `/engine/meters PEAK_DB TRUE_PEAK_DB SHORT_LUFS INTEGRATED_LUFS GAIN_REDUCTION_DB`
(the last second's peaks, 3 s and gated loudness, the limiter's largest reduction in the last
second). The sender reads whatever callable it is given, so the control path never imports the
render graph, and it sends nothing while nobody listens.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Sequence

from engine.control.feedback import Subscribers
from engine.control.osc_codec import encode_message

METERS_HZ = 10.0


class MeterSender(threading.Thread):
    def __init__(self, sock: socket.socket, subscribers: Subscribers,
                 meters: Callable[[], Sequence[float]] | None, rate_hz: float = METERS_HZ) -> None:
        super().__init__(name="osc-meters", daemon=True)
        self.sock = sock
        self.subscribers = subscribers
        self.meters = meters
        self.period = 1.0 / rate_hz
        self.stats = {"sent": 0, "send_failures": 0}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.send_once()

    def send_once(self) -> None:
        clients = list(self.subscribers)
        if not clients or self.meters is None:
            return
        packet = encode_message("/engine/meters", *(float(v) for v in self.meters()))
        for client in clients:
            try:
                self.sock.sendto(packet, client)
                self.stats["sent"] += 1
            except OSError:
                self.stats["send_failures"] += 1

    def stop(self) -> None:
        self._halt.set()
