"""The decode setting chosen at load: frames per call x threads, the lowest latency with headroom,
and the refusal that names every setting tried and the latency it would need."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_factories import make_conv_decoder_model

from engine.errors import ModelLoadError
from engine.session.decode_choice import DecodeCost, choose, latency_seconds
from engine.session.model_policy import auto_lookahead, load_playable

FRAME = 2048 / 44100  # 46.4 ms


def cost(n: int, threads: int, call_ms: float, worst_ms: float | None = None) -> DecodeCost:
    return DecodeCost(n, threads, call_ms, worst_ms or call_ms, call_ms / (n * FRAME * 1000))


# Shaped like the full-size RAVE v2 export here: ~28 ms alone, ~15 ms per frame at 4, ~7 at 8.
HEAVY = [cost(1, 1, 40.0), cost(2, 1, 50.0), cost(4, 1, 60.0), cost(8, 1, 56.0),
         cost(1, 2, 38.0), cost(2, 2, 45.0), cost(4, 2, 70.0), cost(8, 2, 60.0)]


def test_one_frame_per_call_wins_when_it_has_headroom() -> None:
    light = [cost(n, t, 0.8 * n ** 0.5) for t in (1, 2) for n in (1, 2, 4, 8)]
    best, note = choose(light, FRAME, "m.ts")
    assert (best.frames_per_call, best.threads, note) == (1, 1, "")


def test_heavy_model_batches_to_the_lowest_latency_that_has_headroom() -> None:
    best, note = choose(HEAVY, FRAME, "heavy.ts")
    assert note == ""
    assert best.realtime_factor <= 0.7
    assert (best.frames_per_call, best.threads) == (2, 2)  # 45 ms per 2 frames: RTF 0.48
    assert latency_seconds(best, FRAME) < latency_seconds(cost(4, 1, 60.0), FRAME)


def test_without_headroom_the_lowest_real_time_factor_plays_with_a_note() -> None:
    tight = [cost(1, 1, 42.0), cost(2, 1, 80.0)]  # RTF 0.91 and 0.86
    best, note = choose(tight, FRAME, "tight.ts")
    assert best.frames_per_call == 2
    assert "without headroom" in note and "tight.ts" in note


def test_hopeless_model_is_refused_naming_what_was_tried_and_the_latency_needed() -> None:
    slow = [cost(n, t, 35.0 + 40.0 * n) for t in (1, 2) for n in (1, 2, 4, 8)]  # 40 ms a frame at best
    with pytest.raises(ModelLoadError) as info:
        choose(slow, FRAME, "slow.ts")
    message = str(info.value)
    assert "slow.ts: too slow for real time" in message
    for n in (1, 2, 4, 8):
        for t in (1, 2):
            assert f"{n}x{t}t: RTF" in message
    assert "no number of frames per call would do" in message
    assert "\n" not in message


def test_refusal_estimates_frames_per_call_and_latency_when_batching_would_help() -> None:
    overhead = [cost(n, 1, 400.0 + 2.0 * n) for n in (1, 2, 4, 8)]  # per-call overhead dominates
    with pytest.raises(ModelLoadError, match=r"about 14 frames per call on 1 thread\(s\), a latency of about \d+ ms"):
        choose(overhead, FRAME, "overhead.ts")


def test_load_measures_and_chooses_a_setting(tmp_path: Path) -> None:
    model, timing = load_playable(make_conv_decoder_model(tmp_path, layers=4))
    assert timing.tried and all(c.realtime_factor > 0 for c in timing.tried)
    assert (timing.frames_per_call, timing.threads) in {(c.frames_per_call, c.threads) for c in timing.tried}
    assert timing.realtime_factor <= 0.7
    assert auto_lookahead(timing, 256, 48000) >= 2


def test_forced_setting_is_the_only_one_measured(tmp_path: Path) -> None:
    _, timing = load_playable(make_conv_decoder_model(tmp_path, layers=4), frames_per_call=4, threads=1)
    assert [(c.frames_per_call, c.threads) for c in timing.tried] == [(4, 1)]
    assert (timing.frames_per_call, timing.threads) == (4, 1)


def test_load_refuses_a_model_no_setting_plays(tmp_path: Path) -> None:
    """One sample per latent frame (22.7 us at 44.1 kHz): no decode call is ever that fast."""
    path = make_conv_decoder_model(tmp_path, width=256, layers=8, strides=())
    with pytest.raises(ModelLoadError, match=r"too slow for real time .*8x2t: RTF \d+\.\d+.*latency|would do"):
        load_playable(path)
