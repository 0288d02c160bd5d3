"""Bad input costs a few log lines and a summary, never one line (or one set entry) per packet."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from osc_fixtures import Listener, make_hub

from engine.control.feedback import Feedback, Subscribers
from engine.control.hub import MAX_ERROR_KINDS
from engine.control.rate_limit import LogLimiter, clip
from engine.params.store import ParamStore
from engine.params.table import build_param_table


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_gets_its_burst_then_its_rate_then_one_summary(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limiter = LogLimiter(logging.getLogger("test.limit"), "bad messages", rate=3.0, burst=5, interval=5.0,
                         clock=clock)
    caplog.set_level(logging.WARNING, "test.limit")
    for i in range(10_000):  # 2,000 a second for 5 s
        clock.now = 100.0 + i * 0.0005
        kind = "malformed packet" if i % 10 == 0 else "unknown address"
        limiter.log("osc 127.0.0.1", kind, logging.WARNING, "bad %d", i)
    logged = [int(r.getMessage().split()[1]) for r in caplog.records]
    assert len(logged) == 5 + 14  # the burst, then 3 a second for the other 5 s
    clock.now = 105.1
    assert limiter.flush() == 1
    malformed = 1000 - sum(1 for i in logged if i % 10 == 0)
    assert caplog.records[-1].getMessage() == (f"osc 127.0.0.1: 9,981 more bad messages in 5.1 s "
                                               f"(unknown address {9981 - malformed:,}, malformed packet {malformed})")
    assert limiter.flush(final=True) == 0  # nothing left to say
    clock.now = 110.0
    assert limiter.log("osc 127.0.0.1", "malformed packet", logging.WARNING, "bad %d", -1)  # the budget refilled


def test_senders_have_their_own_budgets_and_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limiter = LogLimiter(logging.getLogger("test.limit"), "bad messages", rate=1.0, burst=1, max_keys=8,
                         total_rate=20.0, clock=clock)
    caplog.set_level(logging.WARNING, "test.limit")
    for _ in range(50):
        limiter.log("osc 10.0.0.1", "unknown address", logging.WARNING, "from the flooder")
    assert limiter.log("osc 10.0.0.2", "unknown address", logging.WARNING, "from someone else")
    for i in range(10_000):  # a flood from many addresses
        limiter.log(f"osc 10.1.{i // 256}.{i % 256}", "malformed packet", logging.WARNING, "spoofed")
    assert limiter.keys == 8
    clock.now += 5.0
    assert limiter.flush() == 8 + 1  # one line per tracked sender, one for all the forgotten ones
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:4] == ["from the flooder", "from someone else", "spoofed", "spoofed"]  # 4 x burst in all
    assert len(messages) == 4 + 9 and messages[-1] == (
        "other senders: 10,039 more bad messages in 5 s (malformed packet 9,990, unknown address 49)")


def test_clip_escapes_and_shortens_client_text() -> None:
    assert clip("/rave/energy") == "/rave/energy"
    assert clip("/a\nWARNING fake line") == "/a\\nWARNING fake line"
    long = clip("/" + "y" * 5000)
    assert len(long) < 140 and long.endswith("... (5,001 chars)")


def test_hub_errors_stay_bounded_whatever_the_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hub = make_hub(tmp_path)
    seen: list[tuple[str, str]] = []
    hub.add_error_listener(lambda source, address, message: seen.append((address, message)))
    caplog.set_level(logging.WARNING, "engine.control.hub")
    for i in range(20_000):
        hub.report_error("osc 127.0.0.1", f"/nope/{i}/" + "z" * (i % 700), f"kind {i}: detail {'q' * i}")
    assert len(hub.errors) == MAX_ERROR_KINDS + 1 and hub.errors["other"] == 20_000 - MAX_ERROR_KINDS
    assert len(caplog.records) <= 10  # the burst, and a few more while the loop ran
    assert max(len(a) for a, _ in seen) < 140 and max(len(m) for _, m in seen) < 260
    assert len(seen) == 20_000  # listeners still hear every one (the feedback applies its own budget)


def test_error_feedback_is_bounded_then_summarised() -> None:
    listener = Listener()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    subscribers = Subscribers()
    subscribers.add(("127.0.0.1", listener.port))
    feedback = Feedback(ParamStore(build_param_table(4)), sock, subscribers, max_errors_per_second=20)
    try:
        for i in range(1000):
            feedback.on_error("osc 127.0.0.1", f"/nope/{i}", "unknown address: /nope")
        assert feedback.send_error_summaries(final=True) == 1
        received = listener.wait_for(lambda r: any("more errors" in str(args[2]) for _, args in r))
        errors = [args for address, args in received if address == "/engine/error"]
        assert len(errors) == 21 and feedback.stats["errors_suppressed"] == 980
        assert errors[-1][:2] == ["engine", "-"] and errors[-1][2].startswith("980 more errors in ")
        assert errors[-1][2].endswith("(unknown address 980)")
    finally:
        sock.close()
        listener.close()
