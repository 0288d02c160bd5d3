"""What a generator is given for one frame: the theme mapper's output, the same for every generator."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.analysis.features import empty

Colour = tuple[float, float, float]  # RGB, each 0..1
DEFAULT_PALETTE: tuple[Colour, ...] = ((0.05, 0.02, 0.15), (0.45, 0.1, 0.6), (0.95, 0.4, 0.3), (1.0, 0.9, 0.6))


@dataclass
class VisualFrame:
    index: int = 0  # frames rendered since the generator started
    time: float = 0.0  # timeline seconds of the audio this frame shows
    features: np.ndarray = field(default_factory=empty)  # engine.analysis.features layout
    latent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))  # audio latent, ~N(0, 1)
    noise_scale: float = 0.3  # 0..1: how far this frame moves away from the cached latent
    speed: float = 0.5  # 0..1: drift speed of the generator's own latent
    zoom: float = 0.5  # 0..1
    warp: float = 0.3  # 0..1: domain distortion
    hue: float = 0.0  # 0..1: palette rotation
    brightness: float = 1.0  # 0..2
    feedback: float = 0.5  # 0..1: weight of the previous frame's latent (the latent cache)
    palette: tuple[Colour, ...] = DEFAULT_PALETTE  # 2..8 colours
    prompt: str = ""
    negative_prompt: str = ""
    prompts: tuple[str, ...] = ()  # up to 12 prompts blended by prompt_weights (e.g. by chroma)
    prompt_weights: np.ndarray | None = None  # same length as prompts, sums to 1
    transition_frames: int = 24  # prompt / palette changes are slerped over this many frames
    reset: bool = False  # hard cut: drop the latent cache
    beat: bool = False  # a beat happened since the previous frame
    onset: bool = False  # an onset happened since the previous frame
    seed: int = 0
