"""From trained weights to a file that plays at once in `live`, `render` and nn~.

`fit_latent_rotation` rotates the latent onto the principal axes of the posterior means and stores
the rotated statistics `latent_mean`/`latent_std` that the engine scales its controls by;
`order_by_effect` then puts those axes in order of how much each changes the sound (dimension 0 the
most). `export` scripts a streaming copy (nn~ methods, `*_params`, `*.cache` state), adds the buffer
`latent_importance` (what the trainer passes: each dimension's measured effect), charts the
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

from engine.dsp.spectral import multiscale_spectral_distance
from engine.latent.energy import EMBEDDED_FILE, calibrate, embedded_payload
from engine.models.default_vae import DefaultVAE
from engine.models.nn_tilde import NNModel
from engine.models.streaming_conv import set_streaming
from engine.training.report import WALK_FRAMES, engine_walk, held_apart, reset_caches

EFFECT_WALK_SEED = 300  # the card's walks start at 100


@torch.no_grad()
def fit_latent_rotation(model: DefaultVAE, clips: torch.Tensor) -> None:
    """PCA of posterior means over `clips` (B, 1, T): store centre and rotation, then the rotated
    statistics (`order_by_effect` then orders the axes).

    Each direction's sign is chosen so its largest component is positive (deterministic export)."""
    mean = model.posterior(clips)[0]  # (B, D, T)
    flat = mean.permute(0, 2, 1).reshape(-1, mean.shape[1]).double()
    centre = flat.mean(dim=0)
    _, _, vh = torch.linalg.svd(flat - centre, full_matrices=False)
    signs = torch.sign(vh.gather(1, vh.abs().argmax(dim=1, keepdim=True)))
    model.latent_center.copy_(centre.float())
    model.latent_pca.copy_((vh * signs).float())
    rotated = model.encode(clips)
    model.latent_mean.copy_(rotated.mean(dim=(0, 2)))
    model.latent_std.copy_(rotated.std(dim=(0, 2)))


@torch.no_grad()
def order_by_effect(model: DefaultVAE, bases: int = 4, frames: int = WALK_FRAMES) -> torch.Tensor:
    """Put the PCA directions in order of how much each changes the sound; returns each one's share
    of the summed effect (descending), the `latent_importance` an export stores.

    With the mean batch-normalised (``mean_norm``) every direction of the posterior means has a like
    variance, so the PCA's order says little about what a fader does. Here each direction is held at
    -2 and at +2 standard deviations on ``bases`` engine-like walks, and the median multi-scale
    spectral distance between the two decodes is its effect; dimension 0 is then the one that moves
    the sound most, as a performer expects of the first fader. The walks' seeds differ from the model
    card's (engine/training/report.py), which measures the first dimensions afresh."""
    dims = model.latent_pca.shape[0]
    mean, std = model.latent_mean.double().numpy()[:, None], model.latent_std.double().numpy()[:, None]
    model.eval()

    def decode(unit: np.ndarray) -> np.ndarray:
        torch.manual_seed(0)  # the noise branch draws from torch's generator: the same draw for both sides
        return model.decode(torch.from_numpy((mean + std * unit).astype(np.float32))[None])[0, 0].numpy()

    walks = [engine_walk(frames, EFFECT_WALK_SEED + b, dims) for b in range(bases)]
    effects = []
    for d in range(dims):
        distances = []
        for walk in walks:
            distances.append(multiscale_spectral_distance(*held_apart(decode, walk, d)))
        effects.append(float(np.median(distances)))
    order = torch.from_numpy(np.argsort(-np.asarray(effects), kind="stable"))
    for buffer in (model.latent_pca, model.latent_mean, model.latent_std):
        buffer.copy_(buffer[order])
    shares = torch.tensor(effects, dtype=torch.float64)[order]
    return (shares / shares.sum().clamp_min(1e-30)).float()


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
