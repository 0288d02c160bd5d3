"""The master meters to OSC clients that asked with `/meters/subscribe [PORT]`, ten times a second.

Each message is `/engine/meters PEAK_DB TRUE_PEAK_DB SHORT_LUFS INTEGRATED_LUFS GAIN_REDUCTION_DB`
(the last second's peaks, 3 s and gated loudness, the limiter's largest reduction in the last
second). The sender reads whatever callable it is given, so the control path never imports the
render graph, and it sends nothing while nobody listens.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from engine.control.feedback import Subscribers
from engine.control.osc_codec import encode_message
from engine.control.periodic_sender import PeriodicSender

METERS_HZ = 10.0


class MeterSender(PeriodicSender):
    def __init__(self, sock: socket.socket, subscribers: Subscribers,
                 meters: Callable[[], Sequence[float]] | None, rate_hz: float = METERS_HZ) -> None:
        super().__init__("osc-meters", sock, subscribers, rate_hz)
        self.meters = meters

    def packets_now(self) -> list[bytes]:
        if self.meters is None:
            return []
        return [encode_message("/engine/meters", *(float(v) for v in self.meters()))]
