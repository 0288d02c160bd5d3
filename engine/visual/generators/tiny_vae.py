"""Tiny autoencoders of the TAESD family (TAESD, TAESDXL, TAESD3/TAEF1, TAEF2) as our own torch modules.

Why our own: the files hold bare `nn.Sequential` state dicts (keys such as `3.conv.0.weight`), and TAEF2,
the tiny autoencoder of the FLUX.2 latent space, adds a GroupNorm branch to some blocks that diffusers'
`AutoencoderTiny` cannot load. The modules here are built from a state dict's keys and shapes, so one
class covers 4-, 16- and 32-channel latents with or without those branches.

The layout, read from the keys (a `Sequential` counts parameter-free layers too, hence the gaps):

- decoder: 0 soft clamp `3 tanh(x / 3)`, 1 conv latent->W, 2 ReLU, 3-5 blocks, 6 upsample x2, 7 conv
  (no bias), 8-10 blocks, 11 upsample, 12 conv, 13-15 blocks, 16 upsample, 17 conv, 18 block, 19 conv W->3;
- encoder: 0 conv 3->W, 1 block, 2 conv stride 2 (no bias), 3-5 blocks, 6 conv s2, 7-9 blocks, 10 conv s2,
  11-13 blocks, 14 conv W->latent;
- block: `conv` = conv, ReLU, conv, ReLU, conv (3x3), added to the input, then ReLU. A block with `pool.*`
  keys (TAEF2: decoder 3-5, encoder 11-13) first adds `pool(x)` to its input: 1x1 conv W->4W (no bias),
  GroupNorm, ReLU, 1x1 conv 4W->W (no bias). The GroupNorm's group count is not stored in the file; 4
  groups is the value the real TAEF2 weights were trained with: an encode/decode round trip of a test
  picture measures 32.8 dB PSNR with 4 groups against 22-29 dB with 2, 8 or 16 and 17 dB without the
  branch; on the test pictures 26.3 dB against 19.5-24.8 dB and 15.8 dB (tests/test_tiny_vae.py keeps
  that check).

Images are RGB 0..1 on both sides (no -1..1 shift); latents are the autoencoder's own latent space.
Everything runs in float32 on CPU (fp16 files are converted on load), in eval mode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import VisualError

POOL_GROUPS = 4  # GroupNorm groups of the TAEF2 block branch (see the module docstring: measured)
POOL_EXPANSION = 4  # the branch's hidden width, in multiples of the block width
CLAMP = 3.0  # the decoder's soft clamp on its input: 3 tanh(x / 3)

# (index, kind) of every layer that holds weights; "block" layers may carry the pool branch.
_DECODER_LAYERS: tuple[tuple[int, str], ...] = (
    (1, "conv_in"), (3, "block"), (4, "block"), (5, "block"), (7, "conv_nobias"),
    (8, "block"), (9, "block"), (10, "block"), (12, "conv_nobias"),
    (13, "block"), (14, "block"), (15, "block"), (17, "conv_nobias"), (18, "block"), (19, "conv_out"),
)
_ENCODER_LAYERS: tuple[tuple[int, str], ...] = (
    (0, "conv_in"), (1, "block"), (2, "down"), (3, "block"), (4, "block"), (5, "block"), (6, "down"),
    (7, "block"), (8, "block"), (9, "block"), (10, "down"), (11, "block"), (12, "block"), (13, "block"),
    (14, "conv_out"),
)
_KNOWN = "TAESD-family (TAESD, TAESDXL, TAESD3, TAEF1, TAEF2)"


class _Clamp(nn.Module):
    """The decoder's soft clamp: latents far outside the training range saturate instead of blowing up."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / CLAMP) * CLAMP


def _conv(n_in: int, n_out: int, *, bias: bool = True, stride: int = 1) -> nn.Conv2d:
    """A 3x3 convolution with same padding: every conv of the family but the block branch's 1x1 ones."""
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class _Block(nn.Module):
    """Residual block: three 3x3 convs added to the input; optionally the TAEF2 GroupNorm branch first."""

    def __init__(self, width: int, *, pool: bool) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(width, width), nn.ReLU(), _conv(width, width), nn.ReLU(),
                                  _conv(width, width))
        self.pool: nn.Sequential | None = None
        if pool:
            hidden = width * POOL_EXPANSION
            self.pool = nn.Sequential(nn.Conv2d(width, hidden, 1, bias=False), nn.GroupNorm(POOL_GROUPS, hidden),
                                      nn.ReLU(), nn.Conv2d(hidden, width, 1, bias=False))
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


