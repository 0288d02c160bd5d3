"""`texture`: a seeded coordinate network paints a latent field, a tiny VAE decoder turns it into a picture.

Why: the weight-free CPPN draws smooth gradient-map patterns; decoding a smooth field through a real
TAESD-family decoder (TAEF2, TAESD, ...) gives the painterly, material-like detail an image autoencoder
learned, while staying a pure function of the seed and the controls (no diffusion model, no GPU).

Per frame:
1. The generator latent `z` moves as `latent_walk.LatentWalk` says (the same walk as the `cppn`
   generator's): toward a target built from the audio model latent, the audio features, a prompt
   direction (slerped over `transition_frames`) and a slow drift (`speed`); `feedback` is the weight of
   the cached `z`, `noise_scale` bounds its step, beats and onsets kick it.
2. A small seeded coordinate network (x, y, r, zoomed, rotated and domain-warped) whose layer gains and
   biases `z` modulates paints a C-channel field at (height/8, width/8), C the decoder's latent channels.
   Each channel is centred and scaled to unit spread by smoothed statistics (no frame-to-frame pumping).
3. The latent cache: the field kept is `feedback` of the previous frame's plus the rest of the new one;
   the frame adds a slowly evolving noise field of amplitude `noise_scale` (how far it moves away from
   the cache); a beat or onset jolts the cache with fresh noise; `reset` drops every cache (a hard cut).
4. The white field is coloured to the decoder's latent statistics: `mean + L @ field`, with the mean
   and covariance measured once by encoding built-in synthetic pictures with the matching encoder (the
   `encoder` option, by default the `*encoder*` file beside the `*decoder*` file, ~0.8 s, cached per
   file). A decoder renders clean pictures only from latents whose channels correlate as real ones do;
   without an encoder the channels stay independent (spread 0.7, or 1.0 for 4-channel TAESD files),
   which decodes grainier, with an 8-pixel grid texture.
5. The decoder makes RGB; the palette (mapped by luminance, crossfaded over `transition_frames`), `hue`
   and `brightness` (with a short flash on beats) apply as a light grade over the decoder's colours.

Options (`**cppn_options`): latent_size (z, 16), hidden (network width, 32), scale (decode size as a
fraction of the output, then bilinear upsampling, 1.0), dtype (float32; bfloat16 runs the decoder ~2x
faster where the CPU has AVX-512 BF16 / AMX), channels_last (default: on for bfloat16), latent_gain
(spread of the field in units of the measured latent spread, 1.0), encoder (path, or "none").

Cost is the decoder (~35 GFLOP per 256x256 frame), not the field (~2 ms) or the grade (~2-7 ms).
Measured with one thread on the dev box (AMD EPYC, 2 shared cores, AVX-512 BF16, torch 2.13 CPU),
median of 5-8 frames after warm-up; runs vary ~15% with the load on the shared cores:

    output     float32                    bfloat16
    256x256    2.3-2.7 fps (370-430 ms)   ~5.2 fps (~195 ms)
    512x512    0.43-0.55 fps (1.8-2.3 s)  ~1.15 fps (~0.87 s)
    512x512, scale=0.5: ~2 fps float32, ~5 fps bfloat16 (a 256x256 decode, upsampled)

so on CPU this is a slow, deliberate look or an offline-render one, not a 30 fps live stage.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from engine.analysis.features import INDEX
from engine.errors import VisualError
from engine.visual.frame_input import VisualFrame
from engine.visual.frame_size import check_frame_size
from engine.visual.generators.colour import GRADIENT_STEPS, PaletteFade, hue_rotation
from engine.visual.generators.latent_walk import LatentWalk, bounded
from engine.visual.generators.tiny_vae import (
    LatentStatistics,
    TinyDecoder,
    load_tiny_decoder,
    load_tiny_encoder,
    measure_latent_statistics,
    sibling_encoder,
)

HIDDEN = 32  # channels of the coordinate network (it runs at 1/64 of the pixels: width is cheap)
GRADE = 0.3  # share of the palette colour in the grade: a tint, the decoder's own colours stay visible
NOISE_MEMORY = 0.9  # per-frame persistence of the cache noise field: it evolves, it does not flicker
OPTIONS = ("latent_size", "hidden", "scale", "dtype", "channels_last", "latent_gain", "encoder")
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}
DTYPE_ALIASES = {"auto": "float32", "fp32": "float32", "float": "float32", "bf16": "bfloat16"}
# Measured latent statistics per encoder file (path, mtime): measuring costs ~0.8 s on one thread.
_STATISTICS: dict[tuple[str, int], LatentStatistics] = {}


def latent_statistics(decoder_path: str, channels: int, encoder: str | None) -> tuple[LatentStatistics, str]:
    """The statistics to scale the field to, and where they come from (for info()).

    `encoder` None: the encoder file beside the decoder if there is one; "" or "none": none. Without an
    encoder the channels are independent with the typical spread of the family (grainier pictures).
    """
    path = sibling_encoder(decoder_path) if encoder is None else None if encoder in ("", "none") else Path(encoder)
    if path is None:
        std = 1.0 if channels <= 4 else 0.7  # TAESD 4-channel latents ~unit variance; TAEF1/2 ~0.6-0.7
        return LatentStatistics(torch.zeros(channels), torch.eye(channels) * std), "independent channels"
    file = path.expanduser().resolve()
    key = (str(file), file.stat().st_mtime_ns if file.is_file() else 0)
    if key not in _STATISTICS:
        tiny_encoder = load_tiny_encoder(file)
        if tiny_encoder.latent_channels != channels:
            raise VisualError(f"tiny VAE encoder {file}: {tiny_encoder.latent_channels} latent channels, but "
                              f"the decoder {decoder_path} takes {channels}: not a matching pair")
        _STATISTICS[key] = measure_latent_statistics(tiny_encoder)
    return _STATISTICS[key], f"measured with {file}"


class TextureGenerator:
    """Seeded latent field -> tiny VAE decoder -> graded RGB frame; see the module docstring."""

    name: ClassVar[str] = "texture"

    def __init__(self, width: int, height: int, *, seed: int = 0, decoder: str | None = None,
                 threads: int | None = None, **cppn_options: Any) -> None:
        unknown = sorted(set(cppn_options) - set(OPTIONS))
        if unknown:
            raise VisualError(f"texture generator options {', '.join(unknown)}: unknown; expected some of "
                              f"{', '.join(OPTIONS)}")
        if not decoder:
            raise VisualError("the texture generator needs a tiny VAE decoder: pass --visual-vae FILE "
                              "(a TAESD-family decoder .pth, e.g. taef2_decoder.pth or taesd_decoder.pth)")
        check_frame_size(width, height)
        try:
            latent_size = int(cppn_options.get("latent_size") or 16)
            hidden = int(cppn_options.get("hidden") or HIDDEN)
            scale = float(cppn_options.get("scale") or 1.0)  # None (the cppn "auto") means full size
        except (TypeError, ValueError) as exc:
            raise VisualError(f"texture generator options {cppn_options}: latent_size, hidden and scale must "
                              f"be numbers ({exc})") from exc
        dtype = str(cppn_options.get("dtype") or "float32")
        dtype_name = DTYPE_ALIASES.get(dtype, dtype)
        if latent_size < 2:
            raise VisualError(f"texture latent_size {latent_size}: expected at least 2")
        if hidden < 4:
            raise VisualError(f"texture hidden {hidden}: expected at least 4")
        if not 0.1 <= scale <= 1.0:
            raise VisualError(f"texture scale {scale}: expected 0.1 to 1.0 (a fraction of the output size)")
        if dtype_name not in DTYPES:
            raise VisualError(f"texture dtype {dtype!r}: expected float32 or bfloat16")
        self.width, self.height = int(width), int(height)
        self.seed = int(seed)
        self.latent_size, self.hidden, self.scale = latent_size, hidden, scale
        self.threads = int(threads or 1)
        torch.set_num_threads(self.threads)  # default one: the other core belongs to the audio
        self.decoder_path = str(Path(decoder).expanduser())
        self._decoder: TinyDecoder = load_tiny_decoder(self.decoder_path)
        self.channels = self._decoder.latent_channels
        encoder = cppn_options.get("encoder")
        self._statistics, self.statistics_source = latent_statistics(
            self.decoder_path, self.channels, None if encoder is None else str(encoder))
        self.latent_gain = bounded(cppn_options.get("latent_gain", 1.0), 0.1, 3.0, 1.0)
        # The colouring as a 1x1 convolution: latents = mean + colour @ white field.
        self._colour_kernel = self._statistics.colour[:, :, None, None].contiguous()
        self.dtype_name = dtype_name
        self._dtype = DTYPES[dtype_name]
        channels_last = cppn_options.get("channels_last")
        self.channels_last = bool(dtype_name == "bfloat16" if channels_last is None else channels_last)
        self._memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self._net = self._decoder if self._dtype == torch.float32 else copy.deepcopy(self._decoder).to(self._dtype)
        self._net = self._net.to(memory_format=self._memory_format)
        # Latent grid: the decoder upsamples 8x; `scale` below 1 decodes smaller and upsamples bilinearly.
        self._lat_w = max(2, round(self.width * scale / 8.0))
        self._lat_h = max(2, round(self.height * scale / 8.0))
        aspect = self._lat_w / self._lat_h
        xs = ((torch.arange(self._lat_w, dtype=torch.float32) + 0.5) / self._lat_w * 2.0 - 1.0) * aspect
        ys = (torch.arange(self._lat_h, dtype=torch.float32) + 0.5) / self._lat_h * 2.0 - 1.0
        self._grid_y, self._grid_x = torch.meshgrid(ys, xs, indexing="ij")
        self._build_network()
        self._noise_gen = torch.Generator().manual_seed(self.seed * 7919 + 0x7E5)
        self._reset_state()

    # -- construction -----------------------------------------------------------------------------

    def _build_network(self) -> None:
        """Every weight of the coordinate network and the audio projections, drawn from the seed."""
        rng = np.random.default_rng([self.seed, 0x7E1])
        latent, hidden = self.latent_size, self.hidden
        # First layer: frequencies from about one period per frame to a few latent pixels, so the decoder
        # sees broad shapes and fine structure at once. Inputs are (x, y, r) and a bias column.
        freq = np.exp(rng.uniform(math.log(1.2), math.log(10.0), hidden))
        direction = rng.standard_normal((hidden, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        first = direction * freq[:, None]
        self._w = [np.concatenate([first, rng.uniform(-math.pi, math.pi, (hidden, 1))], axis=1)]
        self._w.append(rng.standard_normal((hidden, hidden + 1)) * np.r_[np.full(hidden, 1.8 / math.sqrt(hidden)), 0.5])
        self._w.append(rng.standard_normal((hidden, hidden + 1)) * np.r_[np.full(hidden, 2.2 / math.sqrt(hidden)), 0.5])
        self._w.append(rng.standard_normal((self.channels, hidden + 1)) / math.sqrt(hidden))
        sizes = [hidden, hidden, hidden, self.channels]
        self._z_gain = [rng.standard_normal((n, latent)) * (0.3 / math.sqrt(latent)) for n in sizes]
        self._z_bias = [rng.standard_normal((n, latent)) * (0.8 / math.sqrt(latent)) for n in sizes]
        self._walk = LatentWalk(latent, seed=self.seed, salt=0x7E5, rng=rng)  # features -> z, drift
        self._warp_freqs = rng.uniform(1.2, 3.0, 4)
        self._warp_rates = rng.uniform(0.8, 1.6, 4) * rng.choice((-1.0, 1.0), 4)
        self._rotation_rate = float(rng.uniform(0.04, 0.1) * rng.choice((-1.0, 1.0)))

    def _reset_state(self) -> None:
        """Drop the picture's caches (the walk drops its own on a reset frame, with a new look)."""
        self._palette = PaletteFade()
        self._exposure: torch.Tensor | None = None  # smoothed per-channel (mean, std) of the raw field
        self._cache: torch.Tensor | None = None  # the latent cache: last frame's field, before noise
        self._field_noise = torch.zeros(1, self.channels, self._lat_h, self._lat_w)

    # -- per frame --------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """What runs: for logs and the status line."""
        return {
            "generator": self.name, "decoder": self.decoder_path, "vae": self._decoder.describe(),
            "latent_channels": self.channels, "latent_grid": [self._lat_w, self._lat_h],
            "decode_size": [8 * self._lat_w, 8 * self._lat_h], "output_size": [self.width, self.height],
            "upsampled": (8 * self._lat_w, 8 * self._lat_h) != (self.width, self.height),
            "dtype": self.dtype_name, "channels_last": self.channels_last, "threads": self.threads,
            "latent_statistics": self.statistics_source, "latent_gain": self.latent_gain,
        }

    def render(self, frame: VisualFrame) -> np.ndarray:
        """The next frame: (height, width, 3) uint8, C-contiguous."""
        if frame.reset:
            self._reset_state()
        features = self._walk.step(frame)  # moves z; the smoothed feature row
        with torch.inference_mode():
            latents = self._latents(frame, features)
            rgb = self._net(latents.to(self._dtype, memory_format=self._memory_format)).float()
            return self._grade(frame, rgb.clamp_(0.0, 1.0))

    def close(self) -> None:
        """Drop the caches (the generator is not used after this)."""
        self._walk.close()
        self._cache = None

    # -- the latent field ---------------------------------------------------------------------------

    def _field(self, frame: VisualFrame, features: np.ndarray) -> torch.Tensor:
        """(1, C, h, w): the coordinate network at the latent grid, modulated by z (raw, not yet scaled)."""
        z, kick, phase = self._walk.z, self._walk.kick, self._walk.phase
        scale = 2.0 ** (1.0 - 2.0 * bounded(frame.zoom, 0.0, 1.0, 0.5)) / (1.0 + 0.12 * kick)
        angle = self._rotation_rate * phase
        cos_a, sin_a = scale * math.cos(angle), scale * math.sin(angle)
        x = self._grid_x * cos_a - self._grid_y * sin_a
        y = self._grid_x * sin_a + self._grid_y * cos_a
        amount = bounded(frame.warp, 0.0, 1.0, 0.3) * (0.7 + 0.4 * features[INDEX["level"]]
                                                        + 0.3 * features[INDEX["bass"]]) + 0.15 * kick
        f, p = self._warp_freqs, self._warp_rates * phase * 1.5
        x, y = x + 0.3 * amount * torch.sin(y * f[0] + p[0]), y + 0.3 * amount * torch.sin(x * f[1] + p[1])
        x, y = x + 0.12 * amount * torch.sin(y * f[2] + p[2]), y + 0.12 * amount * torch.sin(x * f[3] + p[3])
        ones = torch.ones(1, x.numel())
        h = torch.stack([x, y, torch.hypot(x, y)]).reshape(3, -1)  # (inputs, pixels)
        for k, (weight, activation) in enumerate(zip(self._w, (torch.sin, torch.tanh, torch.sin, None),
                                                     strict=True)):
            # z scales each output channel (gain) and shifts it (bias, the last column; ones carry it).
            w = weight * np.exp(np.tanh(self._z_gain[k] @ z))[:, None]
            w[:, -1] += self._z_bias[k] @ z
            h = torch.from_numpy(w.astype(np.float32)) @ torch.cat([h, ones])
            if activation is not None:
                h = activation(h)
        return h.reshape(1, self.channels, self._lat_h, self._lat_w)

    def _smooth_noise(self) -> torch.Tensor:
        """Unit-variance noise at the latent grid, blurred over 3x3 cells: blobs, not per-cell grain."""
        noise = torch.randn(1, self.channels, self._lat_h, self._lat_w, generator=self._noise_gen)
        blurred = F.avg_pool2d(noise, 3, stride=1, padding=1, count_include_pad=False)
        return blurred / blurred.std().clamp_min(1e-6)

    def _latents(self, frame: VisualFrame, features: np.ndarray) -> torch.Tensor:
        """The latent field to decode: the new field blended into the cache, plus the cache noise."""
        field = self._field(frame, features)
        std, mean = torch.std_mean(field.reshape(self.channels, -1), dim=1)
        stats = torch.stack([mean, std.clamp_min(1e-3)])
        self._exposure = stats if self._exposure is None else 0.85 * self._exposure + 0.15 * stats
        mean, std = self._exposure[0].view(1, -1, 1, 1), self._exposure[1].view(1, -1, 1, 1)
        target = (field - mean) / std * self.latent_gain  # white: each channel ~unit spread
        feedback = bounded(frame.feedback, 0.0, 1.0, 0.5)
        noise_scale = bounded(frame.noise_scale, 0.0, 1.0, 0.3)
        if self._cache is None:
            self._cache = target
        else:
            self._cache = feedback * self._cache + (1.0 - feedback) * target
            kick = self._walk.beat_kick
            if kick:  # a beat or onset shakes the cache: a visible jolt that feedback then smooths out
                self._cache = self._cache + (0.25 * min(kick, 2.0)) * self._smooth_noise()
        innovation = math.sqrt(1.0 - NOISE_MEMORY ** 2)
        self._field_noise = NOISE_MEMORY * self._field_noise + innovation * self._smooth_noise()
        white = self._cache + (0.5 * noise_scale) * self._field_noise
        return F.conv2d(white, self._colour_kernel, self._statistics.mean)

    # -- colour -------------------------------------------------------------------------------------

    def _grade(self, frame: VisualFrame, rgb: torch.Tensor) -> np.ndarray:
        """Decoded (1, 3, h, w) 0..1 -> graded uint8 (height, width, 3): palette tint, hue, brightness."""
        if rgb.shape[-2:] != (self.height, self.width):
            rgb = F.interpolate(rgb, size=(self.height, self.width), mode="bilinear", align_corners=False)
        image = rgb[0].permute(1, 2, 0)  # (H, W, 3)
        table = torch.from_numpy(self._palette.step(frame).astype(np.float32))
        luminance = image @ torch.tensor([0.299, 0.587, 0.114])
        index = luminance.mul(GRADIENT_STEPS - 1).add_(0.5).clamp_(0, GRADIENT_STEPS - 1).to(torch.int64)
        graded = image * (1.0 - GRADE) + table[index] * GRADE
        brightness = bounded(frame.brightness, 0.0, 2.0, 1.0) * (1.0 + 0.25 * min(self._walk.kick, 1.0))
        matrix = hue_rotation(bounded(frame.hue, -1e6, 1e6, 0.0) % 1.0).T * brightness * 255.0
        out = graded @ torch.from_numpy(matrix.astype(np.float32))
        return np.ascontiguousarray(out.add_(0.5).clamp_(0.0, 255.0).to(torch.uint8).numpy())
