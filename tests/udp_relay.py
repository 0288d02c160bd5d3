"""A UDP relay that makes this machine's loopback behave like a poor network: delay with jitter, and loss.

The engine sends to the relay's port; the relay forwards each datagram to the node from a second
socket, so the node's answers come back to the relay, which forwards them to whoever sent last on
the engine's side. Every datagram, both ways, is dropped with probability `loss` or held for a delay
drawn uniformly from `delay_ms` +- `jitter_ms` (so packets overtake each other, as on a real
network). One thread, sleeping in `select` until a packet comes or the next one is due.
"""

from __future__ import annotations

import heapq
import random
import select
import socket
import threading
import time
from types import TracebackType


class UdpRelay(threading.Thread):
    def __init__(self, target: tuple[str, int], *, delay_ms: float = 30.0, jitter_ms: float = 10.0,
                 loss: float = 0.02, seed: int = 0) -> None:
        super().__init__(name="udp-relay", daemon=True)
        self.target = target
        self.delay_ms, self.jitter_ms, self.loss = delay_ms, jitter_ms, loss
        self._random = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the engine sends here
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # talks to the node
        self.back.bind(("127.0.0.1", 0))
        self.port: int = self.front.getsockname()[1]
        self._client: tuple[str, int] | None = None
        self._queue: list[tuple[float, int, bytes, socket.socket, tuple[str, int]]] = []
        self._count = 0
        self._halt = threading.Event()
        self.forwarded = 0
        self.dropped = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, data, sock, to = heapq.heappop(self._queue)
                try:
                    sock.sendto(data, to)
                    self.forwarded += 1
                except OSError:
                    self.dropped += 1
            wait = min(0.05, max(0.0, self._queue[0][0] - now)) if self._queue else 0.05
            ready, _, _ = select.select([self.front, self.back], [], [], wait)
            for sock in ready:
                try:
                    data, source = sock.recvfrom(65536)
                except OSError:
                    continue
                if sock is self.front:
                    self._client = source
                    self._hold(data, self.back, self.target)
                elif self._client is not None:
                    self._hold(data, self.front, self._client)

    def _hold(self, data: bytes, sock: socket.socket, to: tuple[str, int]) -> None:
        if self._random.random() < self.loss:
            self.dropped += 1
            return
        delay = self.delay_ms + self._random.uniform(-self.jitter_ms, self.jitter_ms)
        self._count += 1
        heapq.heappush(self._queue, (time.monotonic() + delay / 1000.0, self._count, data, sock, to))

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=2)
        self.front.close()
        self.back.close()

    def __enter__(self) -> UdpRelay:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
