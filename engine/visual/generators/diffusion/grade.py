"""The light colour grade on the decoded image: a palette gradient-map tint, a hue rotation, brightness.

Why light: the model paints the picture and the theme's palette only tints it, so the palette colour at
each pixel's luma is mixed in at PALETTE_TINT rather than replacing it. A palette change crossfades
over `transition_frames`, as a prompt change does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.visual.frame_input import VisualFrame
from engine.visual.generators.colour import PaletteFade, hue_rotation

PALETTE_TINT = 0.2  # weight of the palette gradient map in the colour grade


class ColourGrade:
    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._luma = torch.tensor([0.299, 0.587, 0.114], device=device)
        self.reset()

    def reset(self) -> None:
        """Forget the palette: the next frame's palette shows at once, without a crossfade."""
        self._fade = PaletteFade()
        self._shown_key: tuple[Any, ...] | None = None  # what `_shown` holds, so it is copied only on change
        self._shown = torch.zeros(0)

    def apply(self, image: torch.Tensor, frame: VisualFrame) -> np.ndarray:
        """(H, W, 3) float 0..1 on the device -> graded (H, W, 3) uint8 on the host."""
        palette = self._palette(frame)
        luma = image @ self._luma
        index = (luma * (palette.shape[0] - 1) + 0.5).long().clamp_(0, palette.shape[0] - 1)
        out = torch.lerp(image, palette[index], PALETTE_TINT)
        hue = float(np.nan_to_num(frame.hue)) % 1.0
        if hue > 1e-4:
            matrix = torch.from_numpy(hue_rotation(hue).T.astype(np.float32)).to(image.device)
            out = out @ matrix
        brightness = float(np.clip(np.nan_to_num(frame.brightness), 0.0, 2.0))
        out = (out * (255.0 * brightness) + 0.5).clamp_(0.0, 255.0).to(torch.uint8)
        return np.ascontiguousarray(out.cpu().numpy())

    def _palette(self, frame: VisualFrame) -> torch.Tensor:
        """The frame's palette gradient on the device, crossfaded over transition_frames on a change."""
        colours = self._fade.step(frame)
        key = (self._fade.key, self._fade.progress)
        if key != self._shown_key:
            self._shown = torch.from_numpy(colours.astype(np.float32)).to(self.device)
            self._shown_key = key
        return self._shown
