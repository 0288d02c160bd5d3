"""Budgets for reporting bad input, so a client flooding junk costs a few lines, not one per packet.

`RateLimiter` gives each key (a sender) a token bucket: `rate` reports a second, bursts of
`burst`, and all keys together share one more (`total_rate`), so a flood from many addresses
is held too. What it refuses is counted by kind, and once `interval` seconds have passed since the
first refusal `due()` hands out one `Summary` ("osc 127.0.0.1: 9,871 more bad messages in 5 s
(unknown address 9,000, malformed packet 871)"). Memory stays bounded whatever clients send: at
most `max_keys` keys are tracked (the least recently heard is forgotten, its refusals folded into
one "other senders" count), with at most `max_kinds` kinds each. `LogLimiter` writes through a logger on that budget; `clip` makes
client text safe to quote in one log line or reply.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

CLIENT_TEXT_LIMIT = 120
OTHER_KIND = "other"
OTHER_KEYS = "other senders"


def clip(text: str, limit: int = CLIENT_TEXT_LIMIT) -> str:
    """Client text for a log line or a reply: control characters escaped, about `limit` characters at most."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    if len(shown) <= limit:
        return shown
    return f"{shown[:limit - 3]}... ({len(text):,} chars)"


@dataclass(frozen=True)
class Summary:
    key: str
    seconds: float
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self, what: str) -> str:
        """"9,871 more bad messages in 5 s (unknown address 9,000, malformed packet 871)"."""
        by_kind = ", ".join(f"{kind} {n:,}" for kind, n in sorted(self.counts.items(), key=lambda kv: -kv[1]))
        return f"{self.total:,} more {what} in {round(self.seconds, 1):g} s ({by_kind})"

    def text(self, what: str) -> str:
        return f"{self.key}: {self.describe(what)}"


@dataclass
class _Bucket:
    tokens: float
    refilled: float
    first_refused: float = 0.0  # when the oldest refusal not yet summarised happened
    refused: Counter[str] = field(default_factory=Counter)

    def take(self, now: float, rate: float, burst: int) -> bool:
        self.tokens = min(float(burst), self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class RateLimiter:
    """Thread-safe token buckets per key, counting refusals by kind for periodic summaries."""

    def __init__(self, *, rate: float, burst: int, interval: float, total_rate: float | None = None,
                 total_burst: int | None = None, max_keys: int = 64, max_kinds: int = 16,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`total_rate` (default: no shared limit) and `total_burst` (default `4 * burst`) bound all keys together."""
        self.rate = rate
        self.burst = burst
        self.total_rate = total_rate
        self.total_burst = 4 * burst if total_burst is None else total_burst
        self.interval = interval
        self.max_keys = max_keys
        self.max_kinds = max_kinds
        self.clock = clock
        self.allowed = 0
        self.refused = 0
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently heard first
        self._others = _Bucket(0.0, clock())  # refusals of forgotten keys, summarised together
        self._next_scan = 0.0
        self._total = _Bucket(float(self.total_burst), clock())
        self._lock = threading.Lock()

    @property
    def keys(self) -> int:
        return len(self._buckets)

    def allow(self, key: str, kind: str) -> bool:
        """Take one report from `key`'s budget; False (and counted under `kind`) when it is spent."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
                if len(self._buckets) > self.max_keys:
                    self._forget_oldest(now)
            else:
                self._buckets.move_to_end(key)
            if bucket.take(now, self.rate, self.burst) and (
                    self.total_rate is None or self._total.take(now, self.total_rate, self.total_burst)):
                self.allowed += 1
                return True
            self._count(bucket, kind, 1, now)
            self.refused += 1
            return False

    def _count(self, bucket: _Bucket, kind: str, n: int, since: float) -> None:
        if not bucket.refused:
            bucket.first_refused = since
        if kind not in bucket.refused and len(bucket.refused) >= self.max_kinds:
            kind = OTHER_KIND
        bucket.refused[kind] += n

    def due(self, *, final: bool = False) -> list[Summary]:
        """Summaries of keys whose first unreported refusal is `interval` old (every one when `final`).

        Cheap to call often: the keys are scanned at most every `interval / 5` seconds."""
        now = self.clock()
        due: list[Summary] = []
        with self._lock:
            if final or now >= self._next_scan:
                self._next_scan = now + self.interval / 5
                for key, bucket in (*self._buckets.items(), (OTHER_KEYS, self._others)):
                    if bucket.refused and (final or now - bucket.first_refused >= self.interval):
                        due.append(self._summarise(key, bucket, now))
        return due

    def _summarise(self, key: str, bucket: _Bucket, now: float) -> Summary:
        summary = Summary(key, now - bucket.first_refused, dict(bucket.refused))
        bucket.refused = Counter()
        return summary

    def _forget_oldest(self, now: float) -> None:
        _, bucket = self._buckets.popitem(last=False)
        for kind, n in bucket.refused.items():
            self._count(self._others, kind, n, bucket.first_refused)


class LogLimiter(RateLimiter):
    """A logger on a budget: `log()` writes or counts, and summary lines say what was left out."""

    def __init__(self, logger: logging.Logger, what: str, *, rate: float = 3.0, burst: int = 5,
                 interval: float = 5.0, total_rate: float | None = 20.0, max_keys: int = 64,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rate=rate, burst=burst, interval=interval, total_rate=total_rate, max_keys=max_keys,
                         clock=clock)
        self.logger = logger
        self.what = what  # the noun of the summary line: "bad messages"

    def log(self, key: str, kind: str, level: int, msg: str, *args: object, exc_info: bool = False) -> bool:
        """`logger.log(level, msg, *args)` if `key` has budget left; then any summaries due."""
        allowed = self.allow(key, kind)
        if allowed:
            self.logger.log(level, msg, *args, exc_info=exc_info)
        self.flush()
        return allowed

    def flush(self, *, final: bool = False) -> int:
        """Write the summary lines that are due (all pending ones when `final`); returns how many."""
        summaries = self.due(final=final)
        for summary in summaries:
            self.logger.warning("%s", summary.text(self.what))
        return len(summaries)
