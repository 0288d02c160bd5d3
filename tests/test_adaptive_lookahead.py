"""The adaptive lookahead's rules, on a made-up clock: grow after a near-miss, shrink while steady."""

from __future__ import annotations

import pytest

from engine.audio.adaptive_lookahead import HISTORY, AdaptiveLookahead

BLOCK = 256
RATE = 48000


def steady(la: AdaptiveLookahead, start: float, seconds: float, drain: int = BLOCK) -> float:
    """Feed fills that dip `drain` frames below the target, every 10 ms."""
    t = start
    while t < start + seconds:
        la.observe(la.frames - drain, t)
        t += 0.01
    return t


def test_starts_within_bounds_in_whole_blocks() -> None:
    assert AdaptiveLookahead(1000, 512, 4096, BLOCK, RATE).frames == 1024
    assert AdaptiveLookahead(100, 512, 4096, BLOCK, RATE).frames == 512
    assert AdaptiveLookahead(10_000, 512, 4096, BLOCK, RATE).frames == 4096
    with pytest.raises(ValueError, match="0 < min <= max"):
        AdaptiveLookahead(1000, 4096, 512, BLOCK, RATE)


def test_grows_after_a_near_miss_once_per_stall() -> None:
    la = AdaptiveLookahead(2048, 512, 8192, BLOCK, RATE)
    t = steady(la, 0.0, 1.0)
    for _ in range(5):  # one stall seen by five polls: one near-miss
        la.observe(100, t)
        t += 0.001
    assert la.frames == 3072 and la.near_misses == 1
    assert la.history[-1].reason.startswith("near-miss: fill 100")
    t = steady(la, t, 0.3)  # refilled (re-armed), then a second stall grows it again
    la.observe(100, t)
    assert la.frames == 4608


def test_a_stall_grows_it_to_cover_the_same_stall_again() -> None:
    """The decoder did not look for 100 ms (its CPU was taken away): 1.5x would not cover that again."""
    la = AdaptiveLookahead(2048, 512, 16384, BLOCK, RATE)
    t = steady(la, 0.0, 1.0)  # looks every 10 ms, the last at t - 0.01
    la.observe(256, t - 0.01 + 0.1)
    assert la.frames >= 0.1 * RATE + BLOCK > 2048 * 1.5
    assert la.history[-1].reason.endswith(", 100 ms since the decoder last looked")
    covered = la.frames
    t = steady(la, t + 0.1, 200.0)  # steady for minutes: still covered, the host will do it again
    assert la.frames == covered
    steady(la, t, 400.0)  # five minutes after the stall it may shrink again
    assert la.frames < covered


def test_a_host_stall_on_another_cpu_is_covered_before_it_hits_the_decoder() -> None:
    """The steal watch saw the host take a CPU away for 100 ms: the lookahead grows at its next look,
    by the stall plus twice the running decode time plus a block, without a near-miss, and keeps it."""
    la = AdaptiveLookahead(2048, 512, 16384, BLOCK, RATE)
    for _ in range(200):
        la.note_decode(0.012)
    t = steady(la, 0.0, 1.0)
    la.host_stall(0.1)
    assert la.frames == 2048  # reported from another thread: applied by the decoder's own next look
    la.observe(la.frames, t)
    assert la.frames == 6400  # 25 blocks cover 100 + 2 x 12 ms + a block
    assert la.near_misses == 0
    assert la.history[-1].reason == "the host took a CPU away for 100 ms: covering such a stall"
    t = steady(la, t, 200.0)
    assert la.frames == 6400
    la.host_stall(0.04)  # a shorter stall later neither shrinks the cover nor renews less of it
    la.observe(la.frames, t)
    steady(la, t, 200.0)
    assert la.frames == 6400


def test_the_refill_after_a_big_host_stall_cover_is_no_near_miss() -> None:
    big = AdaptiveLookahead(2048, 512, 65536, BLOCK, RATE)
    steady(big, 0.0, 1.0)
    big.host_stall(0.3)
    big.observe(2048, 1.0)  # the ring holds the old target, under a quarter of the new one while it fills
    big.observe(2048, 1.01)
    assert big.near_misses == 0 and big.frames == 14848


def test_underrun_grows_and_max_bounds() -> None:
    la = AdaptiveLookahead(2048, 512, 2560, BLOCK, RATE)
    la.observe(2048, 0.0, underruns=0)
    la.observe(2048, 0.01, underruns=1)
    assert la.frames == 2560 and la.history[-1].reason == "underrun"


def test_shrinks_slowly_while_steady_down_to_the_minimum() -> None:
    la = AdaptiveLookahead(4096, 1024, 8192, BLOCK, RATE)
    t = steady(la, 0.0, 5.05)
    assert la.frames == 3840  # one block (10 % rounded down to whole blocks) after one steady window
    steady(la, t, 120.0)
    assert la.frames == 1024
    assert all("steady" in c.reason for c in list(la.history)[1:])


def test_never_shrinks_below_twice_the_deepest_drain() -> None:
    la = AdaptiveLookahead(4096, 256, 8192, BLOCK, RATE)
    steady(la, 0.0, 60.0, drain=1500)  # fill dips 1500 frames each time (a slow decode call)
    assert la.frames >= 3000


def test_history_is_bounded() -> None:
    la = AdaptiveLookahead(2048, 256, 8192, BLOCK, RATE)
    la.steady_seconds = la.max_steady_seconds = 0.1
    t = 0.0
    for _ in range(3 * HISTORY):  # each round shrinks once, then a near-miss grows it
        t = steady(la, t, 0.15)
        la.observe(0, t)
        t += 0.3
    assert len(la.history) == HISTORY
    report = la.report(48000)
    assert len(report["history"]) == HISTORY  # type: ignore[arg-type]
    assert report["near_misses"] == 3 * HISTORY


def test_repeated_near_misses_hold_the_lookahead_longer() -> None:
    la = AdaptiveLookahead(2048, 512, 16384, BLOCK, RATE)
    t = steady(la, 0.0, 1.0)
    for _ in range(3):  # three stalls a second apart
        la.observe(100, t)
        t = steady(la, t + 0.001, 1.0)
    grown = la.frames
    t = steady(la, t, 30.0)  # after three near-misses a shrink needs 40 s of steady play
    assert la.frames == grown
    t = steady(la, t, 12.0)
    assert la.frames < grown
    shrunk = la.frames
    steady(la, t, 21.0)  # the next needs half that
    assert la.frames < shrunk