def _layers(plan: tuple[tuple[int, str], ...], *, decoder: bool, width: int, latent: int,
            pool_blocks: frozenset[int]) -> nn.Sequential:
    """The `Sequential` of `plan`, parameter-free layers (clamp, ReLU, upsample) filling the index gaps."""
    modules: list[nn.Module] = []
    for index, kind in plan:
        while len(modules) < index:  # the gap before a weighted layer
            if decoder:
                modules.append(_Clamp() if not modules else nn.ReLU() if len(modules) == 2 else nn.Upsample(
                    scale_factor=2, mode="nearest"))
            else:
                raise AssertionError(f"encoder plan has a gap before layer {index}")
        if kind == "conv_in":
            modules.append(_conv(latent if decoder else 3, width))
        elif kind == "conv_out":
            modules.append(_conv(width, 3 if decoder else latent))
        elif kind == "conv_nobias":
            modules.append(_conv(width, width, bias=False))
        elif kind == "down":
            modules.append(_conv(width, width, bias=False, stride=2))
        else:
            modules.append(_Block(width, pool=index in pool_blocks))
    return nn.Sequential(*modules)


class _TinyCoder(nn.Module):
    """Shared part of the decoder and encoder: the layer stack, its sizes and a float32 eval setup."""

    plan: tuple[tuple[int, str], ...] = ()
    is_decoder = True

    def __init__(self, latent_channels: int = 4, width: int = 64, pool_blocks: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.latent_channels = int(latent_channels)
        self.width = int(width)
        self.pool_blocks = frozenset(pool_blocks)
        self.layers = _layers(self.plan, decoder=self.is_decoder, width=self.width,
                              latent=self.latent_channels, pool_blocks=self.pool_blocks)
        self.source = ""  # the file it was loaded from, for messages
        self.eval()

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor], source: str = "state dict") -> Self:
        """A module shaped by `state` (as saved: keys without the `layers.` prefix), weights loaded in float32."""
        latent, width, pools = _read_layout(state, cls.is_decoder, source)
        module = cls(latent, width, pools)
        expected = module.layers.state_dict()
        _check_keys(state, expected, cls.is_decoder, source)
        module.layers.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
        module.source = source
        return module.eval().requires_grad_(False)

    def describe(self) -> str:
        """One line: what this module is (for logs and info())."""
        kind = "decoder" if self.is_decoder else "encoder"
        extra = f", GroupNorm branch in blocks {sorted(self.pool_blocks)}" if self.pool_blocks else ""
        return f"tiny {kind}: {self.latent_channels} latent channels, width {self.width}{extra}"


class TinyDecoder(_TinyCoder):
    """Latents (B, C, h, w) -> RGB (B, 3, 8h, 8w) in 0..1."""

    plan = _DECODER_LAYERS
    is_decoder = True

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.layers(latents).clamp_(0.0, 1.0)

    def decode(self, latents: torch.Tensor | np.ndarray) -> torch.Tensor:
        """`forward` under inference mode in float32, after checking the latent channel count."""
        x = torch.as_tensor(latents, dtype=torch.float32)
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[1] != self.latent_channels:
            raise VisualError(f"tiny decoder {self.source}: latents of shape {tuple(x.shape)}; expected "
                              f"(batch, {self.latent_channels}, height, width)")
        with torch.inference_mode():
            return self(x)


class TinyEncoder(_TinyCoder):
    """RGB (B, 3, H, W) in 0..1, H and W multiples of 8 -> latents (B, C, H/8, W/8)."""

    plan = _ENCODER_LAYERS
    is_decoder = False

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)

    def encode(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """`forward` under inference mode in float32, after checking the image shape."""
        x = torch.as_tensor(images, dtype=torch.float32)
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] % 8 or x.shape[3] % 8:
            raise VisualError(f"tiny encoder {self.source}: images of shape {tuple(x.shape)}; expected "
                              "(batch, 3, height, width) with height and width multiples of 8")
        with torch.inference_mode():
            return self(x)


