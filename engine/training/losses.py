"""Training losses in torch (same spectral formula as ``engine.dsp.spectral``)."""

from __future__ import annotations

import torch

from engine.dsp.spectral import FFT_SIZES, LOG_EPS


def _stft_magnitude(x: torch.Tensor, n_fft: int, window: torch.Tensor) -> torch.Tensor:
    spec = torch.stft(x, n_fft, hop_length=n_fft // 4, window=window, center=False, return_complex=True)
    return spec.abs()


def multiscale_spectral_loss(
    reference: torch.Tensor, estimate: torch.Tensor, log_floor: float = LOG_EPS
) -> torch.Tensor:
    """Batch mean of ``engine.dsp.spectral.multiscale_spectral_distance``; inputs ``(B, 1, T)`` or ``(B, T)``.

    ``log_floor`` replaces the 1e-3 magnitude floor of the log term: a lower floor (1e-5, as in the
    model card's reconstruction score) makes near-silent bands count, so the model learns to leave
    empty what the input left empty (a 22.05 kHz file holds nothing above 11 kHz).
    """
    ref = reference.reshape(reference.shape[0], -1)
    est = estimate.reshape(estimate.shape[0], -1)
    total = ref.new_zeros(ref.shape[0])
    for n_fft in FFT_SIZES:
        window = torch.hann_window(n_fft, periodic=True, dtype=ref.dtype, device=ref.device)
        mag_ref, mag_est = _stft_magnitude(ref, n_fft, window), _stft_magnitude(est, n_fft, window)
        lin = (mag_ref - mag_est).abs().sum(dim=(1, 2)) / (mag_ref + LOG_EPS).sum(dim=(1, 2))
        log = (torch.log(mag_ref + log_floor) - torch.log(mag_est + log_floor)).abs().mean(dim=(1, 2))
        total = total + lin + log
    return (total / len(FFT_SIZES)).mean()


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), summed over latent dims, averaged over batch and frames."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()
