"""Guidance: classifier-free guidance with the negative prompt, or the embedded guidance of LCM UNets.

Why both: classifier-free guidance doubles the UNet batch (negative and positive prompt halves), so it
runs only when guidance_scale > 1; turbo models are distilled to run without it. LCM-distilled UNets
(`time_cond_proj_dim` in their config) take the guidance weight as an input embedding instead, so
they get guidance without the second half.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from engine.visual.generators.diffusion.prompts import Embedding

LCM_GUIDANCE = 8.0  # embedded guidance for LCM UNets when guidance_scale does not ask for more


def guidance_embedding(w: float, dim: int) -> torch.Tensor:
    """(1, dim) sinusoidal embedding of the guidance weight, the input of LCM-distilled UNets."""
    half = dim // 2
    scale = math.log(10000.0) / max(half - 1, 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -scale)
    angles = (w * 1000.0) * freqs
    emb = torch.cat([angles.sin(), angles.cos()])
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb[None]


def lcm_guidance(guidance_scale: float, dim: int) -> torch.Tensor:
    """The LCM UNet's `timestep_cond`: guidance_scale if it asks for guidance, LCM_GUIDANCE otherwise."""
    w = (guidance_scale if guidance_scale > 1.0 else LCM_GUIDANCE) - 1.0
    return guidance_embedding(w, dim)


def conditioning(embedding: Embedding, negative: Embedding | None) -> dict[str, Any]:
    """The UNet's text conditioning; with a `negative` embedding its rows are (negative, prompt)."""
    tokens, pooled = embedding.tokens, embedding.pooled
    if negative is not None:
        tokens = torch.cat([negative.tokens, tokens])
        if pooled is not None and negative.pooled is not None:
            pooled = torch.cat([negative.pooled, pooled])
    return {"tokens": tokens, "pooled": pooled}


def guided(out: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance: push the prompt half's prediction away from the negative half's."""
    uncond, text = out.chunk(2)
    return uncond + guidance_scale * (text - uncond)
