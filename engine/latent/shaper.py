"""Latent controls applied to one frame: style blend, texture, chaos, energy, per-dimension scale and bias."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np

from engine.latent.energy import EnergyCalibration, EnergyMap
from engine.latent.sources import PriorWalk, ReferenceLoop
from engine.params.store import ParamStore

REFERENCE_GLIDE_SECONDS = 0.25  # a reference loaded (or unloaded) live glides in over this
TEXTURE_SECONDS = 0.25  # time constant of the texture variation: faster than the walk, slower than chaos
CHAOS_STD = 1.5  # latent noise standard deviation at /rave/chaos = 1


class LatentShaper:
    """Builds each latent frame from the sources and the smoothed, modulated control values.

    Every random stream has its own generator, so turning one control up never changes
    the random sequence another control sees: renders stay comparable across settings.
    """

    def __init__(self, store: ParamStore, latent_size: int, frame_seconds: float,
                 references: Mapping[str, ReferenceLoop], seed_sequence: np.random.SeedSequence,
                 energy: EnergyMap | None = None) -> None:
        # spawn(4)[:3] equals spawn(3): the second walk leaves the older streams as they were.
        walk_seed, texture_seed, chaos_seed, walk2_seed = seed_sequence.spawn(4)
        self.latent_size = latent_size
        self.energy = energy or EnergyMap(EnergyCalibration.neutral(latent_size))
        self.references = dict(references)
        # Live loads (/rave/reference/a|b) arrive from a loader thread (deque appends are atomic) and
        # glide in: name -> (what played before, or None for the walk; frames of the glide done).
        self._offered: deque[tuple[str, ReferenceLoop | None]] = deque()
        self._glides: dict[str, tuple[ReferenceLoop | None, int]] = {}
        self._glide_frames = max(1, round(REFERENCE_GLIDE_SECONDS / frame_seconds))
        self.unshaped = np.zeros(latent_size)  # the last frame before energy, bias and scale (model B's input)
        self.input_latent: np.ndarray | None = None  # the latest encoded live-input frame
        self.walk = PriorWalk(latent_size, frame_seconds, np.random.default_rng(walk_seed))
        self.walk2 = PriorWalk(latent_size, frame_seconds, np.random.default_rng(walk2_seed))  # source B's default
        # The region both walks wander in: centre + spread * walk (the prior: 0 and 1). An atlas moves it
        # into a cluster's region (engine/explore/steering.py).
        self.walk_centre = np.zeros(latent_size)
        self.walk_spread = np.ones(latent_size)
        self._texture = PriorWalk(latent_size, frame_seconds, np.random.default_rng(texture_seed))
        self._texture_speed = np.log(TEXTURE_SECONDS / PriorWalk.SLOW_SECONDS) / np.log(
            PriorWalk.FAST_SECONDS / PriorWalk.SLOW_SECONDS)
        self._chaos_rng = np.random.default_rng(chaos_seed)
        idx = store.continuous_index
        self._energy_i, self._chaos_i, self._texture_i, self._style_i, self._walk_speed_i = (
            idx[f"/rave/{name}"] for name in ("energy", "chaos", "texture", "style", "walk_speed"))
        self._bpm_i = idx["/tempo/bpm"]
        self._ref_bpm_i = idx["/tempo/reference_bpm"]
        self._bias = np.array([idx[f"/rave/latent/{d}/bias"] for d in range(latent_size)])
        self._scale = np.array([idx[f"/rave/latent/{d}/scale"] for d in range(latent_size)])

    def frame(self, source_a: str, source_b: str, controls: np.ndarray) -> np.ndarray:
        """One latent frame (latent_size,) from the discrete source choices and the control vector."""
        # Scalars as Python floats: cheaper than numpy scalars, the same arithmetic.
        speed = float(controls[self._walk_speed_i])
        walk = self.walk_centre + self.walk_spread * self.walk.step(speed)
        current: dict[str, np.ndarray] = {"walk2": self.walk_centre + self.walk_spread * self.walk2.step(speed)}
        while self._offered:
            self._take_reference(*self._offered.popleft())
        if self.references or self._glides:  # advance every reference each frame: switching keeps musical time
            rate = float(controls[self._bpm_i]) / float(controls[self._ref_bpm_i])
            current.update((name, ref.step(rate)) for name, ref in self.references.items())
            if self._glides:
                self._glide(current, walk, rate)
        a = self._pick(source_a, walk, current)
        b = self._pick(source_b, walk, current)
        style = float(controls[self._style_i])
        z = (1.0 - style) * a + style * b
        z += float(controls[self._texture_i]) * self._texture.step(self._texture_speed)
        chaos_noise = self._chaos_rng.standard_normal(self.latent_size)
        z += float(controls[self._chaos_i]) * CHAOS_STD * chaos_noise
        self.unshaped = z
        z = self.energy.shape(z, float(controls[self._energy_i]))
        return controls[self._scale] * z + controls[self._bias]

    def offer_reference(self, name: str, loop: ReferenceLoop | None) -> None:
        """Any thread: play `loop` as source `name` (ref1, ref2) from the next frame, gliding in over
        REFERENCE_GLIDE_SECONDS; None unloads it (the source glides back to the walk)."""
        self._offered.append((name, loop))

    def _take_reference(self, name: str, loop: ReferenceLoop | None) -> None:
        if loop is not None and loop.latents.shape[0] != self.latent_size:
            return  # encoded by a model that is no longer playing: the loader encodes it again
        outgoing = self.references.pop(name, None)
        if loop is not None:
            self.references[name] = loop
        self._glides[name] = (outgoing, 0)

    def _glide(self, current: dict[str, np.ndarray], walk: np.ndarray, rate: float) -> None:
        for name, (outgoing, done) in list(self._glides.items()):
            w = (done + 1) / self._glide_frames
            before = outgoing.step(rate) if outgoing is not None else walk
            current[name] = (1.0 - w) * before + w * current.get(name, walk)
            if done + 1 >= self._glide_frames:
                del self._glides[name]
            else:
                self._glides[name] = (outgoing, done + 1)

    def _pick(self, source: str, walk: np.ndarray, current: Mapping[str, np.ndarray]) -> np.ndarray:
        z = self.input_latent if source == "input" else current.get(source)
        if z is None:  # "walk", or a source nobody loaded: the walk keeps playing
            return walk
        if z.shape[0] != self.latent_size:
            raise ValueError(f"reference {source} has {z.shape[0]} latent dims, the model has {self.latent_size}")
        return z
