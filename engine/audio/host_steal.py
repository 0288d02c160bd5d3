"""Time the host takes from this machine's CPUs (virtual machines), so the lookahead can cover it first.

On a virtual machine the hypervisor can take a virtual CPU away, here for 100 ms at a time, every few
seconds while other guests are busy. Nothing on that CPU runs meanwhile, the decoder and JACK
included, whatever their priority: a queue shorter than the stall empties. The guest kernel counts
that time as "steal" (the eighth number of each ``cpuN`` line of /proc/stat, in USER_HZ ticks).

The host takes any CPU, and the decoder may move to any this process may use, so the first stall on
another of them is warning enough: `HostStealWatch` samples the counters every SAMPLE_SECONDS from a daemon thread and
reports each stretch of steal (its length so far) to a callback, which the session points at the
lookahead (`AdaptiveLookahead.host_stall`). On bare metal, or where /proc/stat has no steal column
(macOS, Windows, old kernels), nothing is ever reported.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

STAT = Path("/proc/stat")
SAMPLE_SECONDS = 0.02  # 50 reads a second, 26 us each here: 0.13 % of a core
QUIET_SECONDS = 0.05  # a CPU with no new steal for this long ends its stretch
MIN_REPORT_SECONDS = 0.02  # one stray tick is accounting noise, not a stall

log = logging.getLogger(__name__)


def tick_seconds() -> float:
    try:
        return 1.0 / os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 0.01  # USER_HZ is 100 on Linux


def parse_steal(stat_text: str, cpus: set[int] | None = None) -> dict[str, int]:
    """Steal ticks per CPU ("cpu0", "cpu1", ...) from /proc/stat's text, only those in `cpus` when
    given; empty without such a column."""
    steal = {}
    for line in stat_text.splitlines():
        parts = line.split()
        per_cpu = parts and parts[0].startswith("cpu") and parts[0] != "cpu" and len(parts) > 8
        if per_cpu and (cpus is None or int(parts[0][3:]) in cpus):
            steal[parts[0]] = int(parts[8])
    return steal


def usable_cpus() -> set[int] | None:
    """The CPUs this process may run on (a container or `taskset` may allow fewer than the machine
    has: a stall elsewhere cannot reach the decoder); None where the platform cannot say."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


class StealStretches:
    """Turns successive counter readings into stretches of steal per CPU (pure logic, no clock of its own)."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self._last: dict[str, int] | None = None
        self._open: dict[str, tuple[float, float]] = {}  # cpu -> (seconds stolen so far, when it last grew)

    @property
    def open_cpus(self) -> set[str]:
        return set(self._open)

    def update(self, now: float, ticks: dict[str, int]) -> list[tuple[str, float]]:
        """Feed one reading; returns (cpu, seconds stolen in its stretch so far) for each stretch that grew."""
        grown = []
        last, self._last = self._last, ticks
        if last is None:
            return grown
        for cpu, count in ticks.items():
            stolen = (count - last.get(cpu, count)) * self.tick
            if stolen > 0:
                total = self._open.get(cpu, (0.0, now))[0] + stolen
                self._open[cpu] = (total, now)
                grown.append((cpu, total))
            elif cpu in self._open and now - self._open[cpu][1] > QUIET_SECONDS:
                del self._open[cpu]
        return grown


class HostStealWatch(threading.Thread):
    """Reports each stretch of host steal of at least MIN_REPORT_SECONDS to `on_stall(seconds)` as it
    grows. `start()` does nothing where the counters cannot be read."""

    def __init__(self, on_stall: Callable[[float], None], read: Callable[[], str] = STAT.read_text,
                 sample_seconds: float = SAMPLE_SECONDS, tick: float | None = None,
                 cpus: set[int] | None = None) -> None:
        super().__init__(name="host-steal", daemon=True)
        self.on_stall = on_stall
        self.read = read
        self.cpus = cpus if cpus is not None else usable_cpus()
        self.sample_seconds = sample_seconds
        self.stretches = StealStretches(tick if tick is not None else tick_seconds())
        self.longest = 0.0  # the longest stretch seen: the status line names it
        self.stalls = 0  # stretches reported
        self._halt = threading.Event()

    def readable(self) -> bool:
        try:
            return bool(parse_steal(self.read(), self.cpus))
        except (OSError, ValueError):
            return False

    def start(self) -> None:
        if self.readable():
            super().start()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        reported: set[str] = set()  # CPUs whose open stretch has been reported (and counted)
        while not self._halt.wait(self.sample_seconds):
            try:
                ticks = parse_steal(self.read(), self.cpus)
            except (OSError, ValueError):
                return  # the counters went away: nothing more to learn
            for cpu, seconds in self.stretches.update(time.monotonic(), ticks):
                if seconds < MIN_REPORT_SECONDS:
                    continue
                if cpu not in reported:
                    self.stalls += 1
                    reported.add(cpu)
                if seconds > self.longest:
                    self.longest = seconds
                    log.warning("the host took %s away for %.0f ms (virtual machine steal time): the lookahead "
                                "now covers such a stall", cpu, seconds * 1e3)
                self.on_stall(seconds)
            reported &= self.stretches.open_cpus
