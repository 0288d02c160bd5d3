"""The noise each frame is denoised from: a slowly walking stock field, fresh noise, the audio field.

Why a stock field: fixed noise keeps consecutive frames coherent, so the stock noise only turns a
little per frame (faster with `speed`), a rotation in the (stock, fresh) plane that keeps it exactly
unit-variance Gaussian. `noise_scale` is the share of fresh noise mixed in (the injected change). The
audio model latent steers a smooth, coarse field added on top through a fixed seeded projection, so
the music moves large shapes rather than texture.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from engine.visual.frame_input import VisualFrame

STOCK_STEP = (0.01, 0.12)  # radians per frame the stock noise turns at speed 0 and 1
AUDIO_FIELD_GAIN = 0.35  # weight of the audio-latent field in the noise (unit-variance terms)
AUDIO_FIELD_GRID = 4  # the field's coarse grid: large shapes, not texture


class NoiseSource:
    def __init__(self, latent_shape: tuple[int, int, int], seed: int, device: torch.device) -> None:
        self.latent_shape = latent_shape
        self.seed = seed  # fixes the audio field's projection; `reseed` only changes the random stream
        self.device = device
        self._audio_bases: dict[int, torch.Tensor] = {}
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """A new random stream; the caller draws the new stock field (`redraw_stock`)."""
        self._rng = torch.Generator(device=self.device).manual_seed(seed * 1_000_003 + 0xD1F)
        self.phase = 0.0  # radians the stock noise has turned: also the clock of the warp motion

    def draw(self) -> torch.Tensor:
        return torch.randn((1, *self.latent_shape), generator=self._rng, device=self.device,
                           dtype=torch.float32)

    def redraw_stock(self) -> None:
        """A new stock field: the next frames share nothing with the earlier ones (a hard cut)."""
        self.stock = self.draw()

    def for_frame(self, frame: VisualFrame, dtype: torch.dtype) -> torch.Tensor:
        """Unit-variance noise for this frame: the walking stock noise, fresh noise, the audio field."""
        speed = float(np.clip(np.nan_to_num(frame.speed), 0.0, 1.0))
        turn = STOCK_STEP[0] + (STOCK_STEP[1] - STOCK_STEP[0]) * speed
        # A rotation in the (stock, fresh) plane keeps the stock noise exactly unit-variance Gaussian.
        self.stock = math.cos(turn) * self.stock + math.sin(turn) * self.draw()
        self.phase += turn
        share = float(np.clip(np.nan_to_num(frame.noise_scale), 0.0, 1.0))
        eps = math.sqrt(1.0 - share * share) * self.stock + share * self.draw()
        latent = np.nan_to_num(np.asarray(frame.latent, dtype=np.float32).ravel())
        if latent.size:
            basis = self._audio_basis(latent.size)
            weights = torch.from_numpy(np.clip(latent, -4.0, 4.0) / math.sqrt(latent.size)).to(self.device)
            field = torch.tensordot(weights, basis, dims=1)[None]
            eps = (eps + AUDIO_FIELD_GAIN * field) / math.sqrt(1.0 + AUDIO_FIELD_GAIN ** 2)
        return eps.to(dtype)

    def close(self) -> None:
        self._audio_bases.clear()

    def _audio_basis(self, size: int) -> torch.Tensor:
        """(size, C, h, w): one smooth unit-RMS latent field per audio latent dimension, fixed by the seed."""
        if size not in self._audio_bases:
            rng = torch.Generator().manual_seed(self.seed * 7919 + size)
            c, h, w = self.latent_shape
            coarse = torch.randn((size, c, AUDIO_FIELD_GRID, AUDIO_FIELD_GRID), generator=rng)
            fine = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
            fine = fine / fine.square().mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)
            self._audio_bases[size] = fine.to(self.device)
        return self._audio_bases[size]
