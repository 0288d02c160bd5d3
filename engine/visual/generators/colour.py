"""Colour helpers the generators share: a palette as a gradient map, and a hue rotation.

Why a module of their own: `cppn` and `diffusion` both colour their frames with them, and the
diffusion generator should not have to import the CPPN generator to get them.
"""

from __future__ import annotations

import math

import numpy as np

from engine.visual.frame_input import DEFAULT_PALETTE, VisualFrame
from engine.visual.generators.latent_walk import bounded, transition_frames

GRADIENT_STEPS = 256  # palette positions in the lookup table


def gradient(palette: tuple[tuple[float, float, float], ...], steps: int = GRADIENT_STEPS) -> np.ndarray:
    """(steps, 3) float colours 0..1: `palette` as evenly spaced stops of a linear gradient."""
    colours = np.asarray(palette, dtype=np.float64).reshape(-1, 3)
    if len(colours) == 0:  # themes give 2..8; a bad one must not stop the show mid-set
        colours = np.asarray(DEFAULT_PALETTE, dtype=np.float64)
    elif len(colours) == 1:
        colours = np.repeat(colours, 2, axis=0)
    colours = np.clip(np.nan_to_num(colours), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(colours))
    positions = np.linspace(0.0, 1.0, steps)
    return np.stack([np.interp(positions, stops, colours[:, c]) for c in range(3)], axis=1)


# RGB <-> YIQ: a hue rotation is a rotation of the (I, Q) plane, one 3x3 matrix for the whole table.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def hue_rotation(turns: float) -> np.ndarray:
    """(3, 3) matrix turning RGB colours `turns` of the way round the hue circle: `colours @ M.T`."""
    angle = 2.0 * math.pi * turns
    rotate = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(angle), -math.sin(angle)],
                       [0.0, math.sin(angle), math.cos(angle)]])
    return _YIQ_TO_RGB @ rotate @ _RGB_TO_YIQ


class PaletteFade:
    """A frame's palette as a gradient, crossfaded over the frame's `transition_frames` when it changes."""

    def __init__(self) -> None:
        self.key: tuple[tuple[float, ...], ...] | None = None  # the palette asked for, as clamped colours
        self.progress = 1.0  # of the crossfade in progress (1: none)
        self._from = np.zeros((GRADIENT_STEPS, 3))
        self.shown = np.zeros((GRADIENT_STEPS, 3))

    def step(self, frame: VisualFrame) -> np.ndarray:
        """(GRADIENT_STEPS, 3): the gradient to show this frame."""
        palette = frame.palette if frame.palette is not None and len(frame.palette) else DEFAULT_PALETTE
        key = tuple(tuple(bounded(v, 0.0, 1.0, 0.0) for v in tuple(c)[:3]) for c in palette)
        if self.key is None:
            self.shown, self.progress = gradient(key), 1.0
        elif key != self.key:
            self._from, self.progress = self.shown, 0.0
        self.key = key
        if self.progress < 1.0:
            self.progress = min(1.0, self.progress + 1.0 / transition_frames(frame))
            t = self.progress
            self.shown = (1.0 - t) * self._from + t * gradient(key)
        return self.shown
