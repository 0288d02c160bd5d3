"""Analysis features to OSC clients that asked for them with `/analysis/subscribe [port]`.

Apart from parameter feedback: 86 rows a second is more than a fader display wants, and a patch
that only follows beats should not have to filter them out. Each row goes out as
`/analysis/features f...` (the order of `engine.analysis.features.FEATURE_NAMES`, also listed by
`/analysis/names`), plus `/analysis/beat BPM CONFIDENCE` and `/analysis/onset STRENGTH` when they
happen, so a Pd or Max patch can bang on them directly.
"""

from __future__ import annotations

import socket

import numpy as np

from engine.analysis.features import INDEX
from engine.control.feedback import Client, Subscribers
from engine.control.osc_codec import encode_message


class FeatureSender:
    def __init__(self, sock: socket.socket, subscribers: Subscribers) -> None:
        self.sock = sock
        self.subscribers = subscribers
        self.stats = {"rows_sent": 0, "beats_sent": 0, "onsets_sent": 0, "send_failures": 0}

    def send(self, row: np.ndarray) -> None:
        clients = list(self.subscribers)
        if not clients:
            return
        packets = [encode_message("/analysis/features", *(float(v) for v in row))]
        if row[INDEX["beat"]] > 0.5:
            packets.append(encode_message("/analysis/beat", float(row[INDEX["bpm"]]),
                                          float(row[INDEX["beat_confidence"]])))
            self.stats["beats_sent"] += 1
        if row[INDEX["onset"]] > 0.5:
            packets.append(encode_message("/analysis/onset", float(row[INDEX["onset_strength"]])))
            self.stats["onsets_sent"] += 1
        for client in clients:
            for packet in packets:
                self._send(packet, client)
        self.stats["rows_sent"] += 1

    def _send(self, packet: bytes, client: Client) -> None:
        try:
            self.sock.sendto(packet, client)
        except OSError:
            self.stats["send_failures"] += 1
