"""The engine's default neural audio model: a small causal streaming VAE (48 kHz, mono).

Audio -> 16-dim latent at one frame per 2048 samples -> audio. The latent is stored PCA-rotated
(``latent_pca``, as RAVE exports do), its axes put in order of their measured effect on the sound at
export (engine/training/export.py): dimension 0 changes it most, so the first faders matter most. The exported TorchScript module
follows the nn~ interface (``encode`` / ``decode`` / ``forward`` with ``*_params`` buffers).

Encoder: learned analysis filter pairs (kernel 512, hop 256) -> magnitude -> log -> causal strided
convs (x8) -> posterior mean and log-variance. The mean goes through a batch normalisation with
no learned scale (``mean_norm``, as in BN-VAE): early in training the spectral loss shrank the
means' spread below the sampling noise, the decoder learned to ignore z and the latent died (the
v2 run of 2026-11-30); with the spread held at one the KL can only act on the variance.
Decoder: latent -> causal conv -> three (x2 upsample + dilated residual units) -> at hop 256:
learned overlap-add synthesis basis (waveform) + filtered-noise branch (band gains shaping
random-phase spectra, windowed overlap-add).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.streaming_conv import (
    CausalConv1d,
    CausalUpsample,
    StreamingConvTranspose1d,
    StreamingOverlapAdd,
)

SAMPLE_RATE = 48000
HOP = 256
LATENT_RATIO = 2048
LATENT_SIZE = 16
EDGE_LOWEST_HZ = 1000.0
EDGE_HIGHEST_HZ = 26400.0  # past Nyquist: fully open
EDGE_SOFTNESS_HZ = 150.0


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int, streaming: bool) -> None:
        super().__init__()
        self.conv1 = CausalConv1d(channels, channels, 3, dilation=dilation, streaming=streaming)
        self.conv2 = CausalConv1d(channels, channels, 1, streaming=streaming)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(_leaky(self.conv1(_leaky(x))))


def _analysis_init(weight: torch.Tensor, sr: int) -> None:
    """Start the analysis filters as Hann-windowed cos/sin pairs on a log-frequency grid (a learned STFT)."""
    n_pairs, kernel = weight.shape[0] // 2, weight.shape[-1]
    t = torch.arange(kernel, dtype=torch.float32)
    window = torch.hann_window(kernel, periodic=True)
    freqs = torch.logspace(math.log10(40.0), math.log10(0.45 * sr), n_pairs)
    phase = 2 * math.pi * freqs[:, None] * t[None, :] / sr
    with torch.no_grad():
        weight[:n_pairs, 0] = window * torch.cos(phase) / kernel * 4
        weight[n_pairs:, 0] = window * torch.sin(phase) / kernel * 4


class Encoder(nn.Module):
    def __init__(
        self, n_filters: int, channels: int, latent_size: int, streaming: bool, mean_norm: bool = False
    ) -> None:
        super().__init__()
        self.n_filters = n_filters
        self.analysis = CausalConv1d(1, 2 * n_filters, 2 * HOP, stride=HOP, bias=False, streaming=streaming)
        _analysis_init(self.analysis.conv.weight, SAMPLE_RATE)
        self.proj = CausalConv1d(n_filters, channels, 1, streaming=streaming)
        self.down = nn.ModuleList(
            [CausalConv1d(channels, channels, 4, stride=2, streaming=streaming) for _ in range(3)]
        )
        self.head = CausalConv1d(channels, 2 * latent_size, 3, streaming=streaming)
        with torch.no_grad():
            # Start with a nearly deterministic posterior: unit-variance sampling noise at init drowns
            # the mean, the decoder learns to ignore z and the posterior collapses.
            self.head.conv.weight[latent_size:].mul_(0.1)
            self.head.conv.bias[latent_size:].fill_(-6.0)
        # Exported, this is a fixed per-dimension affine map (running statistics): streaming-safe.
        self.mean_norm: nn.Module = (
            nn.BatchNorm1d(latent_size, eps=1e-8, affine=False, momentum=0.01) if mean_norm else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = self.analysis(x)
        re, im = pairs[:, : self.n_filters], pairs[:, self.n_filters :]
        h = self.proj(torch.log(re * re + im * im + 1e-8))
        for conv in self.down:
            h = conv(_leaky(h))
        mean, logvar = self.head(_leaky(h)).chunk(2, dim=1)
        return self.mean_norm(mean), logvar.clamp(-12.0, 4.0)


class NoiseSynth(nn.Module):
    """Per hop frame: band gains -> magnitudes on rFFT bins with random phase -> windowed overlap-add."""

    def __init__(self, n_bands: int, streaming: bool) -> None:
        super().__init__()
        n_fft = 2 * HOP
        n_bins = n_fft // 2 + 1
        # Bands evenly spaced on a mel scale, linearly interpolated onto the FFT bins.
        mel = 2595.0 * torch.log10(1.0 + torch.linspace(0, SAMPLE_RATE / 2, n_bins) / 700.0)
        pos = mel / mel[-1] * (n_bands - 1)
        interp = torch.clamp(
            1.0 - (pos[None, :] - torch.arange(n_bands, dtype=torch.float32)[:, None]).abs(), min=0.0
        )
        self.register_buffer("band_to_bin", interp)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True))
        self.n_fft = n_fft
        self.ola = StreamingOverlapAdd(HOP, streaming=streaming)

    def forward(self, gains: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # gains: (B, n_bands, L) non-negative; mask: (B, L, n_bins) from a BandEdge, or None
        mags = torch.matmul(gains.transpose(1, 2), self.band_to_bin)  # (B, L, n_bins)
        if mask is not None:
            mags = mags * mask
        # Uniform phases: torch.rand draws one number per element in order, so frame-by-frame calls
        # consume the generator exactly like one long call (seeded renders stream identically).
        phase = torch.rand(mags.shape, dtype=mags.dtype, device=mags.device) * (2 * math.pi)
        spectrum = torch.complex(mags * torch.cos(phase), mags * torch.sin(phase))
        frames = torch.fft.irfft(spectrum, n=self.n_fft, norm="ortho") * self.window
        return self.ola(frames)


class Decoder(nn.Module):
    def __init__(self, channels: list[int], latent_size: int, n_bands: int, streaming: bool) -> None:
        super().__init__()
        self.inp = CausalConv1d(latent_size, channels[0], 3, streaming=streaming)
        blocks: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            blocks.append(CausalUpsample(c_in, c_out, 2, streaming=streaming))
            blocks.append(ResidualUnit(c_out, 1, streaming))
            blocks.append(ResidualUnit(c_out, 3, streaming))
        self.blocks = nn.Sequential(*blocks)
        self.wave = StreamingConvTranspose1d(channels[-1], 1, HOP, streaming=streaming)
        self.noise_gain = CausalConv1d(channels[-1], n_bands, 1, streaming=streaming)
        self.noise = NoiseSynth(n_bands, streaming)
        with torch.no_grad():
            self.noise_gain.conv.bias.fill_(-4.0)  # start with quiet noise

    def trunk(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The features at hop rate and the noise branch's band gains."""
        h = _leaky(self.blocks(self.inp(z)))
        return h, 2.0 * torch.sigmoid(self.noise_gain(h)) ** 2.3 + 1e-7

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h, gains = self.trunk(z)
        return self.wave(h) + self.noise(gains)


