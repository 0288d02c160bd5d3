"""The scheduler as plain lookup tables, and the math of one denoising step.

Why tables: a diffusers scheduler is stateful and host-side. The loop needs only sqrt(alpha_bar),
sqrt(1 - alpha_bar) and the consistency scalings c_skip / c_out per training timestep, so
`prepare_schedule` turns the scheduler into one (4, T) table once, plus the fixed denoising timesteps
that `t_index_list` picks out of `num_inference_steps` evenly spaced ones. Per frame there is no
scheduler call, only gathers and tensor math (`denoised`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.errors import VisualError

SIGMA_DATA = 0.5  # the consistency-model boundary condition's data scale
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


@dataclass
class Schedule:
    prediction_type: str  # what the UNet predicts: epsilon, v_prediction or sample
    timesteps: list[int]  # the fixed denoising timesteps, noisiest first
    consistency: bool  # an LCM scheduler: the boundary condition keeps some of x_t at low noise
    sqrt_alpha: np.ndarray  # (T,) sqrt(alpha_bar), decreasing in t
    table: np.ndarray  # (4, T): sqrt(alpha_bar), sqrt(1 - alpha_bar), c_skip, c_out


def alphas_cumprod(scheduler: Any) -> np.ndarray:
    """alpha_bar per training timestep, from the scheduler or, failing that, its beta schedule."""
    table = getattr(scheduler, "alphas_cumprod", None)
    if table is not None:
        return np.asarray(torch.as_tensor(table).double().cpu().numpy(), dtype=np.float64)
    config = scheduler.config
    steps = int(config.get("num_train_timesteps", 1000))
    start, end = float(config.get("beta_start", 0.00085)), float(config.get("beta_end", 0.012))
    if config.get("beta_schedule", "scaled_linear") == "linear":
        betas = np.linspace(start, end, steps)
    else:  # scaled_linear, the SD schedule
        betas = np.linspace(math.sqrt(start), math.sqrt(end), steps) ** 2
    return np.cumprod(1.0 - betas)


def prepare_schedule(scheduler: Any, num_inference_steps: int, t_index_list: Sequence[int]) -> Schedule:
    """Every per-step constant of `scheduler` for the chosen steps; VisualError for what cannot run."""
    config = scheduler.config
    prediction_type = str(config.get("prediction_type", "epsilon"))
    if prediction_type not in PREDICTION_TYPES:
        raise VisualError(f"diffusion scheduler prediction_type {prediction_type!r}: expected "
                          "epsilon, v_prediction or sample")
    alphas = alphas_cumprod(scheduler)
    train_steps = len(alphas)
    if num_inference_steps > train_steps:
        raise VisualError(f"diffusion num_inference_steps {num_inference_steps}: the scheduler has "
                          f"only {train_steps} training steps")
    spacing = train_steps // num_inference_steps
    # Evenly spaced from the noisiest step down (999, 979, ... for 1000 / 50): index 0 is pure noise.
    timesteps = [(num_inference_steps - i) * spacing - 1 for i in t_index_list]
    # The consistency (LCM) boundary condition keeps some of x_t at low noise; other schedulers
    # take the model's x0 as is (c_skip 0, c_out 1).
    consistency = "timestep_scaling" in config
    t = np.arange(train_steps, dtype=np.float64)
    if consistency:
        scaled = t * float(config.get("timestep_scaling", 10.0))
        c_skip = SIGMA_DATA ** 2 / (scaled ** 2 + SIGMA_DATA ** 2)
        c_out = scaled / np.sqrt(scaled ** 2 + SIGMA_DATA ** 2)
    else:
        c_skip, c_out = np.zeros(train_steps), np.ones(train_steps)
    # The floor keeps the epsilon division finite on zero-terminal-SNR schedules (alpha_bar 0 at the
    # last step).
    table = np.stack([np.maximum(np.sqrt(alphas), 1e-4), np.sqrt(1.0 - alphas), c_skip, c_out])
    return Schedule(prediction_type, timesteps, consistency, np.sqrt(alphas), table)


def first_step(sqrt_alpha: np.ndarray, t0: int, feedback: float) -> int:
    """The timestep whose signal weight sqrt(alpha_bar) is feedback * sqrt(alpha_bar(t0)).

    Why: the cached latent is the img2img source at weight `feedback`, so the UNet must be told the
    noise level that weight really means (feedback 1: t0; feedback 0: pure noise, text-to-image).
    """
    target = feedback * sqrt_alpha[t0]
    # sqrt_alpha decreases with t: the first t at or past t0 whose weight is no more than the target.
    reverse = sqrt_alpha[::-1]
    t = len(reverse) - int(np.searchsorted(reverse, target, side="right"))
    return int(min(max(t, t0), len(sqrt_alpha) - 1))


def denoised(x_t: torch.Tensor, out: torch.Tensor, coefs: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """The clean latent from the UNet output `out` at noisy `x_t`; `coefs` are the table's 4 rows."""
    alpha, sigma, c_skip, c_out = coefs[0], coefs[1], coefs[2], coefs[3]
    if prediction_type == "epsilon":
        x0 = (x_t - sigma * out) / alpha
    elif prediction_type == "v_prediction":
        x0 = alpha * x_t - sigma * out
    else:
        x0 = out
    return c_skip * x_t + c_out * x0