def _read_layout(state: Mapping[str, torch.Tensor], decoder: bool, source: str) -> tuple[int, int, frozenset[int]]:
    """(latent channels, width, blocks with the GroupNorm branch) from the first/last conv shapes and the keys."""
    kind = "decoder" if decoder else "encoder"
    first, last = ("1.weight", "19.weight") if decoder else ("0.weight", "14.weight")
    if first not in state or last not in state:
        other_first, other_last = ("0.weight", "14.weight") if decoder else ("1.weight", "19.weight")
        other = "encoder" if decoder else "decoder"
        hint = f" (it looks like a TAESD-family {other})" if other_first in state and other_last in state else ""
        raise VisualError(f"{source}: not a {_KNOWN} {kind}{hint}: keys {first!r} and {last!r} are missing; "
                          f"it has {_sample(state)}")
    w_in, w_out = state[first], state[last]
    if w_in.dim() != 4 or w_out.dim() != 4:
        raise VisualError(f"{source}: {first!r} / {last!r} are not conv kernels (shapes {tuple(w_in.shape)}, "
                          f"{tuple(w_out.shape)}); not a {_KNOWN} {kind}")
    if decoder:
        width, latent, rgb = int(w_in.shape[0]), int(w_in.shape[1]), int(w_out.shape[0])
    else:
        width, rgb, latent = int(w_in.shape[0]), int(w_in.shape[1]), int(w_out.shape[0])
    if rgb != 3:
        raise VisualError(f"{source}: {kind} has {rgb} image channels; expected 3 (RGB)")
    blocks = {index for index, layer in (_DECODER_LAYERS if decoder else _ENCODER_LAYERS) if layer == "block"}
    pools = frozenset(i for i in blocks if f"{i}.pool.0.weight" in state)
    return latent, width, pools


def _sample(keys: Mapping[str, object] | list[str], count: int = 5) -> str:
    """A few keys for a message, with the total: enough to see what a file is without flooding the log."""
    names = list(keys)
    shown = ", ".join(repr(k) for k in names[:count])
    return f"{len(names)} keys: {shown}{', ...' if len(names) > count else ''}" if names else "no keys"


