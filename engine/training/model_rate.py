"""Build the default architecture at any sample rate without editing `engine/models/default_vae.py`.

`DefaultVAE` fixes 48 kHz in three places: the analysis filters' initial frequencies, the noise
branch's mel band layout (a buffer) and `sr`. A model for another rate gets those three retuned after
construction; the layers, the hop and the 2048-sample latent frame are unchanged (a frame lasts
2048 / rate seconds). Both retuned tensors live in the state dict, so a checkpoint carries them; `sr`
does not, so `export.py` sets it from the training model.

Once `DefaultVAE` takes the rate as a constructor argument (used by `_analysis_init`, NoiseSynth's
band layout and `sr`, and kept in `config`), `build_model` is `DefaultVAE(**config, sample_rate=rate)`
and this retuning goes away.
"""

from __future__ import annotations

import torch

from engine.models.default_vae import HOP, SAMPLE_RATE, DefaultVAE, _analysis_init

MIN_RATE, MAX_RATE = 8000, 192000


def mel_band_matrix(n_bands: int, n_bins: int, rate: int) -> torch.Tensor:
    """(n_bands, n_bins) weights: bands evenly spaced on a mel scale up to rate / 2, linearly
    interpolated onto the rFFT bins (the same layout NoiseSynth builds at 48 kHz)."""
    mel = 2595.0 * torch.log10(1.0 + torch.linspace(0, rate / 2, n_bins) / 700.0)
    pos = mel / mel[-1] * (n_bands - 1)
    return torch.clamp(1.0 - (pos[None, :] - torch.arange(n_bands, dtype=torch.float32)[:, None]).abs(), min=0.0)


def build_model(rate: int = SAMPLE_RATE, config: dict[str, object] | None = None) -> DefaultVAE:
    """A fresh DefaultVAE (constructor arguments `config`) tuned to `rate`; at 48 kHz exactly `DefaultVAE(**config)`."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"sample rate must be {MIN_RATE}..{MAX_RATE} Hz, got {rate}")
    model = DefaultVAE(**(config or {}))
    if rate != SAMPLE_RATE:
        _analysis_init(model.encoder.analysis.conv.weight, rate)
        noise = model.decoder.noise
        noise.band_to_bin.copy_(mel_band_matrix(noise.band_to_bin.shape[0], HOP + 1, rate))
        model.sr = rate
    return model
