"""`cppn`: the embedded default visual generator, a compositional pattern-producing network in torch on CPU.

Why a CPPN: it needs no weight files (every weight is drawn from the seed), runs on one CPU thread at
video rates, and maps smooth pixel coordinates to smooth images, so small moves of its conditioning
read as motion rather than noise.

Per frame:
1. The generator latent `z` (the latent cache) moves as `latent_walk.LatentWalk` says: toward a target
   built from the audio model latent, the audio features, a prompt direction (slerped over
   `transition_frames` on a change) and a slow drift (`speed`); `feedback` is the weight of the cached
   `z`, `noise_scale` bounds the step, beats and onsets kick `z`; `reset` is a cut: a new home position
   for `z` and a new drift phase, every cache (z, smoothing, exposure, transitions) dropped.
2. Pixel coordinates (precomputed once per size) are zoomed, rotated and domain-warped (`warp`, driven
   by the features as well) into (x, y, r).
3. A fixed random MLP written as 1x1 convolutions (so channels-last applies) with sin, tanh and bump
   activations maps them to two fields; `z` modulates every layer's per-channel gain and bias (folded
   into the conv weights, so conditioning costs no pixel work).
4. Field one indexes `palette` (a gradient map, hue-rotated, crossfaded over `transition_frames` on a
   change), field two shades it; one lookup table gives uint8 RGB.

Speed: `dtype="auto"` / `channels_last=None` time each float32/bfloat16 x contiguous/channels-last
option at construction and keep the fastest; `scale=None` renders below the output size (then
upsamples the fields bilinearly) only when the fastest full-size frame misses the frame budget.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from engine.analysis.features import INDEX
from engine.errors import VisualError
from engine.visual.frame_input import VisualFrame
from engine.visual.generators.colour import GRADIENT_STEPS, PaletteFade, hue_rotation
from engine.visual.generators.latent_walk import LatentWalk, bounded

FIRST = 16  # coordinate features (the first layer): the one layer computed in float32
HIDDEN = 24  # channels per hidden layer: wide enough for rich patterns, cheap enough for 512x512 on one thread
ACTIVATIONS = ("sin", "tanh", "bump")  # the CPPN look: periodic, saturating and bump units
SHADES = 48  # shading levels in the lookup table
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}
DTYPE_ALIASES = {"fp32": "float32", "float": "float32", "bf16": "bfloat16"}
SCALES = (1.0, 0.75, 0.5)  # internal resolutions tried, largest first, when `scale` is left to auto
# Auto choices per (width, height, threads, dtype, channels_last, scale) request: instances in one
# process agree, so the same seed gives the same frames (bfloat16 and float32 differ in the last bits).
_AUTO_CHOICES: dict[tuple[Any, ...], tuple[str, bool, float, dict[str, float]]] = {}

# How a hidden layer's cheap primitive relates to its activation (see `_Layer`): pre-scale of the
# pre-activation, then post-affine (gain, offset) folded into the next layer's weights.
_PRE_SCALE = {"sin": 1.0, "tanh": 2.0, "bump": 1.0}
_POST_AFFINE = {"sin": (1.0, 0.0), "tanh": (2.0, -1.0), "bump": (-2.0, 2.0)}


def frame_budget_ms(width: int, height: int) -> float:
    """The frame time a size must meet: 1/30 s at 256x256, growing with the side length (1/15 s at 512x512)."""
    return 1000.0 / 30.0 * max(1.0, math.sqrt(width * height / 65536.0))


@dataclass
class _Layer:
    """One 1x1 convolution: base weights plus the matrices that turn `z` into per-channel gain and bias.

    Each activation runs as a cheap primitive p(pre_scale * u) whose result, times gain plus offset,
    equals the activation; the gain and offset go into the next layer's weights, so tanh costs one
    sigmoid and the bump 2 / (1 + exp(u^2)) a square and a sigmoid.
    """

    weight: np.ndarray  # (out, in)
    bias: np.ndarray  # (out,)
    z_gain: np.ndarray  # (out, latent): log-gain per channel from z
    z_bias: np.ndarray  # (out, latent): bias shift per channel from z
    activation: str | None  # None: the output layer


class CppnGenerator:
    name: ClassVar[str] = "cppn"

    def __init__(self, width: int, height: int, *, seed: int = 0, dtype: str = "auto",
                 channels_last: bool | None = None, threads: int | None = None, latent_size: int = 16,
                 scale: float | None = None) -> None:
        if width < 8 or height < 8:
            raise VisualError(f"cppn frame size {width}x{height}: width and height must be at least 8")
        if latent_size < 2:
            raise VisualError(f"cppn latent_size {latent_size}: expected at least 2")
        dtype_name = DTYPE_ALIASES.get(dtype, dtype)
        if dtype_name != "auto" and dtype_name not in DTYPES:
            raise VisualError(f"cppn dtype {dtype!r}: expected auto, float32 or bfloat16")
        if scale is not None and not 0.1 <= scale <= 1.0:
            raise VisualError(f"cppn scale {scale}: expected 0.1 to 1.0 (a fraction of the output size)")
        self.width, self.height = int(width), int(height)
        self.seed = int(seed)
        self.latent_size = int(latent_size)
        self.threads = int(threads or 1)
        torch.set_num_threads(self.threads)  # default one: the other core belongs to the audio
        self._build_network()
        self._reset_state()
        self.timings_ms: dict[str, float] = {}  # median ms per frame of each option timed, by name
        key = (self.width, self.height, self.threads, dtype_name, channels_last, scale, self.latent_size)
        if key not in _AUTO_CHOICES:
            _AUTO_CHOICES[key] = (*self._choose(dtype_name, channels_last, scale), dict(self.timings_ms))
        self.dtype_name, self.channels_last, self.scale, timings = _AUTO_CHOICES[key]
        self.timings_ms = dict(timings)
        self._configure(self.dtype_name, self.channels_last, self.scale)
        # The timing frames moved the state: start every instance from the same place.
        self._walk.restart()
        self._reset_state()

    # -- construction -----------------------------------------------------------------------------

    def _build_network(self) -> None:
        rng = np.random.default_rng([self.seed, 0xC11])
        latent = self.latent_size
        layers: list[_Layer] = []
        n_in = 3  # x, y, r
        # First-layer spatial frequencies: a few periods across the frame, never pixel noise.
        first_std = (2.2, 2.2, 3.0)
        for k, activation in enumerate((*ACTIVATIONS, None)):
            n_out = 2 if activation is None else FIRST if k == 0 else HIDDEN
            if k == 0:
                weight = rng.standard_normal((n_out, n_in)) * np.array(first_std)
                bias = rng.uniform(-math.pi, math.pi, n_out)
            else:
                # Hidden inputs lie in about -1..1; this std keeps pre-activations around 1 to 2.
                gain = 1.0 if activation is None else 1.6
                weight = rng.standard_normal((n_out, n_in)) * (gain * math.sqrt(3.0 / n_in))
                bias = rng.standard_normal(n_out) * 0.5
            z_gain = rng.standard_normal((n_out, latent)) * (0.25 / math.sqrt(latent))
            z_bias = rng.standard_normal((n_out, latent)) * ((1.0 if k == 0 else 0.5) / math.sqrt(latent))
            layers.append(_Layer(weight, bias, z_gain, z_bias, activation))
            n_in = n_out
        self._layers = layers
        self._walk = LatentWalk(latent, seed=self.seed, salt=0xC99, rng=rng)  # features -> z, drift
        self._warp_freqs = rng.uniform(1.2, 2.2, 2), rng.uniform(2.8, 4.5, 2)
        self._warp_rates = rng.uniform(0.8, 1.6, 4) * rng.choice((-1.0, 1.0), 4)
        self._rotation_rate = float(rng.uniform(0.04, 0.1) * rng.choice((-1.0, 1.0)))

    def _configure(self, dtype_name: str, channels_last: bool, scale: float) -> None:
        self._dtype = DTYPES[dtype_name]
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
        # Internal size: a multiple of 8 no larger than the output.
        self._inner_w = min(self.width, max(8, int(round(self.width * scale / 8.0)) * 8))
        self._inner_h = min(self.height, max(8, int(round(self.height * scale / 8.0)) * 8))
        w, h = self._inner_w, self._inner_h
        aspect = w / h
        # Pixel centres: y spans -1..1, x keeps the aspect. Precomputed once per size.
        self._grid_x = ((torch.arange(w, dtype=torch.float32) + 0.5) / w * 2.0 - 1.0).mul_(aspect).view(1, w)
        self._grid_y = ((torch.arange(h, dtype=torch.float32) + 0.5) / h * 2.0 - 1.0).view(h, 1)
        # Pixel-major (x, y, r, 1) rows for the first layer's matmul; the ones carry the bias (addmm
        # would spend a full-size copy broadcasting it).
        self._inputs = torch.ones(h * w, 4)

    def _choose(self, dtype_name: str, channels_last: bool | None, scale: float | None) -> tuple[str, bool, float]:
        """Time a few frames of each open option and keep the fastest (the size only shrinks if it must)."""
        dtypes = list(DTYPES) if dtype_name == "auto" else [dtype_name]
        layouts = [False, True] if channels_last is None else [channels_last]
        scales = SCALES if scale is None else (scale,)
        budget = frame_budget_ms(self.width, self.height)
        if len(dtypes) * len(layouts) * len(scales) == 1:
            return dtypes[0], layouts[0], scales[0]
        best: tuple[float, tuple[str, bool, float]] | None = None
        for size in scales:
            for name in dtypes:
                for layout in layouts:
                    self._configure(name, layout, size)
                    ms = self._time_frames(3)
                    self.timings_ms[f"{name}/{'channels_last' if layout else 'contiguous'}/{size:g}"] = ms
                    if best is None or ms < best[0]:
                        best = (ms, (name, layout, size))
            assert best is not None
            if best[0] <= budget:  # full size whenever it keeps up: scaling down costs sharpness
                break
        assert best is not None
        return best[1]

    def _time_frames(self, count: int) -> float:
        frame = VisualFrame()
        self.render(frame)  # warm-up: first call allocates and picks kernels
        times = []
        for _ in range(count):
            start = time.perf_counter()
            self.render(frame)
            times.append((time.perf_counter() - start) * 1000.0)
        return statistics.median(times)

    def _reset_state(self) -> None:
        """Drop the picture's caches (the walk drops its own on a reset frame)."""
        self._exposure: np.ndarray | None = None  # smoothed (mean, std) of the two fields
        self._palette = PaletteFade()
        self._lut_key: tuple[Any, ...] | None = None
        self._lut = np.zeros((0, 3), dtype=np.uint8)

    # -- per frame --------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "generator": self.name, "dtype": self.dtype_name, "channels_last": self.channels_last,
            "threads": self.threads, "scale": self.scale, "internal_size": [self._inner_w, self._inner_h],
            "output_size": [self.width, self.height], "upsampled": self.scale < 1.0,
            "latent_size": self.latent_size, "timings_ms": dict(self.timings_ms),
        }

    def render(self, frame: VisualFrame) -> np.ndarray:
        if frame.reset:
            self._reset_state()
        features = self._walk.step(frame)  # moves z; the smoothed feature row
        with torch.inference_mode():
            fields = self._fields(frame, features)
            return self._colour(frame, fields)

    def close(self) -> None:
        self._walk.close()
        self._inputs = torch.zeros(0)
        self._lut = np.zeros((0, 3), dtype=np.uint8)

    def _weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-frame conv weights: z sets each channel's gain and bias, folded with the activation affines."""
        out: list[tuple[torch.Tensor, torch.Tensor]] = []
        post_gain = np.ones(3)
        post_offset = np.zeros(3)
        z = self._walk.z
        for k, layer in enumerate(self._layers):
            dtype = torch.float32 if k == 0 else self._dtype  # see `_fields`: the first layer stays float32
            weight = layer.weight * post_gain[None, :]
            bias = layer.bias + layer.weight @ post_offset
            gain = np.exp(np.tanh(layer.z_gain @ z))
            bias = gain * bias + layer.z_bias @ z
            weight = weight * gain[:, None]
            if layer.activation is not None:
                pre = _PRE_SCALE[layer.activation]
                weight, bias = weight * pre, bias * pre
                g, o = _POST_AFFINE[layer.activation]
                post_gain, post_offset = np.full(weight.shape[0], g), np.full(weight.shape[0], o)
            w = torch.from_numpy(weight.astype(np.float32)).to(dtype)
            # The first layer is a matmul (in, out); the rest are 1x1 conv kernels in the chosen layout.
            w = w.t().contiguous() if k == 0 else w[:, :, None, None].contiguous(memory_format=self._memory_format)
            out.append((w, torch.from_numpy(bias.astype(np.float32)).to(dtype)))
        return out

    def _fields(self, frame: VisualFrame, features: np.ndarray) -> torch.Tensor:
        """(2, H, W) float32: colour position and shade logits at the output size."""
        bass = features[INDEX["bass"]]
        level = features[INDEX["level"]]
        # zoom 0..1: 0.5 is neutral, 1 magnifies 2x; a beat punches in for a few frames.
        kick, phase = self._walk.kick, self._walk.phase
        scale = 2.0 ** (1.0 - 2.0 * bounded(frame.zoom, 0.0, 1.0, 0.5)) / (1.0 + 0.12 * kick)
        angle = self._rotation_rate * phase
        cos_a, sin_a = scale * math.cos(angle), scale * math.sin(angle)
        gx, gy = self._grid_x, self._grid_y
        x = (gx * cos_a) - (gy * sin_a)  # (H, W) by broadcasting
        y = (gx * sin_a) + (gy * cos_a)
        # Domain warp, two octaves: features widen it, so loud bass bends the picture.
        amount = bounded(frame.warp, 0.0, 1.0, 0.3) * (0.7 + 0.4 * level + 0.3 * bass) + 0.15 * kick
        (f1a, f1b), (f2a, f2b) = self._warp_freqs
        p = self._warp_rates * phase * 1.5
        dx = torch.sin(y * f1a + p[0]).mul_(0.30 * amount)
        dy = torch.sin(x * f1b + p[1]).mul_(0.30 * amount)
        x.add_(dx)
        y.add_(dy)
        dx = torch.sin(y * f2a + p[2]).mul_(0.12 * amount)
        dy = torch.sin(x * f2b + p[3]).mul_(0.12 * amount)
        x.add_(dx)
        y.add_(dy)
        inputs = self._inputs.view(self._inner_h, self._inner_w, 4)
        inputs[..., 0].copy_(x)
        inputs[..., 1].copy_(y)
        inputs[..., 2].copy_(torch.hypot(x, y))

        weights = self._weights()
        # First layer: a 1x1 conv over 3 channels is a (pixels, 4) x (4, FIRST) matmul, whose result is
        # already channels-last. Coordinates and its large pre-activations stay float32: rounded to
        # bfloat16 they show as grain; past the first activation, bfloat16 is smooth enough.
        w0, b0 = weights[0]
        h = torch.mm(self._inputs, torch.cat([w0, b0[None, :]]))
        self._activate(h, self._layers[0].activation)
        h = h.view(1, self._inner_h, self._inner_w, -1).permute(0, 3, 1, 2)
        h = h.to(self._dtype, memory_format=self._memory_format)
        for layer, (w, b) in zip(self._layers[1:], weights[1:], strict=True):
            h = F.conv2d(h, w, b)
            self._activate(h, layer.activation)
        fields = h.float()
        if (self._inner_h, self._inner_w) != (self.height, self.width):
            fields = F.interpolate(fields, size=(self.height, self.width), mode="bilinear", align_corners=False)
        return fields[0]

    @staticmethod
    def _activate(h: torch.Tensor, activation: str | None) -> None:
        """The cheap primitive of `activation`, in place (see `_Layer`)."""
        if activation == "sin":
            h.sin_()
        elif activation == "tanh":
            h.sigmoid_()
        elif activation == "bump":
            h.square_().sigmoid_()

    def _colour(self, frame: VisualFrame, fields: torch.Tensor) -> np.ndarray:
        lut = self._palette_lut(frame)
        # Slow auto-exposure: centre and scale each field by smoothed statistics (from every 4th pixel),
        # so every seed and state spreads over the whole palette without frame-to-frame pumping.
        std, mean = torch.std_mean(fields[:, ::4, ::4].reshape(2, -1), dim=1)
        stats = np.stack([mean.numpy(), std.numpy()]).astype(np.float64)
        self._exposure = stats if self._exposure is None else 0.85 * self._exposure + 0.15 * stats
        (m0, m1), (s0, s1) = self._exposure
        position = torch.sigmoid((fields[0] - m0) * (1.6 / max(s0, 1e-3)))
        position = position.mul_(GRADIENT_STEPS - 1).add_(0.5).to(torch.int32)
        shade = torch.sigmoid((fields[1] - m1) * (1.4 / max(s1, 1e-3)))
        shade = shade.mul_(SHADES - 1).add_(0.5).to(torch.int32)
        index = shade.mul_(GRADIENT_STEPS).add_(position)
        # numpy's take gathers 3-byte rows several times faster than torch indexing.
        return np.take(lut, index.numpy().reshape(self.height, self.width), axis=0)

    def _palette_lut(self, frame: VisualFrame) -> np.ndarray:
        """(SHADES * GRADIENT_STEPS, 3) uint8: gradient x shade, hue-rotated and brightened."""
        colours = self._palette.step(frame)
        flash = 1.0 + 0.25 * min(self._walk.kick, 1.0)
        brightness = bounded(frame.brightness, 0.0, 2.0, 1.0) * flash
        hue = bounded(frame.hue, -1e6, 1e6, 0.0) % 1.0
        lut_key = (self._palette.key, self._palette.progress, round(brightness, 4), round(hue, 5))
        if lut_key != self._lut_key:
            if hue:
                colours = np.clip(colours @ hue_rotation(hue).T, 0.0, 1.0)
            shades = np.linspace(0.45, 1.05, SHADES) * brightness
            table = np.clip(shades[:, None, None] * colours[None, :, :] * 255.0 + 0.5, 0.0, 255.0)
            self._lut = table.reshape(-1, 3).astype(np.uint8)
            self._lut_key = lut_key
        return self._lut