class BandEdge(nn.Module):
    """A low-pass per hop frame whose edge the decoder reads off the latent.

    Real recordings end somewhere (a 22.05 kHz file holds nothing above 11,025 Hz, a lossy codec
    little above 16 kHz), and a learned synthesis basis cannot leave a band empty by itself: the v4
    default model puts -50.3 dB of its power above an 11 kHz edge and its latent carries no trace of
    the edge (bench/bench_band_edge.py). Mask = sigmoid((edge - f) / EDGE_SOFTNESS_HZ): 1.5 kHz past
    the edge it is -87 dB. The edge moves log-uniformly from EDGE_LOWEST_HZ to past Nyquist (open).
    """

    def __init__(self, channels: int, streaming: bool) -> None:
        super().__init__()
        self.head = CausalConv1d(channels, 1, 1, streaming=streaming)
        self.register_buffer("freqs", torch.linspace(0, SAMPLE_RATE / 2, HOP + 1))
        self.lowest: float = EDGE_LOWEST_HZ
        self.span: float = EDGE_HIGHEST_HZ / EDGE_LOWEST_HZ
        self.softness: float = EDGE_SOFTNESS_HZ
        with torch.no_grad():
            self.head.conv.bias.fill_(3.0)  # start open: the edge at 95 % of the way up

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        position = torch.sigmoid(self.head(h)).transpose(1, 2)  # (B, L, 1)
        edge = self.lowest * torch.pow(self.span, position)
        return torch.sigmoid((edge - self.freqs) / self.softness)  # (B, L, n_bins)


