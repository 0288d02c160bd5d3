"""Latent sources: where each latent frame comes from before the controls shape it."""

from __future__ import annotations

import math

import numpy as np


class PriorWalk:
    """A smooth random walk that stays distributed as the prior N(0, 1) (an Ornstein-Uhlenbeck process).

    `speed` 0..1 maps to a time constant from 20 s (slow drift) to 0.3 s (restless).
    """

    SLOW_SECONDS = 20.0
    FAST_SECONDS = 0.3

    def __init__(self, latent_size: int, frame_seconds: float, rng: np.random.Generator) -> None:
        self._rng = rng
        self._dt = frame_seconds
        self.z = rng.standard_normal(latent_size)

    def step(self, speed: float) -> np.ndarray:
        tau = self.SLOW_SECONDS * (self.FAST_SECONDS / self.SLOW_SECONDS) ** speed
        a = math.exp(-self._dt / tau)
        self.z = a * self.z + math.sqrt(1.0 - a * a) * self._rng.standard_normal(self.z.shape[0])
        return self.z


class ReferenceLoop:
    """Latents encoded from a reference clip, looped, read at a variable rate (tempo).

    The time axis is interpolated linearly between frames: at rate 1.5 the loop plays 1.5x faster
    and its period in output frames shrinks by the same factor.
    """

    def __init__(self, latents: np.ndarray, name: str = "reference") -> None:
        if latents.ndim != 2 or latents.shape[1] < 1:
            raise ValueError(f"reference latents must be (dims, frames), got {latents.shape}")
        self.name = name
        self.latents = np.ascontiguousarray(latents, dtype=np.float64)
        self.position = 0.0

    @property
    def frames(self) -> int:
        return self.latents.shape[1]

    def step(self, rate: float) -> np.ndarray:
        n = self.frames
        i = int(self.position)
        frac = self.position - i
        z = (1.0 - frac) * self.latents[:, i] + frac * self.latents[:, (i + 1) % n]
        self.position = (self.position + rate) % n
        return z
