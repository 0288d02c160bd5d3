"""Time the hypervisor takes from this machine's CPUs: a sampling process reading /proc/stat's steal.

On a virtual machine a virtual CPU can be descheduled by the host. No thread on that CPU runs
meanwhile, whatever its priority: the engine's, JACK's, anyone's. The guest kernel counts that time
as "steal" (the eighth number of each `cpuN` line, in 10 ms ticks). This process samples it every
10 ms and reports each stretch in which a CPU lost time, with the machine's monotonic clock, so a
soak can tell an underrun the host caused from one the engine caused.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.connection import Connection

from engine.audio.host_steal import STAT, StealStretches, parse_steal, tick_seconds

TICK_S = tick_seconds()
SAMPLE_S = 0.01


def read_steal() -> dict[str, int]:
    """Steal ticks per CPU ("cpu0", "cpu1", ...); empty where /proc/stat has no such column."""
    return parse_steal(STAT.read_text())


def _sample(conn: Connection) -> None:
    events: list[dict[str, object]] = []
    open_events: dict[str, dict[str, object]] = {}  # cpu -> its event while the stretch lasts
    stretches = StealStretches(TICK_S)  # the engine's own rule: 50 ms without steal closes a stretch
    stretches.update(time.monotonic(), read_steal())
    while not conn.poll(SAMPLE_S):
        now = time.monotonic()
        for cpu, seconds in stretches.update(now, read_steal()):
            event = open_events.get(cpu)
            if event is None:
                event = open_events[cpu] = {"cpu": cpu, "monotonic": now, "ms": 0.0}
                events.append(event)
            event["ms"] = seconds * 1e3
        for cpu in set(open_events) - stretches.open_cpus:
            del open_events[cpu]
    conn.send(events)


class StealMonitor:
    """`with StealMonitor() as steal:` ... then `steal.events` (each: cpu, monotonic start, ms stolen)."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self._conn, child = mp.Pipe()
        self._process = mp.Process(target=_sample, args=(child,), daemon=True, name="steal-monitor")

    def __enter__(self) -> StealMonitor:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        if self._conn.poll(10.0):
            self.events = self._conn.recv()
        self._process.join(5.0)

    def since(self, start: float, at_least_ms: float = 30.0) -> list[dict[str, object]]:
        """Stretches of at least `at_least_ms`, timed in seconds from `start` (a time.monotonic())."""
        return [{"seconds": round(float(e["monotonic"]) - start, 3), "cpu": e["cpu"], "ms": round(float(e["ms"]), 1)}
                for e in self.events if float(e["ms"]) >= at_least_ms]