class SpectralWave(nn.Module):
    """The waveform branch as spectra: per hop a complex rFFT frame (a learned linear map of the
    features), masked by the band edge, inverse-transformed, Hann-windowed and overlap-added. The
    same kind of basis as the conv-transpose one, in a form a band edge can empty."""

    def __init__(self, channels: int, streaming: bool) -> None:
        super().__init__()
        self.n_bins = HOP + 1
        self.n_fft = 2 * HOP
        self.spectrum = CausalConv1d(channels, 2 * self.n_bins, 1, streaming=streaming)
        self.register_buffer("window", torch.hann_window(2 * HOP, periodic=True))
        self.ola = StreamingOverlapAdd(HOP, streaming=streaming)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        parts = self.spectrum(h).transpose(1, 2)  # (B, L, 2 * n_bins)
        real, imag = parts[..., : self.n_bins] * mask, parts[..., self.n_bins :] * mask
        frames = torch.fft.irfft(torch.complex(real, imag), n=self.n_fft, norm="ortho") * self.window
        return self.ola(frames)


class BandEdgeDecoder(Decoder):
    """The decoder with a band edge over both branches (``DefaultVAE(band_edge=True)``)."""

    def __init__(self, channels: list[int], latent_size: int, n_bands: int, streaming: bool) -> None:
        super().__init__(channels, latent_size, n_bands, streaming)
        # Built by the parent and dropped: its initial weights' draws from the seed stay in the stream,
        # so the shipped v6 still trains again from its seed to the same start.
        del self.wave
        self.spectral_wave = SpectralWave(channels[-1], streaming)
        self.edge = BandEdge(channels[-1], streaming)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h, gains = self.trunk(z)
        mask = self.edge(h)
        return self.spectral_wave(h, mask) + self.noise(gains, mask)


class DefaultVAE(nn.Module):
    """Streaming VAE with the nn~ method interface. ``streaming=True`` for export."""

    __jit_ignored_attributes__ = ["config"]

    def __init__(
        self,
        enc_filters: int = 80,
        enc_channels: int = 160,
        dec_channels: list[int] | None = None,
        n_bands: int = 64,
        latent_size: int = LATENT_SIZE,
        mean_norm: bool = True,
        band_edge: bool = False,
        frozen_analysis: bool = False,
        streaming: bool = False,
    ) -> None:
        super().__init__()
        dec_channels = dec_channels if dec_channels is not None else [192, 160, 128, 96]
        # Constructor arguments, so an export copy can be rebuilt with streaming on.
        self.config = {
            "enc_filters": enc_filters,
            "enc_channels": enc_channels,
            "dec_channels": list(dec_channels),
            "n_bands": n_bands,
            "latent_size": latent_size,
            "mean_norm": mean_norm,
        }
        if band_edge:  # only when on: configurations of earlier models stay as they were written
            self.config["band_edge"] = True
        if frozen_analysis:
            self.config["frozen_analysis"] = True
        if len(dec_channels) != 4:
            raise ValueError("three x2 upsampling stages need four channel counts")
        self.encoder = Encoder(enc_filters, enc_channels, latent_size, streaming, mean_norm)
        # Learned, the analysis filters all drift below 4 kHz in training and the encoder stops hearing
        # the upper band (bench/bench_band_edge.py); frozen they stay a log-frequency STFT to 21.6 kHz.
        self.encoder.analysis.conv.weight.requires_grad_(not frozen_analysis)
        decoder = BandEdgeDecoder if band_edge else Decoder
        self.decoder = decoder(dec_channels, latent_size, n_bands, streaming)
        self.sr: int = SAMPLE_RATE
        self.register_buffer(
            "encode_params", torch.tensor([1, 1, latent_size, LATENT_RATIO], dtype=torch.long)
        )
        self.register_buffer(
            "decode_params", torch.tensor([latent_size, LATENT_RATIO, 1, 1], dtype=torch.long)
        )
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1], dtype=torch.long))
        self.register_buffer("latent_size", torch.tensor(latent_size, dtype=torch.long))
        # Exported latent = latent_pca @ (posterior mean - latent_center): rows are principal
        # directions, largest variance first. Identity until training fits them.
        self.register_buffer("latent_pca", torch.eye(latent_size))
        self.register_buffer("latent_center", torch.zeros(latent_size))
        self.register_buffer("latent_mean", torch.zeros(latent_size))
        self.register_buffer("latent_std", torch.ones(latent_size))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.encoder(x)[0] - self.latent_center[None, :, None]
        return torch.einsum("ij,bjt->bit", self.latent_pca, mean)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raw = torch.einsum("ji,bjt->bit", self.latent_pca, z) + self.latent_center[None, :, None]
        return self.decoder(raw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return ["encode", "decode", "forward"]

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return []

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def set_sample_rate(self, sr: int) -> int:
        self.sr = sr
        return 0