def _check_keys(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], decoder: bool,
                source: str) -> None:
    """Raise VisualError naming the missing, unexpected and mis-shaped keys (a few of each)."""
    kind = "decoder" if decoder else "encoder"
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_sample(missing)}")
        if unexpected:
            parts.append(f"unexpected {_sample(unexpected)}")
        raise VisualError(f"{source}: keys match no known {_KNOWN} {kind} layout: {'; '.join(parts)}")
    wrong = [f"{k!r} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise VisualError(f"{source}: {kind} tensor shapes do not fit one layout: {', '.join(wrong[:5])}"
                          f"{', ...' if len(wrong) > 5 else ''}")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a torch weights file (weights_only: a file cannot run code), VisualError if unusable.

    Accepts a bare state dict, one under a `state_dict` key, or one whose keys carry a `decoder.` /
    `encoder.` prefix (a combined file): the prefix is kept for the caller to pick.
    """
    file = Path(path).expanduser()
    if not file.exists():
        raise VisualError(f"tiny VAE weights {file}: no such file")
    if not file.is_file():
        raise VisualError(f"tiny VAE weights {file}: not a file")
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails in many ways on a bad file; every one means "unreadable"
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise VisualError(f"tiny VAE weights {file}: unreadable as a torch weights file ({reason})") from exc
    if isinstance(loaded, Mapping) and "state_dict" in loaded and isinstance(loaded["state_dict"], Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping) or not loaded:
        raise VisualError(f"tiny VAE weights {file}: holds {type(loaded).__name__}, not a state dict of tensors")
    tensors = {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    if len(tensors) != len(loaded):
        others = [str(k) for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
        raise VisualError(f"tiny VAE weights {file}: entries that are not tensors: {_sample(others)}")
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise VisualError(f"tiny VAE weights {file}: non-finite values in {_sample(bad)}")
    return tensors


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """`state` without `prefix` where every key of that part carries it (a combined encoder+decoder file)."""
    part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return part or state


def load_tiny_decoder(path: str | Path) -> TinyDecoder:
    """A TAESD-family decoder from a local torch file (e.g. `taef2_decoder.pth`), float32, eval, on CPU."""
    file = Path(path).expanduser()
    state = _strip(read_state_dict(file), "decoder.")
    return TinyDecoder.from_state_dict(state, source=f"tiny VAE decoder {file}")


def load_tiny_encoder(path: str | Path) -> TinyEncoder:
    """A TAESD-family encoder from a local torch file (e.g. `taef2_encoder.pth`), float32, eval, on CPU."""
    file = Path(path).expanduser()
    state = _strip(read_state_dict(file), "encoder.")
    return TinyEncoder.from_state_dict(state, source=f"tiny VAE encoder {file}")


def sibling_encoder(decoder_path: str | Path) -> Path | None:
    """The encoder file beside a decoder (`taef2_decoder.pth` -> `taef2_encoder.pth`), if there is one."""
    file = Path(decoder_path).expanduser()
    if "decoder" not in file.name:
        return None
    candidate = file.with_name(file.name.replace("decoder", "encoder"))
    return candidate if candidate.is_file() else None


def calibration_pictures(count: int = 8, size: int = 128, seed: int = 0) -> torch.Tensor:
    """(count, 3, size, size) float32 0..1: seeded synthetic pictures with what photos have a bit of all.

    Colour gradients, value-noise texture, gratings (every other picture) and anti-aliased discs and
    boxes: varied enough to measure the statistics of an autoencoder's latents and to test a round trip,
    with no image files in the project.
    """
    rng = np.random.default_rng([seed, 0xCA1])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    pictures = []
    for i in range(count):
        corners = rng.uniform(0.0, 1.0, (4, 3))
        image = (corners[0] * ((1 - xx) * (1 - yy))[..., None] + corners[1] * (xx * (1 - yy))[..., None]
                 + corners[2] * ((1 - xx) * yy)[..., None] + corners[3] * (xx * yy)[..., None])
        cells = int(rng.integers(3, 24))
        grid = torch.from_numpy(rng.uniform(-1.0, 1.0, (1, 1, cells, cells)))
        noise = F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False)[0, 0].numpy()
        image = image + rng.uniform(0.05, 0.3) * noise[..., None] * rng.uniform(0.3, 1.0, 3)
        if i % 2:
            angle, frequency = rng.uniform(0.0, math.pi), rng.uniform(4.0, 40.0)
            wave = 0.5 + 0.5 * np.sin(2 * math.pi * frequency * (xx * math.cos(angle) + yy * math.sin(angle)))
            alpha = rng.uniform(0.2, 0.6) * wave[..., None]
            image = image * (1 - alpha) + alpha * rng.uniform(0.0, 1.0, 3)
        for _ in range(int(rng.integers(2, 7))):
            colour = rng.uniform(0.0, 1.0, 3)
            cx, cy = rng.uniform(0.0, 1.0, 2)
            if rng.uniform() < 0.5:
                inside = rng.uniform(0.04, 0.25) - np.hypot(xx - cx, yy - cy)
            else:
                half_w, half_h = rng.uniform(0.04, 0.25, 2)
                inside = np.minimum(half_w - abs(xx - cx), half_h - abs(yy - cy))
            alpha = np.clip(inside * size, 0.0, 1.0)[..., None]
            image = image * (1 - alpha) + alpha * colour
        pictures.append(np.clip(image, 0.0, 1.0).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(pictures).astype(np.float32))


@dataclass(frozen=True)
class LatentStatistics:
    """Mean and colouring matrix of an autoencoder's latents: `mean + colour @ white` looks like its latents.

    Why: a decoder renders clean pictures only from latents whose channels correlate as real ones do;
    independent channels at the right spread decode into grainy 8-pixel grid patterns.
    """

    mean: torch.Tensor  # (C,)
    colour: torch.Tensor  # (C, C), lower triangular: the Cholesky factor of the covariance


def measure_latent_statistics(encoder: TinyEncoder, pictures: torch.Tensor | None = None) -> LatentStatistics:
    """Encode `pictures` (default: `calibration_pictures()`) and measure the latents' mean and covariance."""
    latents = encoder.encode(calibration_pictures() if pictures is None else pictures).to(torch.float64)
    samples = latents.permute(1, 0, 2, 3).reshape(encoder.latent_channels, -1)
    covariance = torch.cov(samples)
    ridge = 1e-4 * float(covariance.diagonal().mean()) + 1e-8  # a rank-poor sample must still factor
    colour = torch.linalg.cholesky(covariance + ridge * torch.eye(encoder.latent_channels, dtype=torch.float64))
    return LatentStatistics(samples.mean(dim=1).to(torch.float32), colour.to(torch.float32))
