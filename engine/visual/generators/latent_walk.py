"""The generator's own latent `z` and how it moves frame to frame; shared by `cppn` and `texture`.

Per frame (`LatentWalk.step`): the analysis row is smoothed, then `z` moves toward a target built from
the audio model latent (through a fixed seeded projection, any length), the audio features, a prompt
direction (the prompt text hashed to a unit vector, slerped over `transition_frames` on a change) and
a slow drift (`speed`). `feedback` is the weight of the cached `z`, `noise_scale` bounds the step and
scales a smooth noise walk, beats and onsets kick `z`; `reset` is a cut: a new home position for `z`
and a new drift phase, the smoothing and the prompt slerp dropped.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from engine.analysis.features import CHROMA_SLICE, INDEX, N_FEATURES
from engine.visual.frame_input import VisualFrame

FEATURE_PULL = ("level", "bass", "low_mid", "high_mid", "high", "centroid", "onset_strength", "flux")


def bounded(value: object, low: float, high: float, default: float) -> float:
    """`value` clipped to low..high; `default` where it is not a finite number (a control must not poison z)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return min(high, max(low, number)) if math.isfinite(number) else default


def prompt_direction(text: str, size: int) -> np.ndarray:
    """A deterministic unit vector for a prompt: the same text always points the same way."""
    digest = hashlib.sha256(text.strip().lower().encode("utf-8")).digest()
    vector = np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal(size)
    return vector / np.linalg.norm(vector)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between unit vectors (linear where they are almost parallel)."""
    dot = float(np.clip(np.dot(a, b), -1.0, 1.0))
    omega = math.acos(dot)
    if omega < 1e-4:
        out = (1.0 - t) * a + t * b
    else:
        out = (math.sin((1.0 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
    return out / max(float(np.linalg.norm(out)), 1e-8)


def transition_frames(frame: VisualFrame) -> float:
    """Frames a prompt or palette change takes (1 = a cut)."""
    return bounded(frame.transition_frames, 1.0, 100000.0, 24.0)


def prompt_target(frame: VisualFrame, size: int) -> np.ndarray:
    """The unit direction in z of this frame's prompt(s): weighted prompts, plus prompt, minus negative."""
    if frame.prompts:
        weights = np.asarray(frame.prompt_weights if frame.prompt_weights is not None
                             else np.ones(len(frame.prompts)), dtype=np.float64).ravel()
        weights = np.resize(np.nan_to_num(weights), len(frame.prompts))
        direction = sum((w * prompt_direction(p, size) for w, p in zip(weights, frame.prompts, strict=True)),
                        np.zeros(size))
        if frame.prompt:
            direction = direction + prompt_direction(frame.prompt, size)
    else:
        direction = prompt_direction(frame.prompt, size)
    if frame.negative_prompt:
        direction = direction - 0.5 * prompt_direction(frame.negative_prompt, size)
    norm = float(np.linalg.norm(direction))
    return direction / norm if norm > 1e-8 else prompt_direction("", size)


