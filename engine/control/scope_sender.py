"""What a console draws but parameters do not say, to clients that asked with `/scope/subscribe [PORT]`.

Thirty times a second each subscriber gets
    /engine/latent Z0 ... Z(n-1)          the latent of the frame now heard (the normalised control space)
    /engine/lfo V0..V3 PHASE0..PHASE3     each LFO's output (-1..1) and phase (0..1)
    /engine/spectrum M0 ... M39           the output's 40 mel bands, log(1 + magnitude), low to high
and, once a second while the visual process runs, `/engine/frames NAME` (its shared-memory frame
buffer, which a console on the same machine may read for a preview).

Contract: the render and feed threads never wait on this. They keep swapping references to their
newest arrays (latest-value slots: a reference swap is atomic under the GIL); this thread reads
whatever `source()` gives it at its own fixed rate and sends it, so the traffic is bounded by the
rate and the subscriber limit however fast the engine renders, and nothing is sent while nobody listens.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.control.feedback import Subscribers
from engine.control.osc_codec import encode_message
from engine.control.periodic_sender import PeriodicSender

SCOPE_HZ = 30.0
FRAMES_EVERY = 30  # ticks between two /engine/frames announcements (one second)


@dataclass(frozen=True)
class ScopeFrame:
    latent: Sequence[float]
    lfo_values: Sequence[float]
    lfo_phases: Sequence[float]
    spectrum: Sequence[float]
    frames_name: str | None = None  # the visual frame buffer's shared-memory name, when visuals run


class ScopeSender(PeriodicSender):
    def __init__(self, sock: socket.socket, subscribers: Subscribers,
                 source: Callable[[], ScopeFrame] | None, rate_hz: float = SCOPE_HZ) -> None:
        super().__init__("osc-scope", sock, subscribers, rate_hz)
        self.source = source
        self._ticks = 0

    def packets(self, frame: ScopeFrame, announce: bool) -> list[bytes]:
        packets = [encode_message("/engine/latent", *(float(v) for v in frame.latent)),
                   encode_message("/engine/lfo", *(float(v) for v in frame.lfo_values),
                                  *(float(v) for v in frame.lfo_phases))]
        if len(frame.spectrum):
            packets.append(encode_message("/engine/spectrum", *(float(v) for v in frame.spectrum)))
        if announce and frame.frames_name:
            packets.append(encode_message("/engine/frames", frame.frames_name))
        return packets

    def packets_now(self) -> list[bytes]:
        if self.source is None:
            return []
        self._ticks += 1
        return self.packets(self.source(), announce=self._ticks % FRAMES_EVERY == 1)
