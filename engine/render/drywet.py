"""`/rave/drywet`: the dry input mixed with the model's output, equal-power, time-aligned.

Both render graphs mix at the model rate, before the output gain and the resampler, so dry and wet
go through the same gain ramp and the same resampling delay. Alignment is by construction: each dry
frame travels with what the model made of it (the latent encoded from it, or the effect's output of
it), so dry and wet line up sample for sample, whatever the lookahead.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

MAX_PENDING_FRAMES = 3  # input frames in hand before the oldest are dropped: bounds the added latency


def drywet_gains(amount: float) -> tuple[float, float]:
    """(dry, wet) equal-power gains: cos and sin of amount x 90 degrees (-3.01 dB each at 0.5)."""
    angle = 0.5 * math.pi * min(max(amount, 0.0), 1.0)
    return math.cos(angle), math.sin(angle)


class DryWetMixer:
    """Mixes one frame at a time; the gains ramp across a frame from the previous frame's, so a
    fader move never clicks."""

    def __init__(self) -> None:
        self._amount: float | None = None

    def mix(self, wet: np.ndarray, dry: np.ndarray | None, amount: float) -> np.ndarray:
        """`wet` (samples, channels); `dry` (samples,) or (samples, channels), or None for silence.
        Returns a new float32 array; at amount 1 it is `wet` itself, untouched (no cost when unused)."""
        start = amount if self._amount is None else self._amount
        self._amount = amount
        if amount >= 1.0 and start >= 1.0:
            return wet
        n = wet.shape[0]
        ramp = np.linspace(start, amount, n, endpoint=False, dtype=np.float64) if start != amount else amount
        angle = 0.5 * np.pi * np.clip(ramp, 0.0, 1.0)
        wet_gain = np.sin(angle)
        out = wet * (wet_gain[:, None] if np.ndim(wet_gain) else wet_gain)
        if dry is not None:
            dry_2d = dry[:, None] if dry.ndim == 1 else dry
            if dry_2d.shape[1] != wet.shape[1]:  # a mono input spreads to every output channel
                dry_2d = dry_2d[:, np.arange(wet.shape[1]) % dry_2d.shape[1]]
            dry_gain = np.cos(angle)
            out += dry_2d[:n] * (dry_gain[:, None] if np.ndim(dry_gain) else dry_gain)
        return out.astype(np.float32, copy=False)


class InputFrames:
    """Encoded input frames waiting for the render: (latent, dry samples at the model rate) pairs.

    The render takes one pair per latent frame, so the latent decoded and the dry samples mixed with
    it come from the same stretch of input. When the input runs ahead (a stall in the render), the
    oldest pairs are dropped; when it falls behind, the render holds the last latent and mixes
    silence (counted), and from then on keeps one frame in hand.
    """

    def __init__(self) -> None:
        self._pending: deque[tuple[np.ndarray | None, np.ndarray]] = deque()
        self.pushed = 0
        self.dropped = 0
        self.starved = 0  # frames rendered without input after input began

    def push(self, latent: np.ndarray | None, dry: np.ndarray) -> None:
        """`latent` is None for a model without an encoder: the dry signal still plays."""
        self._pending.append((latent, dry))
        self.pushed += 1
        while len(self._pending) > MAX_PENDING_FRAMES:
            self._pending.popleft()
            self.dropped += 1

    def pop(self) -> tuple[np.ndarray | None, np.ndarray] | None:
        if not self._pending:
            self.starved += int(self.pushed > 0)
            return None
        return self._pending.popleft()

    def __len__(self) -> int:
        return len(self._pending)
