"""From trained weights to a file that plays at once in `live`, `render` and nn~.

`fit_latent_rotation` orders the latent by importance (PCA of posterior means: dimension 0 varies
most) and stores the rotated statistics `latent_mean`/`latent_std` that the engine scales its controls
by. `export` scripts a streaming copy (nn~ methods, `*_params`, `*.cache` state), adds the buffer
`latent_importance` (each dimension's share of the latent variance, in the PCA order), charts the
model for `/rave/energy` (engine/latent/energy.py) and stores that chart in the file, and writes it
through a temporary file and a rename: an interrupted export never leaves half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from engine.latent.energy import EMBEDDED_FILE, calibrate, embedded_payload
from engine.models.default_vae import DefaultVAE
from engine.models.nn_tilde import NNModel
from engine.models.streaming_conv import set_streaming
from engine.training.report import engine_walk, reset_caches


@torch.no_grad()
def fit_latent_rotation(model: DefaultVAE, clips: torch.Tensor) -> torch.Tensor:
    """PCA of posterior means over `clips` (B, 1, T): store centre and rotation, then the rotated
    statistics; returns each direction's share of the variance (descending).

    Each direction's sign is chosen so its largest component is positive (deterministic export)."""
    mean = model.posterior(clips)[0]  # (B, D, T)
    flat = mean.permute(0, 2, 1).reshape(-1, mean.shape[1]).double()
    centre = flat.mean(dim=0)
    _, singular, vh = torch.linalg.svd(flat - centre, full_matrices=False)
    signs = torch.sign(vh.gather(1, vh.abs().argmax(dim=1, keepdim=True)))
    model.latent_center.copy_(centre.float())
    model.latent_pca.copy_((vh * signs).float())
    rotated = model.encode(clips)
    model.latent_mean.copy_(rotated.mean(dim=(0, 2)))
    model.latent_std.copy_(rotated.std(dim=(0, 2)))
    variance = singular.square()
    return (variance / variance.sum().clamp_min(1e-30)).float()


def streaming_copy(model: DefaultVAE, importance: torch.Tensor | None = None) -> DefaultVAE:
    """A streaming, eval-mode copy of `model` (same weights, same rate) ready for torch.jit.script."""
    streaming = DefaultVAE(**model.config, streaming=True)
    streaming.load_state_dict(model.state_dict())
    streaming.sr = model.sr
    if importance is not None:
        streaming.register_buffer("latent_importance", importance.detach().float().clone())
    streaming.eval()
    set_streaming(streaming, True)
    return streaming


def export(model: DefaultVAE, path: Path, importance: torch.Tensor | None = None, *,
           with_calibration: bool = True) -> torch.jit.ScriptModule:
    """Script, calibrate and write `model` to `path` atomically; returns the file loaded back."""
    scripted = torch.jit.script(streaming_copy(model, importance))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary folder beside the target (same file system, so the rename is atomic) holding a file
    # of the final name: the archive's inner folder is named after the file.
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp = folder / path.name
    try:
        torch.jit.save(scripted, str(tmp))
        if with_calibration:
            payload = calibration_payload(tmp)
            if payload is not None:
                torch.jit.save(scripted, str(tmp), _extra_files={EMBEDDED_FILE: payload})
        tmp.chmod(0o644)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return torch.jit.load(str(path))


def calibration_payload(path: Path) -> str | None:
    """Chart the saved model exactly as the engine does at load (seeded, same statistics)."""
    threads = torch.get_num_threads()
    try:
        model = NNModel.load(path)
        stats = model.latent_statistics()
        if stats is None:
            return None
        return embedded_payload(calibrate(model, *stats), *stats)
    finally:
        torch.set_num_threads(threads)  # NNModel.load sets one thread, as the engine plays


def prior_walk(steps: int, seed: int, model: DefaultVAE | torch.jit.ScriptModule) -> torch.Tensor:
    """An engine-like walk in the model's latent units: latent_mean + latent_std * unit AR(1) walk."""
    mean, std = model.latent_mean.numpy()[:, None], model.latent_std.numpy()[:, None]
    walk = engine_walk(steps, seed, mean.shape[0])
    return torch.from_numpy((mean + std * walk).astype(np.float32))[None]


def check_streaming(model: DefaultVAE, exported: torch.jit.ScriptModule, frames: int = 24) -> float:
    """Max |offline decode - exported streaming decode in 1-frame chunks| (same torch seed for both)."""
    z = prior_walk(frames, 123, model)
    model.eval()
    with torch.inference_mode():
        torch.manual_seed(7)
        offline = model.decode(z)
        reset_caches(exported)
        torch.manual_seed(7)
        chunks = torch.cat([exported.decode(z[..., i : i + 1]) for i in range(frames)], dim=-1)
        reset_caches(exported)
    return float((offline - chunks).abs().max())
