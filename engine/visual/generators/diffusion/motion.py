"""Feedback motion: zoom and warp the cached latent a little each frame before it is re-noised.

Why move the latent rather than the image: the previous frame's latent is the img2img source (no VAE
encode), and one bilinear resample of a latent (an eighth of the frame's side) moves the picture for
almost nothing.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.visual.frame_input import VisualFrame

ZOOM_PER_FRAME = 0.03  # scale change per frame at zoom 0 or 1 (0.5 is still)
WARP_PER_FRAME = 0.012  # displacement (in half-frames) per frame at warp 1


def identity_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    """(1, h, w, 2) sampling grid that leaves a latent as it is (pixel centres, grid_sample's -1..1)."""
    ys = torch.linspace(-1.0 + 1.0 / h, 1.0 - 1.0 / h, h, device=device)
    xs = torch.linspace(-1.0 + 1.0 / w, 1.0 - 1.0 / w, w, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)[None]


def move_latent(latent: torch.Tensor, grid: torch.Tensor, frame: VisualFrame, phase: float) -> torch.Tensor:
    """Zoom and warp `latent` by one bilinear resample; `phase` animates the warp pattern."""
    zoom = float(np.clip(np.nan_to_num(frame.zoom), 0.0, 1.0)) * 2.0 - 1.0
    warp = float(np.clip(np.nan_to_num(frame.warp), 0.0, 1.0))
    if abs(zoom) < 1e-3 and warp < 1e-3:
        return latent
    moved_grid = grid / (1.0 + ZOOM_PER_FRAME * zoom)  # sampling nearer the centre magnifies
    if warp >= 1e-3:
        amount = WARP_PER_FRAME * warp
        gx, gy = grid[..., 0], grid[..., 1]
        p = phase * 3.0
        offset = torch.stack([torch.sin(gy * 2.7 + p), torch.sin(gx * 2.3 - 0.8 * p)], dim=-1)
        moved_grid = moved_grid + amount * offset
    moved = F.grid_sample(latent.float(), moved_grid, mode="bilinear", padding_mode="reflection",
                          align_corners=False)
    return moved.to(latent.dtype)
