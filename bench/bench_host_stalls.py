"""Does this machine stall threads by itself? A sleeping thread, no engine, beside N spinning processes.

A Python thread sleeps 2 ms at a time for `--seconds` while N processes each spin a core in pure
Python (N from `--spinners`, e.g. 1,2: the issue's load is two). Each wake-up more than 15 ms late
is a stall; for each, the steal time (`/proc/stat`, steal_monitor.py) each CPU gained over it says
whether the host took the CPU away. On a machine that does not stall, no wake-up is more than a few
milliseconds late; no buffer shorter than a stall survives it, whatever runs in it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from steal_monitor import TICK_S, read_steal  # noqa: E402

LATE_S = 0.015


def probe(seconds: float, spinners: int) -> dict[str, object]:
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(spinners)]
    stalls = []
    wakeups = 0
    try:
        time.sleep(1.0)  # the spinners are running
        start = last = time.monotonic()
        steal = read_steal()
        while last - start < seconds:
            time.sleep(0.002)
            now, now_steal = time.monotonic(), read_steal()
            wakeups += 1
            if now - last > LATE_S:
                stolen = {cpu: round((ticks - steal.get(cpu, ticks)) * TICK_S * 1e3) for cpu, ticks in now_steal.items()}
                stalls.append({"seconds": round(now - start, 3), "ms": round((now - last) * 1e3, 1),
                               "steal_ms": {cpu: ms for cpu, ms in stolen.items() if ms}})
            last, steal = now, now_steal
    finally:
        for process in busy:
            process.terminate()
    with_steal = [s for s in stalls if s["steal_ms"]]
    return {"spinners": spinners, "seconds": seconds, "wakeups": wakeups, "stalls": len(stalls),
            "stalls_over_50ms": sum(s["ms"] > 50 for s in stalls),
            "stalls_with_steal": len(with_steal),
            "median_stall_ms": statistics.median(s["ms"] for s in stalls) if stalls else 0.0,
            "longest": sorted(stalls, key=lambda s: -s["ms"])[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="per spinner count")
    parser.add_argument("--spinners", default="1,2", help="comma list of spinning-process counts")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if not read_steal():
        sys.exit("bench_host_stalls: no per-CPU steal column in /proc/stat (not Linux?)")
    results = []
    for n in (int(x) for x in args.spinners.split(",")):
        results.append(probe(args.seconds, n))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "longest"}), file=sys.stderr, flush=True)
    text = json.dumps({"late_threshold_ms": LATE_S * 1e3, "results": results}, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