class LatentWalk:
    """A generator's latent `z` (the latent cache) and its per-frame motion; see the module docstring.

    What the generator reads after `step`: `z`, `phase` (drift phase, for its own rotation and warp),
    `kick` (beat envelope, decays over a few frames) and `beat_kick` (this frame's beat/onset strength,
    0 on frames without one).
    """

    def __init__(self, size: int, *, seed: int, salt: int, rng: np.random.Generator) -> None:
        """`rng` (the generator's network rng) draws the fixed projections and drift; `salt` seeds the walk."""
        self.size = int(size)
        self.seed = int(seed)
        self._state_seed = [self.seed, int(salt)]
        # Features -> z: the FEATURE_PULL scalars and the chroma profile; then the drift's rates and phases.
        self._feature_projection = rng.standard_normal((size, len(FEATURE_PULL))) * 0.45
        self._chroma_projection = rng.standard_normal((size, 12)) * (1.0 / math.sqrt(12))
        self._drift_rates = rng.uniform(0.35, 1.2, size) * rng.choice((-1.0, 1.0), size)
        self._drift_phases = rng.uniform(0.0, 2.0 * math.pi, size)
        self._latent_projections: dict[int, np.ndarray] = {}
        self.restart()

    def restart(self) -> None:
        """Back to where construction left it: the same seed walks the same way from here."""
        self._rng = np.random.default_rng(self._state_seed)
        self.reset()

    def reset(self, *, hard_cut: bool = False) -> None:
        """Drop the walk's caches; a hard cut also draws a new home position and drift phase (a new look)."""
        size = self.size
        # A seeded home position in z; a cut draws a new one, so the new look stays instead of
        # swooping back to the old one.
        self._base = self._rng.standard_normal(size) * 0.8
        self.z = self._base.copy()
        self._fresh = True  # the next frame places z on its target: no swoop in from nowhere
        self._noise = np.zeros(size)  # smooth noise walk (Ornstein-Uhlenbeck), not per-frame jitter
        self.phase = float(self._rng.uniform(0.0, 200.0)) if hard_cut else 0.0
        self._smoothed: np.ndarray | None = None  # smoothed feature row
        self._audio: np.ndarray | None = None  # smoothed audio pull on z
        self.kick = 0.0  # beat envelope: zoom punch and flash, decays over a few frames
        self.beat_kick = 0.0  # this frame's beat/onset strength
        self._prompt_key: tuple[Any, ...] | None = None
        self._prompt_from = np.zeros(size)
        self._prompt_shown = np.zeros(size)
        self._prompt_progress = 1.0

    def close(self) -> None:
        self._latent_projections.clear()

    def latent_projection(self, size: int) -> np.ndarray:
        """The fixed (self.size, size) map from an audio latent of `size` values to z units."""
        if size not in self._latent_projections:
            rng = np.random.default_rng([self.seed, 0xA0D, size])
            self._latent_projections[size] = rng.standard_normal((self.size, size)) / math.sqrt(size)
        return self._latent_projections[size]

    def step(self, frame: VisualFrame) -> np.ndarray:
        """Advance one frame (a reset cuts first); returns the smoothed feature row the frame should show."""
        if frame.reset:
            self.reset(hard_cut=True)
        raw = np.zeros(N_FEATURES, dtype=np.float64)
        row = np.nan_to_num(np.asarray(frame.features, dtype=np.float64).ravel()[:N_FEATURES])
        raw[: row.size] = row
        # Analysis rows jitter hop to hop; continuous reactions read a smoothed copy (beats and onsets
        # have their own kick), so the picture flows with the music instead of twitching.
        self._smoothed = raw if self._smoothed is None else 0.75 * self._smoothed + 0.25 * raw
        self._advance(frame, self._smoothed, raw)
        return self._smoothed

    def _advance(self, frame: VisualFrame, features: np.ndarray, raw: np.ndarray) -> None:
        """Move z one frame: toward the audio/prompt/drift target, bounded, with kicks."""
        size = self.size
        root = math.sqrt(size)
        feedback = bounded(frame.feedback, 0.0, 1.0, 0.5)
        noise_scale = bounded(frame.noise_scale, 0.0, 1.0, 0.3)
        speed = bounded(frame.speed, 0.0, 1.0, 0.5)
        level = features[INDEX["level"]]
        onset_strength = features[INDEX["onset_strength"]]
        flux = features[INDEX["flux"]]

        # Prompt: a new prompt set starts a slerp from wherever the shown direction is now; the first
        # frame and a reset (a cut) show the target at once.
        shown_before = self._prompt_shown
        key = (frame.prompt, frame.negative_prompt, tuple(frame.prompts))
        target_direction = prompt_target(frame, size)
        if self._prompt_key is None or frame.reset:
            self._prompt_shown = target_direction
            self._prompt_progress = 1.0
        elif key != self._prompt_key:
            self._prompt_from = self._prompt_shown
            self._prompt_progress = 0.0
        self._prompt_key = key
        if self._prompt_progress < 1.0:
            self._prompt_progress = min(1.0, self._prompt_progress + 1.0 / transition_frames(frame))
            eased = self._prompt_progress * self._prompt_progress * (3.0 - 2.0 * self._prompt_progress)
            self._prompt_shown = slerp(self._prompt_from, target_direction, eased)
        else:
            self._prompt_shown = target_direction

        # Drift: louder and above all busier audio (onsets, flux) moves the phase faster.
        self.phase += 0.004 + 0.03 * speed + 0.015 * level + 0.06 * onset_strength + 0.03 * flux
        # The audio's pull on z: model latent, features and chroma, each through a fixed projection,
        # smoothed over a few frames (model latents and analysis rows jitter frame to frame).
        audio = np.zeros(size)
        latent = np.nan_to_num(np.asarray(frame.latent, dtype=np.float64).ravel())
        if latent.size:
            audio += 0.7 * self.latent_projection(latent.size) @ np.clip(latent, -4.0, 4.0)
        scalars = raw[[INDEX[name] for name in FEATURE_PULL]] - 0.25
        chroma = raw[CHROMA_SLICE]
        peak = chroma.max()
        chroma = (chroma - chroma.mean()) / peak if peak > 1e-6 else chroma * 0.0
        audio += self._feature_projection @ scalars + self._chroma_projection @ chroma
        self._audio = audio if self._audio is None else 0.85 * self._audio + 0.15 * audio
        prompt_gain = 0.9 * root
        target = self._base + prompt_gain * self._prompt_shown + self._audio
        target += 0.8 * np.sin(self._drift_rates * self.phase + self._drift_phases)

        self.beat_kick = 0.0
        if self._fresh:  # first frame or a cut: show the target itself
            self.z = target
            self._fresh = False
        else:
            # The prompt's share of the target moves z exactly as slerped (outside the step bound), so
            # transition_frames alone sets how long a prompt change takes.
            self.z = self.z + prompt_gain * (self._prompt_shown - shown_before)
            step = (1.0 - feedback) * (target - self.z)
            limit = root * (0.02 + 0.12 * noise_scale)
            norm = float(np.linalg.norm(step))
            if norm > limit:
                step *= limit / norm
            self._noise = 0.85 * self._noise + math.sqrt(1.0 - 0.85 ** 2) * self._rng.standard_normal(size)
            self.z = self.z + step + 0.06 * noise_scale * self._noise
            strength = raw[INDEX["onset_strength"]]
            kick = (0.55 + strength + 0.5 * raw[INDEX["bass"]]) * (1.0 if frame.beat else 0.0)
            kick += (0.25 + 0.5 * strength) * (1.0 if frame.onset and not frame.beat else 0.0)
            if kick > 0.0:
                direction = self._rng.standard_normal(size)
                self.z = self.z + direction / np.linalg.norm(direction) * root * 0.2 * kick
                self.kick = min(1.5, self.kick * 0.5 + kick)
                self.beat_kick = kick
        self.kick *= 0.72
