"""Encoding a reference audio file into a loop of latents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.errors import ModelLoadError
from engine.io.audio_files import read_audio
from engine.latent.sources import ReferenceLoop
from engine.models.nn_tilde import NNModel
from engine.models.resample import resample


def encode_reference(model: NNModel, path: str | Path, name: str = "ref1", max_seconds: float = 60.0
                     ) -> ReferenceLoop:
    """Read `path`, bring it to the model's rate and channels, and encode it (streaming state reset after)."""
    spec = model.require("encode")
    audio, rate = read_audio(path)
    audio = audio[: int(max_seconds * rate)]
    model_rate = model.sample_rate or rate
    if rate != model_rate:
        audio = resample(audio, rate, model_rate)
    # Fold or spread channels to what the encoder takes: mono models get the mix.
    if audio.shape[1] != spec.in_channels:
        audio = np.repeat(audio.mean(axis=1, keepdims=True), spec.in_channels, axis=1)
    ratio = max(1, spec.out_ratio // spec.in_ratio)  # input samples per latent frame
    frames = max(1, -(-audio.shape[0] // ratio))
    padded = np.zeros((frames * ratio, spec.in_channels), dtype=np.float32)
    padded[: audio.shape[0]] = audio
    model.reset()
    latents = model.encode(torch.from_numpy(padded.T.copy())[None])[0].numpy()
    model.reset()
    if model.latent_size is not None and latents.shape[0] > model.latent_size:
        latents = latents[: model.latent_size]
    if not np.isfinite(latents).all():
        raise ModelLoadError(f"{model.path}: encoding {path} gave non-finite latents")
    stats = model.latent_statistics()
    if stats is not None:  # into the normalised space the render graph's controls work in
        mean, std = stats
        latents = (latents - mean[:, None]) / std[:, None]
    return ReferenceLoop(latents.astype(np.float64), name=name)
