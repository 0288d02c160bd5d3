"""The host steal watch: /proc/stat's steal counters turned into stalls the lookahead can cover."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

from engine.audio.host_steal import HostStealWatch, StealStretches, parse_steal


def stat_text(steal: dict[str, int]) -> str:
    """A /proc/stat in the kernel's layout: user nice system idle iowait irq softirq steal guest guest_nice."""
    lines = [f"cpu  10 0 5 1000 0 0 0 {sum(steal.values())} 0 0"]
    lines += [f"{cpu} 5 0 2 500 0 0 0 {ticks} 0 0" for cpu, ticks in steal.items()]
    return "\n".join(lines + ["intr 12345", "ctxt 678"]) + "\n"


def test_parse_reads_each_cpus_steal_column() -> None:
    assert parse_steal(stat_text({"cpu0": 7, "cpu1": 42})) == {"cpu0": 7, "cpu1": 42}
    assert parse_steal("cpu  1 2 3 4\ncpu0 1 2 3 4\n") == {}  # a kernel without the column


def test_only_the_cpus_this_process_may_use_count() -> None:
    text = stat_text({"cpu0": 7, "cpu1": 42, "cpu2": 3})
    assert parse_steal(text, {0, 2}) == {"cpu0": 7, "cpu2": 3}
    watch = HostStealWatch(lambda seconds: None, read=lambda: text, cpus={5})
    assert not watch.readable()  # none of the counters is for a CPU it may run on


def test_this_machines_counters_parse() -> None:
    stat = Path("/proc/stat")
    if stat.exists():
        assert parse_steal(stat.read_text()), "every Linux since 2.6.11 has the steal column"


def test_stretches_sum_consecutive_steal_and_close_when_quiet() -> None:
    s = StealStretches(tick=0.01)
    assert s.update(0.0, {"cpu0": 0, "cpu1": 0}) == []  # the first reading is the baseline
    assert s.update(0.02, {"cpu0": 4, "cpu1": 0}) == [("cpu0", 0.04)]
    grown = s.update(0.04, {"cpu0": 10, "cpu1": 0})
    assert [(cpu, round(sec, 3)) for cpu, sec in grown] == [("cpu0", 0.1)]  # one 100 ms stall, seen in two reads
    assert s.update(0.06, {"cpu0": 10, "cpu1": 0}) == [] and s.open_cpus == {"cpu0"}
    s.update(0.2, {"cpu0": 10, "cpu1": 0})  # quiet for longer than QUIET_SECONDS: the stretch is over
    assert s.open_cpus == set()
    assert s.update(0.22, {"cpu0": 13, "cpu1": 0})[0][1] == 0.03  # the next stall counts afresh


def test_the_watch_reports_a_stall_once_it_is_seen() -> None:
    readings = itertools.chain([stat_text({"cpu0": 0, "cpu1": 0})] * 3, [stat_text({"cpu0": 0, "cpu1": 10})],
                               itertools.repeat(stat_text({"cpu0": 0, "cpu1": 10})))
    seen: list[float] = []
    done = threading.Event()

    def on_stall(seconds: float) -> None:
        seen.append(seconds)
        done.set()

    watch = HostStealWatch(on_stall, read=lambda: next(readings), sample_seconds=0.001, tick=0.01)
    watch.start()
    try:
        assert done.wait(5.0), "the stall was never reported"
    finally:
        watch.stop()
        watch.join(2.0)
    assert seen == [0.1]
    assert watch.stalls == 1 and watch.longest == 0.1


def test_no_counters_no_thread() -> None:
    watch = HostStealWatch(lambda seconds: None, read=lambda: "cpu  1 2 3 4\n")
    watch.start()
    assert watch.ident is None  # nothing to watch: no thread was started


def test_the_status_line_names_host_stalls() -> None:
    from engine.session.model_policy import ModelTiming
    from engine.session.status import SessionStatus, StatusLine

    fields = {name: None for name in SessionStatus.__dataclass_fields__}
    base = {**fields, "seconds": 1.0, "cpu_load": 0.1, "cpu_load_mean": 0.1, "underruns": 0, "samplerate": 48000,
            "latency": {"total_s": 0.18}, "model": "m", "scene": "s", "model_timing": ModelTiming(1.0, 2.0, 0.02),
            "device": {"state": "playing"}, "osc": {}, "errors": [], "meters": {}}
    calm = StatusLine.render(SessionStatus(**{**base, "lookahead": {"host_stalls": 0}})).plain
    stolen = StatusLine.render(SessionStatus(**{**base, "lookahead": {"host_stalls": 3,
                                                                      "longest_host_stall_ms": 100.0}})).plain
    assert "host stalls" not in calm
    assert "host stalls 3 (longest 100.0 ms)" in stolen
