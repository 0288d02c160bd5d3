"""RAVE-shaped decoders with random weights: what an untrained or badly trained export sounds like.

An upsampling stack of transposed convolutions (x16, x16, x8 = 2048 samples per latent frame, as
RAVE's ratio) with leaky ReLUs, a waveform head and a filtered-noise head, scaled by `level`: seeds
and levels give buzzes, hisses and clicks anywhere from about -70 to 0 dBFS. nn~ interface: decode
only, [latent, 2048, channels, 1], a sample rate.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

RATIO = 2048


class RandomDecoder(nn.Module):
    def __init__(self, latent_size: int, channels: int, sr: int, level: float, width: int = 24) -> None:
        super().__init__()
        self.sr = sr
        self.level = level
        self.register_buffer("decode_params", torch.tensor([latent_size, RATIO, channels, 1]))
        self.inp = nn.Conv1d(latent_size, width, 1)
        self.up = nn.ModuleList([nn.ConvTranspose1d(width, width, s, stride=s) for s in (16, 16, 8)])
        self.wave = nn.Conv1d(width, channels, 7, padding=3)
        self.noise_gain = nn.Conv1d(width, channels, 1)

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return ["decode"]

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return []

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        x = nn.functional.leaky_relu(self.inp(z), 0.2)
        for layer in self.up:
            x = nn.functional.leaky_relu(layer(x), 0.2)
        noise = torch.randn(x.shape[0], self.wave.out_channels, x.shape[2]) * torch.sigmoid(self.noise_gain(x))
        return self.level * torch.tanh(self.wave(x) + 0.3 * noise)


def make_random_decoder(tmp_path: Path, *, seed: int, level: float = 0.1, latent_size: int = 8,
                        channels: int = 1, sr: int = 48000) -> Path:
    torch.manual_seed(seed)
    module = RandomDecoder(latent_size, channels, sr, level)
    path = Path(tmp_path) / f"random_decoder_s{seed}_l{level}_c{channels}_{sr}.ts"
    torch.jit.script(module.eval()).save(str(path))
    return path
