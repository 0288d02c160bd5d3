"""The decoder's lookahead, adapted to how the machine is doing: it grows after a near-miss (the
ring fell below a safety mark, or the device underran) and shrinks slowly while playback is steady,
the more slowly the more near-misses it has seen lately, within the user's bounds. Every change is kept (bounded) for the report.

A near-miss grows it by GROW_FACTOR, or, where the decoder had not looked for longer (it was
stalled: on a virtual machine the host takes a virtual CPU away for 100 ms at a time, and nothing on
that CPU runs meanwhile), to the stall plus a block, so the same stall again finds audio queued.
Such a machine stalls again, minutes apart: for STALL_MEMORY_SECONDS after one the lookahead does
not shrink below what covers it.

The host takes either CPU, so a stall seen on any of them (`host_stall`, reported by
engine/audio/host_steal.py from the kernel's steal counters) grows it the same way before one hits
the decoder: to the stall, plus the longest a decode keeps the decoder from topping up (twice its
running mean decode time, see `note_decode`), plus a block.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

HISTORY = 64  # changes kept for the report (the oldest go first)
SAFETY_FRACTION = 0.25  # a fill below this share of the target is a near-miss
GROW_FACTOR = 1.5
GROW_COOLDOWN_SECONDS = 0.25  # one stall is one near-miss, however many polls see it
STEADY_SECONDS = 5.0  # a window without near-misses after which the lookahead may shrink
SHRINK_FRACTION = 0.1  # per steady window, at least one block
KEEP_FACTOR = 2.0  # never shrink below this many times the deepest drain seen in the window
# Trouble comes back: each near-miss doubles the steady time the next shrink needs (up to two minutes),
# and each shrink halves it again, so a machine that stalls every minute keeps its lookahead while
# one that stalled once returns to the floor within minutes.
HOLD_FACTOR = 2.0
MAX_STEADY_SECONDS = 120.0
STALL_MEMORY_SECONDS = 300.0
DECODE_MEAN_WEIGHT = 0.05  # the running mean of decode times follows about the last 20 decodes
DECODE_MARGIN = 2.0  # a decode under load takes up to about twice its running mean


@dataclass(frozen=True)
class LookaheadChange:
    seconds: float  # since the first observation
    frames: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 3), "frames": self.frames, "reason": self.reason}


class AdaptiveLookahead:
    """Frames the decoder keeps queued. `observe()` is called by the decoder thread each time round its
    loop with the ring's fill; it returns the (possibly new) target. Whole blocks only."""

    def __init__(self, initial_frames: int, min_frames: int, max_frames: int, blocksize: int, rate: float) -> None:
        if not 0 < min_frames <= max_frames:
            raise ValueError(f"lookahead bounds must satisfy 0 < min <= max, got {min_frames}..{max_frames}")
        self.blocksize = blocksize
        self.rate = rate
        self.min_frames = self._blocks(min_frames)
        self.max_frames = max(self.min_frames, (max_frames // blocksize) * blocksize)
        self.frames = min(max(self._blocks(initial_frames), self.min_frames), self.max_frames)
        self.steady_seconds = STEADY_SECONDS
        self.max_steady_seconds = MAX_STEADY_SECONDS
        self._steady_needed = STEADY_SECONDS
        self.history: deque[LookaheadChange] = deque(maxlen=HISTORY)
        self.near_misses = 0
        self._start: float | None = None
        self._armed = False  # re-armed once the fill is back above the mark after a near-miss
        self._last_grow = -math.inf
        self._window_start = 0.0
        self._window_low = self.frames
        self._underruns = 0
        self._last_look: float | None = None
        self._stall_cover = 0  # frames that cover the last stall, kept until STALL_MEMORY_SECONDS after it
        self._stall_at = -math.inf
        self._host_stalls: deque[float] = deque(maxlen=16)  # from the steal watch's thread (deque: thread-safe)
        self._decode_seconds = 0.0

    def _blocks(self, frames: int) -> int:
        return max(1, math.ceil(frames / self.blocksize)) * self.blocksize

    @property
    def started(self) -> float | None:
        """The clock reading of the first observation, which the history's seconds count from."""
        return self._start

    @property
    def mark(self) -> int:
        return max(self.blocksize, int(self.frames * SAFETY_FRACTION))

    def host_stall(self, seconds: float) -> None:
        """The host took a CPU away for `seconds` (any thread may call this); the next `observe` covers it."""
        self._host_stalls.append(seconds)

    def note_decode(self, seconds: float) -> None:
        """One model decode took `seconds` (called by the decoder thread)."""
        self._decode_seconds += (seconds - self._decode_seconds) * DECODE_MEAN_WEIGHT

    def observe(self, fill: int, now: float, underruns: int = 0) -> int:
        if self._start is None:
            self._start = self._window_start = now
            self._underruns = underruns
            self._record(now, "start")
        while self._host_stalls:
            self._cover_host_stall(now, self._host_stalls.popleft())
        underran = underruns > self._underruns
        self._underruns = underruns
        stalled = 0.0 if self._last_look is None else now - self._last_look  # since the decoder last looked
        self._last_look = now
        if fill >= self.mark:
            self._armed = True
        if underran or (self._armed and fill < self.mark):
            if now - self._last_grow >= GROW_COOLDOWN_SECONDS:
                self._grow(now, "underrun" if underran else f"near-miss: fill {fill} < mark {self.mark}", stalled)
            self._armed = False
            self._reset_window(now)
            return self.frames
        self._window_low = min(self._window_low, fill)
        if now - self._window_start >= max(self.steady_seconds, min(self._steady_needed, self.max_steady_seconds)):
            self._shrink(now)
            self._steady_needed = max(self.steady_seconds, self._steady_needed / HOLD_FACTOR)
            self._reset_window(now)
        return self.frames

    def _grow(self, now: float, reason: str, stalled: float) -> None:
        self.near_misses += 1
        self._last_grow = now
        self._steady_needed = min(self.max_steady_seconds, max(self._steady_needed, self.steady_seconds) * HOLD_FACTOR)
        grown = self._blocks(int(self.frames * GROW_FACTOR))
        cover = self._stall_frames(stalled)
        if cover > grown:
            grown = cover
            self._remember_stall(now, min(self.max_frames, cover))
            reason += f", {stalled * 1e3:.0f} ms since the decoder last looked"
        grown = min(self.max_frames, grown)
        if grown != self.frames:
            self.frames = grown
            self._record(now, reason)

    def _cover_host_stall(self, now: float, stall: float) -> None:
        cover = min(self.max_frames, self._stall_frames(stall + DECODE_MARGIN * self._decode_seconds))
        self._remember_stall(now, cover)
        if cover > self.frames:
            self.frames = cover
            self._armed = False  # the ring is below the new mark until the decoder has filled it: no near-miss
            self._steady_needed = min(self.max_steady_seconds, max(self._steady_needed, self.steady_seconds) * HOLD_FACTOR)
            self._reset_window(now)
            self._record(now, f"the host took a CPU away for {stall * 1e3:.0f} ms: covering such a stall")

    def _stall_frames(self, seconds: float) -> int:
        """Frames that cover a stall of `seconds`: the stall in whole blocks, plus a block."""
        return self._blocks(int(seconds * self.rate)) + self.blocksize

    def _remember_stall(self, now: float, cover: int) -> None:
        """Keep the largest cover of the stalls of the last STALL_MEMORY_SECONDS."""
        fresh = now - self._stall_at < STALL_MEMORY_SECONDS
        self._stall_cover = max(cover, self._stall_cover) if fresh else cover
        self._stall_at = now

    def _shrink(self, now: float) -> None:
        drained = max(0, self.frames - self._window_low)
        step = max(1, int(self.frames * SHRINK_FRACTION) // self.blocksize) * self.blocksize
        stall = self._stall_cover if now - self._stall_at < STALL_MEMORY_SECONDS else 0
        target = max(self.min_frames, self.frames - step, self._blocks(int(KEEP_FACTOR * drained)), stall)
        if target < self.frames:
            self.frames = target
            self._record(now, f"steady {now - self._window_start:.0f} s: deepest drain {drained} frames")

    def _reset_window(self, now: float) -> None:
        self._window_start = now
        self._window_low = self.frames

    def _record(self, now: float, reason: str) -> None:
        self.history.append(LookaheadChange(now - (self._start or now), self.frames, reason))

    def report(self, samplerate: float) -> dict[str, object]:
        return {"frames": self.frames, "ms": round(self.frames / samplerate * 1000, 2),
                "min_frames": self.min_frames, "max_frames": self.max_frames, "near_misses": self.near_misses,
                # list() copies under the GIL: the decoder thread may append while a status is built
                "history": [c.as_dict() for c in list(self.history)]}
