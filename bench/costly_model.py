"""A stand-in as costly as a full-size RAVE v2 decoder (about 17 ms per 2048 samples on one thread here).

It has the nn~ interface (decode [8, 2048, 1, 1], sr 48000) and a streaming conv stack whose width
is calibrated at build time until one decode of one latent frame costs the target.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn


class CostlyDecoder(nn.Module):
    def __init__(self, width: int, layers: int = 6, latent_size: int = 8) -> None:
        super().__init__()
        self.register_buffer("decode_params", torch.tensor([latent_size, 2048, 1, 1]))
        self.sr = 48000
        self.inp = nn.Conv1d(latent_size, width, 1)
        self.body = nn.ModuleList([nn.Conv1d(width, width, 3, padding=0) for _ in range(layers)])
        self.register_buffer("cache", torch.zeros(layers, 1, width, 2))
        self.out = nn.ConvTranspose1d(width, 1, 2048, stride=2048)

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
        x = torch.relu(self.inp(z))
        # 64 sub-steps per latent frame make the work scale like a real upsampling decoder
        x = x.repeat_interleave(64, dim=2)
        i = 0
        for conv in self.body:
            padded = torch.cat([self.cache[i, :, :, :], x], dim=2)
            self.cache[i].copy_(padded[:, :, -2:])
            x = torch.tanh(conv(padded))
            i += 1  # noqa: SIM113 - TorchScript indexes a buffer alongside a ModuleList
        x = x[:, :, ::64]
        return 0.1 * torch.tanh(self.out(x))


def decode_ms(module: torch.jit.ScriptModule, runs: int = 20) -> float:
    z = torch.randn(1, 8, 1)
    with torch.inference_mode():
        for _ in range(3):
            module.decode(z)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            module.decode(z)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def build(path: Path, target_ms: float = 17.0) -> tuple[Path, float, int]:
    """Scale the width until one decode costs about `target_ms`; returns (path, measured ms, width)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    width, measured = 128, 0.0
    for _ in range(8):
        module = torch.jit.script(CostlyDecoder(width).eval())
        measured = decode_ms(module)
        if abs(measured - target_ms) / target_ms < 0.1:
            break
        width = max(16, int(width * (target_ms / measured) ** 0.5))
    torch.jit.save(module, str(path))
    return path, measured, width


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("/tmp/costly_model.ts"))
    parser.add_argument("--target-ms", type=float, default=17.0)
    args = parser.parse_args()
    print(build(args.out, args.target_ms))
