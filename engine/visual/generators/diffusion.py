"""`diffusion`: a StreamDiffusion-style real-time img2img loop on local diffusers components.

Why this shape: a few-step distilled model (sd-turbo, sdxl-turbo, an LCM) denoises a 512x512 latent
in one or two UNet calls, so a diffusion model can follow the music at video rates if every frame
costs only those calls plus a tiny-VAE decode. What makes that possible here:

- `prepare()` turns the scheduler into plain tables (sqrt(alpha_bar), sqrt(1 - alpha_bar), the
  consistency scalings c_skip / c_out) on the device, plus the fixed denoising timesteps picked by
  `t_index_list` out of `num_inference_steps` evenly spaced ones. Per frame there is no scheduler
  call, only gathers and tensor math.
- The latent cache: the previous frame's clean latent is the img2img source, so no VAE encode runs.
  `feedback` is its weight in the noisy latent: the first step starts where sqrt(alpha_bar) equals
  feedback * sqrt(alpha_bar(t0)), and the UNet is told that true noise level (feedback 1: t0;
  feedback 0: pure noise, text-to-image). Zoom and warp move the cached latent a little each frame.
- Noise: a "stock" noise field (fixed noise keeps consecutive frames coherent) walks slowly with
  `speed`; `noise_scale` is the share of fresh noise mixed in (the injected change); the audio model
  latent steers a smooth field added to it through a fixed seeded projection. `reset` redraws it.
- Stream batching: with n denoising steps, frame k's first step, frame k-1's second step, ... run
  as one UNet batch (the pipeline-parallel trick): one call per frame for n steps, output n-1 frames
  late. The first frame (and the first after a reset) runs its steps in turn and primes the stream
  with its output re-noised to the later steps.
- The stochastic similarity filter: there is no camera frame to compare, so the frame's condition
  (audio latent, motion controls, prompt weights) stands in for the input image. When its cosine
  similarity to the last denoised one passes `similarity_threshold`, the frame is skipped with a
  probability rising to 1 at identity (never more than `max_skip_frames` in a row, never on a beat,
  a reset or during a prompt transition); the last image is shown again, re-graded.
- Prompts: each distinct text is encoded once (LRU cache); `prompts` are blended by
  `prompt_weights`; a change of prompt set slerps (per token) from the shown embedding over
  `transition_frames`. Classifier-free guidance with the negative prompt runs when
  guidance_scale > 1 (LCM UNets with a guidance embedding take it as an input instead).
- Output through the tiny VAE when `vae_dir` is given, then a light colour grade (palette
  gradient-map tint, hue rotation, brightness).

Loading is local only (`local_files_only`, HF_HUB_OFFLINE): `model_dir` is a diffusers pipeline
folder of the SD 1.x / 2.x family (or SDXL: two text encoders, pooled embeddings, time ids).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import VisualError
from engine.visual.frame_input import DEFAULT_PALETTE, VisualFrame
from engine.visual.generators.cppn import gradient, hue_rotation

log = logging.getLogger(__name__)

COMPONENT_NAMES = ("unet", "vae", "text_encoder", "tokenizer", "scheduler", "text_encoder_2", "tokenizer_2")
PIPELINE_LAYOUT = "model_index.json, unet/, text_encoder/, tokenizer/, scheduler/, vae/"
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
}
DTYPE_ALIASES = {
    "fp32": "float32", "float": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16",
}
DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model",)
TRANSFORMERS_WEIGHTS = ("model", "pytorch_model")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json")
WEIGHT_VARIANTS = ("fp16", "bf16", "fp32")

MAX_PROMPTS = 12
EMBEDDING_CACHE = 64  # distinct prompt texts kept encoded; a live performance types new ones
BASE_PROMPT_SHARE = 0.5  # with weighted `prompts`, the share of `prompt` itself in the blend
LCM_GUIDANCE = 8.0  # embedded guidance for LCM UNets when guidance_scale does not ask for more
STOCK_STEP = (0.01, 0.12)  # radians per frame the stock noise turns at speed 0 and 1
AUDIO_FIELD_GAIN = 0.35  # weight of the audio-latent field in the noise (unit-variance terms)
AUDIO_FIELD_GRID = 4  # the field's coarse grid: large shapes, not texture
ZOOM_PER_FRAME = 0.03  # scale change per frame at zoom 0 or 1 (0.5 is still)
WARP_PER_FRAME = 0.012  # displacement (in half-frames) per frame at warp 1
PALETTE_TINT = 0.2  # weight of the palette gradient map in the colour grade
SIGMA_DATA = 0.5  # the consistency-model boundary condition's data scale


@dataclass
class _Embedding:
    """One conditioning: token embeddings (1, L, D) and, for SDXL, the pooled text embedding (1, P)."""

    tokens: torch.Tensor
    pooled: torch.Tensor | None = None


def slerp_tokens(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Per-token spherical interpolation (last axis), norms interpolated linearly; float32 math."""
    a32, b32 = a.float(), b.float()
    na = a32.norm(dim=-1, keepdim=True)
    nb = b32.norm(dim=-1, keepdim=True)
    ua = a32 / na.clamp_min(1e-8)
    ub = b32 / nb.clamp_min(1e-8)
    omega = (ua * ub).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0).acos()
    sin_omega = omega.sin()
    parallel = sin_omega < 1e-4  # almost the same direction: plain lerp is exact enough and stable
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    wa = torch.where(parallel, torch.full_like(omega, 1.0 - t), ((1.0 - t) * omega).sin() / safe)
    wb = torch.where(parallel, torch.full_like(omega, t), (t * omega).sin() / safe)
    direction = wa * ua + wb * ub
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return (direction * ((1.0 - t) * na + t * nb)).to(a.dtype)


def _slerp_embedding(a: _Embedding, b: _Embedding, t: float) -> _Embedding:
    pooled = None
    if a.pooled is not None and b.pooled is not None:
        pooled = slerp_tokens(a.pooled, b.pooled, t)
    return _Embedding(slerp_tokens(a.tokens, b.tokens, t), pooled)


def _weighted_embedding(parts: Sequence[_Embedding], weights: Sequence[float]) -> _Embedding:
    tokens = torch.zeros_like(parts[0].tokens, dtype=torch.float32)
    for w, part in zip(weights, parts, strict=True):
        tokens += w * part.tokens.float()
    pooled = None
    pooled_parts = [p.pooled for p in parts if p.pooled is not None]
    if len(pooled_parts) == len(parts):
        pooled = torch.zeros_like(pooled_parts[0], dtype=torch.float32)
        for w, vector in zip(weights, pooled_parts, strict=True):
            pooled += w * vector.float()
        pooled = pooled.to(pooled_parts[0].dtype)
    return _Embedding(tokens.to(parts[0].tokens.dtype), pooled)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two condition vectors; two (near) zero vectors are similar only if equal."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-9 or nb < 1e-9:
        return 1.0 if float(np.linalg.norm(a - b)) < 1e-9 else 0.0
    return float(np.dot(a, b) / (na * nb))


# -- local loading ----------------------------------------------------------------------------------


def _weights_variant(folder: Path, stems: Sequence[str]) -> tuple[bool, str | None]:
    """(found, variant): plain weight files win; otherwise an fp16/bf16 variant (name.fp16.safetensors)."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    for stem in stems:
        if any(stem + suffix in names for suffix in WEIGHT_SUFFIXES):
            return True, None
    for variant in WEIGHT_VARIANTS:
        for stem in stems:
            if any(f"{stem}.{variant}{suffix}" in names for suffix in WEIGHT_SUFFIXES):
                return True, variant
    return False, None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VisualError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise VisualError(f"{path}: expected a JSON object")
    return data


def _check_part(root: Path, part: str, problems: list[str]) -> None:
    """Append what `root/part` lacks, the way a user would fix it."""
    folder = root / part
    if not folder.is_dir():
        problems.append(f"no {part}/")
        return
    if part.startswith("scheduler"):
        if not (folder / "scheduler_config.json").is_file():
            problems.append(f"no {part}/scheduler_config.json")
    elif part.startswith("tokenizer"):
        if not ((folder / "tokenizer.json").is_file()
                or ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())):
            problems.append(f"no {part}/vocab.json + merges.txt (or tokenizer.json)")
    else:
        if not (folder / "config.json").is_file():
            problems.append(f"no {part}/config.json")
        stems = TRANSFORMERS_WEIGHTS if part.startswith("text_encoder") else DIFFUSERS_WEIGHTS
        if not _weights_variant(folder, stems)[0]:
            problems.append(f"no {part} weights ({stems[0]}.safetensors or .bin)")


def check_inputs(model_dir: str | None, vae_dir: str | None,
                 provided: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Raise VisualError naming everything missing; returns (sdxl, the parts to load from model_dir)."""
    unknown = sorted(set(provided) - set(COMPONENT_NAMES))
    if unknown:
        raise VisualError(f"diffusion components {', '.join(unknown)}: unknown; expected some of "
                          f"{', '.join(COMPONENT_NAMES)}")
    if vae_dir is not None:
        vae_path = Path(vae_dir).expanduser()
        if not vae_path.is_dir():
            raise VisualError(f"vae_dir {vae_dir}: no such folder; expected a diffusers tiny VAE folder "
                              "(config.json + diffusion_pytorch_model.safetensors, e.g. madebyollin/taesd)")
        problems: list[str] = []
        if not (vae_path / "config.json").is_file():
            problems.append("no config.json")
        if not _weights_variant(vae_path, DIFFUSERS_WEIGHTS)[0]:
            problems.append("no weights (diffusion_pytorch_model.safetensors or .bin)")
        if problems:
            raise VisualError(f"vae_dir {vae_dir}: {', '.join(problems)}; expected a diffusers "
                              "AutoencoderTiny folder (e.g. madebyollin/taesd)")
    needed = [p for p in ("unet", "text_encoder", "tokenizer", "scheduler") if p not in provided]
    if "vae" not in provided and vae_dir is None:
        needed.append("vae")
    root = Path(model_dir).expanduser() if model_dir is not None else None

    sdxl = False
    if "unet" in provided:
        sdxl = provided["unet"].config.get("addition_embed_type") == "text_time"
    elif root is not None and (root / "unet" / "config.json").is_file():
        sdxl = _read_json(root / "unet" / "config.json").get("addition_embed_type") == "text_time"
    if sdxl:
        needed += [p for p in ("text_encoder_2", "tokenizer_2") if p not in provided]
    if not needed:
        return sdxl, []
    if root is None and provided:
        raise VisualError(f"diffusion: the components lack {', '.join(needed)} and there is no model_dir "
                          "to load them from (--visual-model DIR)")
    if root is None:
        raise VisualError("the diffusion generator needs a local diffusers pipeline folder: pass "
                          "--visual-model DIR (e.g. a downloaded stabilityai/sd-turbo); "
                          "nothing is downloaded")
    if not root.exists():
        raise VisualError(f"model_dir {model_dir}: no such folder; expected a diffusers pipeline folder "
                          f"({PIPELINE_LAYOUT})")
    if root.is_file():
        raise VisualError(f"model_dir {model_dir}: a single file; expected a diffusers pipeline folder "
                          f"({PIPELINE_LAYOUT}), not a checkpoint file")
    problems = []
    for part in needed:
        _check_part(root, part, problems)
    if problems:
        raise VisualError(f"model_dir {model_dir}: {', '.join(problems)}; expected a diffusers pipeline "
                          f"folder ({PIPELINE_LAYOUT})")
    return sdxl, needed


def _load_parts(model_dir: str | None, vae_dir: str | None, parts: Sequence[str],
                dtype: torch.dtype) -> dict[str, Any]:
    """Load the named parts from disk, never from the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces beside local_files_only: a typo never downloads
    import diffusers
    import transformers

    loaded: dict[str, Any] = {}
    root = Path(model_dir).expanduser() if model_dir is not None else Path()

    def attempt(what: str, load: Any) -> Any:
        try:
            return load()
        except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise VisualError(f"{what}: cannot load it ({type(exc).__name__}: {exc})") from None

    for part in parts:
        folder = root / part
        where = f"model_dir {model_dir}: {part}/"
        if part.startswith("scheduler"):
            name = _read_json(folder / "scheduler_config.json").get("_class_name", "EulerDiscreteScheduler")
            cls = getattr(diffusers, str(name), None) or diffusers.EulerDiscreteScheduler
            loaded[part] = attempt(where, lambda cls=cls, folder=folder: cls.from_pretrained(folder))
        elif part.startswith("tokenizer"):
            config_path = folder / "tokenizer_config.json"
            name = _read_json(config_path).get("tokenizer_class") if config_path.is_file() else None
            cls = getattr(transformers, str(name), None) or transformers.CLIPTokenizer
            loaded[part] = attempt(where, lambda cls=cls, folder=folder: cls.from_pretrained(
                folder, local_files_only=True))
        elif part.startswith("text_encoder"):
            config = _read_json(folder / "config.json")
            arch = (config.get("architectures") or ["CLIPTextModel"])[0]
            cls = getattr(transformers, str(arch), None) or transformers.CLIPTextModel
            variant = _weights_variant(folder, TRANSFORMERS_WEIGHTS)[1]
            loaded[part] = attempt(where, lambda cls=cls, folder=folder, variant=variant: cls.from_pretrained(
                folder, local_files_only=True, variant=variant))
        else:
            config = _read_json(folder / "config.json")
            default = "UNet2DConditionModel" if part == "unet" else "AutoencoderKL"
            name = str(config.get("_class_name", default))
            cls = getattr(diffusers, name, None) or getattr(diffusers, default)
            variant = _weights_variant(folder, DIFFUSERS_WEIGHTS)[1]
            loaded[part] = attempt(where, lambda cls=cls, folder=folder, variant=variant: cls.from_pretrained(
                folder, local_files_only=True, variant=variant, torch_dtype=dtype))
    if vae_dir is not None:
        folder = Path(vae_dir).expanduser()
        name = str(_read_json(folder / "config.json").get("_class_name", "AutoencoderTiny"))
        cls = diffusers.AutoencoderKL if name == "AutoencoderKL" else diffusers.AutoencoderTiny
        variant = _weights_variant(folder, DIFFUSERS_WEIGHTS)[1]
        loaded["vae"] = attempt(f"vae_dir {vae_dir}", lambda: cls.from_pretrained(
            folder, local_files_only=True, variant=variant, torch_dtype=dtype))
    return loaded


def _alphas_cumprod(scheduler: Any) -> np.ndarray:
    """alpha_bar per training timestep, from the scheduler or, failing that, its beta schedule."""
    table = getattr(scheduler, "alphas_cumprod", None)
    if table is not None:
        return np.asarray(torch.as_tensor(table).double().cpu().numpy(), dtype=np.float64)
    config = scheduler.config
    steps = int(config.get("num_train_timesteps", 1000))
    start, end = float(config.get("beta_start", 0.00085)), float(config.get("beta_end", 0.012))
    if config.get("beta_schedule", "scaled_linear") == "linear":
        betas = np.linspace(start, end, steps)
    else:  # scaled_linear, the SD schedule
        betas = np.linspace(math.sqrt(start), math.sqrt(end), steps) ** 2
    return np.cumprod(1.0 - betas)


def guidance_embedding(w: float, dim: int) -> torch.Tensor:
    """(1, dim) sinusoidal embedding of the guidance weight, the input of LCM-distilled UNets."""
    half = dim // 2
    scale = math.log(10000.0) / max(half - 1, 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -scale)
    angles = (w * 1000.0) * freqs
    emb = torch.cat([angles.sin(), angles.cos()])
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb[None]


# -- the generator ---------------------------------------------------------------------------------


class DiffusionGenerator:
    name: ClassVar[str] = "diffusion"

    def __init__(self, width: int, height: int, *, seed: int = 0, model_dir: str | None = None,
                 vae_dir: str | None = None, device: str = "auto", dtype: str = "auto",
                 t_index_list: Sequence[int] = (32, 45), num_inference_steps: int = 50,
                 guidance_scale: float = 0.0, stream_batch: bool = True, similarity_threshold: float = 0.98,
                 max_skip_frames: int = 10, compile: bool = False, channels_last: bool = True,
                 components: Mapping[str, Any] | None = None) -> None:
        if width < 16 or height < 16 or width % 8 or height % 8:
            raise VisualError(f"diffusion frame size {width}x{height}: width and height must be multiples "
                              "of 8, at least 16")
        steps = [int(i) for i in t_index_list]
        if not steps or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise VisualError(f"diffusion t_index_list {list(t_index_list)}: expected increasing "
                              "step indices")
        if steps[0] < 0 or steps[-1] >= num_inference_steps:
            raise VisualError(f"diffusion t_index_list {steps}: each index must lie in "
                              f"0..{num_inference_steps - 1} (num_inference_steps {num_inference_steps})")
        if not 0.0 < similarity_threshold <= 1.0:
            raise VisualError(f"diffusion similarity_threshold {similarity_threshold}: expected 0 < t <= 1 "
                              "(1 turns the filter off)")
        if max_skip_frames < 0:
            raise VisualError(f"diffusion max_skip_frames {max_skip_frames}: expected 0 or more")
        self.width, self.height = int(width), int(height)
        self.seed = int(seed)
        self.t_index_list = steps
        self.num_inference_steps = int(num_inference_steps)
        self.guidance_scale = float(guidance_scale)
        self.stream_batch = bool(stream_batch)
        self.similarity_threshold = float(similarity_threshold)
        self.max_skip_frames = int(max_skip_frames)
        self.model_dir, self.vae_dir = model_dir, vae_dir
        self.device = self._pick_device(device)
        self.dtype = self._pick_dtype(dtype, self.device)
        self.channels_last = bool(channels_last)

        provided = dict(components or {})
        self.sdxl, parts = check_inputs(model_dir, vae_dir, provided)
        tiny_vae_dir = vae_dir if "vae" not in provided else None
        loaded = _load_parts(model_dir, tiny_vae_dir, parts, self.dtype) if parts or tiny_vae_dir else {}
        # Explicit components win over files: tests and callers can swap in one module.
        self._setup_modules({**loaded, **provided})
        # torch.compile fails (if at all) when a call (re)compiles, so such a call falls back to eager.
        self.compiled = bool(compile)
        self._unet_run: Any = torch.compile(self.unet) if compile else self.unet

        self._embeddings: OrderedDict[str, _Embedding] = OrderedDict()
        self._audio_bases: dict[int, torch.Tensor] = {}
        self.frames_rendered = 0
        self.frames_denoised = 0
        self.frames_skipped = 0
        self.prepare()
        self._frame_seed: int | None = None  # the frames' seed field; a change later re-seeds
        self._seed_state(self.seed)

    # -- construction -----------------------------------------------------------------------------

    @staticmethod
    def _pick_device(device: str) -> torch.device:
        if device == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            mps = getattr(torch.backends, "mps", None)
            return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
        try:
            chosen = torch.device(device)
        except RuntimeError:
            raise VisualError(f"diffusion device {device!r}: expected auto, cpu, cuda, cuda:N "
                              "or mps") from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise VisualError(f"diffusion device {device!r}: this torch build sees no CUDA GPU")
        return chosen

    @staticmethod
    def _pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
        name = DTYPE_ALIASES.get(dtype, dtype)
        if name == "auto":  # half precision where the hardware is built for it, exact float32 elsewhere
            return torch.float16 if device.type in ("cuda", "mps") else torch.float32
        if name not in DTYPES:
            raise VisualError(f"diffusion dtype {dtype!r}: expected auto, float32, float16 or bfloat16")
        return DTYPES[name]

    def _setup_modules(self, parts: Mapping[str, Any]) -> None:
        self.unet = parts["unet"]
        self.vae = parts["vae"]
        self.text_encoder = parts["text_encoder"]
        self.tokenizer = parts["tokenizer"]
        self.scheduler = parts["scheduler"]
        self.text_encoder_2 = parts.get("text_encoder_2")
        self.tokenizer_2 = parts.get("tokenizer_2")
        memory = torch.channels_last if self.channels_last else torch.contiguous_format
        for module in (self.unet, self.vae, self.text_encoder, self.text_encoder_2):
            if module is not None:
                module.to(self.device)
                # Loaded modules already have the dtype; only passed-in ones may differ.
                if next(module.parameters()).dtype != self.dtype:
                    module.to(dtype=self.dtype)
                module.eval()
                module.requires_grad_(False)
        self.unet.to(memory_format=memory)
        self.vae.to(memory_format=memory)
        vae_config = self.vae.config
        self.tiny_vae = type(self.vae).__name__ == "AutoencoderTiny"
        if self.tiny_vae:
            blocks = len(vae_config.decoder_block_out_channels)
            factor = int(vae_config.upsampling_scaling_factor) ** (blocks - 1)
        else:
            factor = 2 ** (len(vae_config.block_out_channels) - 1)
        if self.width % factor or self.height % factor:
            raise VisualError(f"diffusion frame size {self.width}x{self.height}: must be a multiple of "
                              f"the VAE's {factor}")
        self.latent_shape = (int(self.unet.config.in_channels), self.height // factor, self.width // factor)
        self.vae_scaling = float(getattr(vae_config, "scaling_factor", 1.0) or 1.0)
        self.vae_shift = float(getattr(vae_config, "shift_factor", 0.0) or 0.0)
        if self.sdxl and (self.text_encoder_2 is None or self.tokenizer_2 is None):
            raise VisualError("diffusion: this UNet is SDXL-style (text_time); it needs text_encoder_2 "
                              "and tokenizer_2")

    def prepare(self) -> None:
        """Precompute every per-step constant on the device, so a frame is tensor math only."""
        scheduler_config = self.scheduler.config
        self.prediction_type = str(scheduler_config.get("prediction_type", "epsilon"))
        if self.prediction_type not in ("epsilon", "v_prediction", "sample"):
            raise VisualError(f"diffusion scheduler prediction_type {self.prediction_type!r}: expected "
                              "epsilon, v_prediction or sample")
        alphas = _alphas_cumprod(self.scheduler)
        train_steps = len(alphas)
        if self.num_inference_steps > train_steps:
            raise VisualError(f"diffusion num_inference_steps {self.num_inference_steps}: the scheduler has "
                              f"only {train_steps} training steps")
        self._sqrt_alpha = np.sqrt(alphas)  # decreasing in t; searched on the host for the feedback step
        spacing = train_steps // self.num_inference_steps
        # Evenly spaced from the noisiest step down (999, 979, ... for 1000 / 50): index 0 is pure noise.
        self.timesteps = [(self.num_inference_steps - i) * spacing - 1 for i in self.t_index_list]
        # The consistency (LCM) boundary condition keeps some of x_t at low noise; other schedulers
        # take the model's x0 as is (c_skip 0, c_out 1).
        self.consistency = "timestep_scaling" in scheduler_config
        t = np.arange(train_steps, dtype=np.float64)
        if self.consistency:
            scaled = t * float(scheduler_config.get("timestep_scaling", 10.0))
            c_skip = SIGMA_DATA ** 2 / (scaled ** 2 + SIGMA_DATA ** 2)
            c_out = scaled / np.sqrt(scaled ** 2 + SIGMA_DATA ** 2)
        else:
            c_skip, c_out = np.zeros(train_steps), np.ones(train_steps)
        # (4, T) table: sqrt(alpha_bar), sqrt(1 - alpha_bar), c_skip, c_out. The floor keeps the epsilon
        # division finite on zero-terminal-SNR schedules (alpha_bar 0 at the last step).
        table = np.stack([np.maximum(np.sqrt(alphas), 1e-4), np.sqrt(1.0 - alphas), c_skip, c_out])
        self._table = torch.from_numpy(table).to(device=self.device, dtype=torch.float32)
        self._steps_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.do_cfg = self.guidance_scale > 1.0
        proj = self.unet.config.get("time_cond_proj_dim")
        self._timestep_cond: torch.Tensor | None = None
        if proj:  # LCM-distilled: guidance is an input, no second batch half
            w = (self.guidance_scale if self.guidance_scale > 1.0 else LCM_GUIDANCE) - 1.0
            self._timestep_cond = guidance_embedding(w, int(proj)).to(self.device, self.dtype)
            self.do_cfg = False
        self._time_ids = None
        if self.sdxl:  # SDXL micro-conditioning: original size, crop (0, 0), target size
            self._time_ids = torch.tensor([[self.height, self.width, 0, 0, self.height, self.width]],
                                          device=self.device, dtype=self.dtype)
        c, h, w = self.latent_shape
        ys = torch.linspace(-1.0 + 1.0 / h, 1.0 - 1.0 / h, h, device=self.device)
        xs = torch.linspace(-1.0 + 1.0 / w, 1.0 - 1.0 / w, w, device=self.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        self._grid = torch.stack([gx, gy], dim=-1)[None]  # (1, h, w, 2) identity sampling grid
        self._luma = torch.tensor([0.299, 0.587, 0.114], device=self.device)
        self._buffer: torch.Tensor | None = None  # step counts may have changed: restart the stream

    def _steps(self, first: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(timesteps long (n,), coefficients (4, n, 1, 1, 1)) for a frame whose first step is `first`."""
        if first not in self._steps_cache:
            ts = torch.tensor([first, *self.timesteps[1:]], device=self.device, dtype=torch.long)
            coefs = self._table[:, ts].reshape(4, -1, 1, 1, 1).to(self.dtype)
            self._steps_cache[first] = (ts, coefs)
        return self._steps_cache[first]

    def _first_step(self, feedback: float) -> int:
        """The timestep whose signal weight sqrt(alpha_bar) is feedback * sqrt(alpha_bar(t0))."""
        t0 = self.timesteps[0]
        target = feedback * self._sqrt_alpha[t0]
        # sqrt_alpha decreases with t: the first t at or past t0 whose weight is no more than the target.
        reverse = self._sqrt_alpha[::-1]
        t = len(reverse) - int(np.searchsorted(reverse, target, side="right"))
        return int(min(max(t, t0), len(self._sqrt_alpha) - 1))

    def _seed_state(self, seed: int) -> None:
        self._torch_rng = torch.Generator(device=self.device).manual_seed(seed * 1_000_003 + 0xD1F)
        self._np_rng = np.random.default_rng([seed, 0x51F])
        self._reset_latents()
        self._phase = 0.0
        self._prompt_key: tuple[Any, ...] | None = None
        self._prompt_from: _Embedding | None = None
        self._prompt_shown: _Embedding | None = None
        self.prompt_progress = 1.0
        self._palette_key: tuple[Any, ...] | None = None
        self._palette_from = torch.zeros(0)
        self._palette_shown = torch.zeros(0)
        self._palette_progress = 1.0

    def _reset_latents(self) -> None:
        """Drop the latent cache and the stream; draw a new stock noise (a hard cut)."""
        self._stock = self._noise()
        self._cache: torch.Tensor | None = None
        self._buffer = None
        self._image: torch.Tensor | None = None  # last decoded image (H, W, 3) 0..1, before the grade
        self._reference: np.ndarray | None = None  # the condition of the last denoised frame
        self.skips_in_row = 0

    def _noise(self) -> torch.Tensor:
        return torch.randn((1, *self.latent_shape), generator=self._torch_rng, device=self.device,
                           dtype=torch.float32)

    # -- prompts ----------------------------------------------------------------------------------

    def _encode(self, texts: Sequence[str]) -> None:
        """Encode the texts not yet cached, in one batch."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._embeddings))
        if missing:
            tokens, pooled = self._run_text_encoders(missing)
            for i, text in enumerate(missing):
                row = None if pooled is None else pooled[i:i + 1]
                self._embeddings[text] = _Embedding(tokens[i:i + 1], row)
        for text in texts:
            self._embeddings.move_to_end(text)
        while len(self._embeddings) > max(EMBEDDING_CACHE, len(texts)):
            self._embeddings.popitem(last=False)

    def _token_ids(self, tokenizer: Any, encoder: Any, texts: Sequence[str]) -> torch.Tensor:
        limit = int(getattr(encoder.config, "max_position_embeddings", 77))
        length = min(int(getattr(tokenizer, "model_max_length", limit) or limit), limit)
        ids = tokenizer(list(texts), padding="max_length", max_length=length, truncation=True,
                        return_tensors="pt").input_ids
        return ids.to(self.device)

    @torch.inference_mode()
    def _run_text_encoders(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.sdxl:
            out = self.text_encoder(self._token_ids(self.tokenizer, self.text_encoder, texts))
            return out[0].to(self.dtype), None
        # SDXL: both encoders' penultimate hidden states side by side, the second one's pooled projection.
        hidden = []
        pooled = None
        pairs = ((self.tokenizer, self.text_encoder), (self.tokenizer_2, self.text_encoder_2))
        for tokenizer, encoder in pairs:
            out = encoder(self._token_ids(tokenizer, encoder, texts), output_hidden_states=True)
            hidden.append(out.hidden_states[-2])
            pooled = out[0]
        assert pooled is not None
        return torch.cat(hidden, dim=-1).to(self.dtype), pooled.to(self.dtype)

    def _target_embedding(self, frame: VisualFrame) -> _Embedding:
        prompts = tuple(frame.prompts)[:MAX_PROMPTS]
        if not prompts:
            self._encode([frame.prompt])
            return self._embeddings[frame.prompt]
        raw = frame.prompt_weights if frame.prompt_weights is not None else np.ones(len(prompts))
        weights = np.resize(np.asarray(raw, dtype=np.float64).ravel(), len(prompts))
        weights = np.clip(np.nan_to_num(weights), 0.0, None)
        total = float(weights.sum())
        weights = weights / total if total > 1e-9 else np.full(len(prompts), 1.0 / len(prompts))
        texts = list(prompts)
        if frame.prompt:  # the subject stays in the picture; the weighted prompts colour it
            texts.append(frame.prompt)
            weights = np.append(weights * (1.0 - BASE_PROMPT_SHARE), BASE_PROMPT_SHARE)
        self._encode(texts)
        return _weighted_embedding([self._embeddings[t] for t in texts], weights.tolist())

    def _update_prompt(self, frame: VisualFrame) -> tuple[_Embedding, bool]:
        """The embedding this frame shows, and whether a prompt transition is under way."""
        key = (frame.prompt, tuple(frame.prompts)[:MAX_PROMPTS])
        target = self._target_embedding(frame)
        if self._prompt_shown is None:
            self._prompt_shown, self.prompt_progress = target, 1.0
        elif key != self._prompt_key:  # a new prompt set: slerp from wherever the picture is now
            self._prompt_from, self.prompt_progress = self._prompt_shown, 0.0
        self._prompt_key = key
        changing = self.prompt_progress < 1.0
        if changing and self._prompt_from is not None:
            self.prompt_progress = min(1.0, self.prompt_progress + 1.0 / max(1, int(frame.transition_frames)))
            p = self.prompt_progress
            eased = p * p * (3.0 - 2.0 * p)  # smoothstep: no jolt at either end
            self._prompt_shown = _slerp_embedding(self._prompt_from, target, eased)
        else:
            self._prompt_shown = target
        return self._prompt_shown, changing

    # -- per frame --------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "generator": self.name, "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""), "model_dir": self.model_dir,
            "vae_dir": self.vae_dir, "tiny_vae": self.tiny_vae, "sdxl": self.sdxl,
            "output_size": [self.width, self.height], "latent_shape": list(self.latent_shape),
            "prediction_type": self.prediction_type, "consistency": self.consistency,
            "timesteps": list(self.timesteps), "stream_batch": self.stream_batch,
            "latency_frames": len(self.timesteps) - 1 if self.stream_batch else 0,
            "guidance_scale": self.guidance_scale, "cfg": self.do_cfg, "compiled": self.compiled,
            "similarity_threshold": self.similarity_threshold, "max_skip_frames": self.max_skip_frames,
            "channels_last": self.channels_last, "frames_rendered": self.frames_rendered,
            "frames_denoised": self.frames_denoised, "frames_skipped": self.frames_skipped,
        }

    @torch.inference_mode()
    def render(self, frame: VisualFrame) -> np.ndarray:
        self.frames_rendered += 1
        if self._frame_seed is None:
            self._frame_seed = int(frame.seed)
        elif int(frame.seed) != self._frame_seed:  # /visual/seed moved: a new, reproducible random stream
            self._frame_seed = int(frame.seed)
            self._seed_state(self.seed * 1_000_003 + self._frame_seed)
        if frame.reset:
            self._reset_latents()
        embedding, changing = self._update_prompt(frame)
        condition = self._condition(frame)
        if self._skip(frame, condition, changing):
            self.frames_skipped += 1
            self.skips_in_row += 1
            assert self._image is not None
            return self._grade(self._image, frame)
        self.skips_in_row = 0
        self._reference = condition
        self.frames_denoised += 1

        eps = self._frame_noise(frame)
        feedback = float(np.clip(np.nan_to_num(frame.feedback), 0.0, 1.0)) if self._cache is not None else 0.0
        first = self._first_step(feedback)
        ts, coefs = self._steps(first)
        if self._cache is None:
            source = torch.zeros_like(eps)
        else:
            source = self._move(self._cache, frame).to(self.dtype)
        x_t = coefs[0, :1] * source + coefs[1, :1] * eps  # the new frame enters at its first step
        cond = self._conditioning(embedding, frame)

        if self.stream_batch and self._buffer is not None and self._buffer.shape[0]:
            # One UNet batch: this frame's first step beside the earlier frames' later steps.
            x0 = self._denoise(torch.cat([x_t, self._buffer]), ts, coefs, cond)
            latent = x0[-1:]
            self._buffer = coefs[0, 1:] * x0[:-1] + coefs[1, 1:] * eps
        else:
            latent = self._denoise_sequential(x_t, ts, coefs, cond, eps)
            if self.stream_batch:
                # Prime the stream with this output re-noised to the later steps: the next frames
                # show it refined rather than a repeat of this frame or a half-denoised one.
                self._buffer = coefs[0, 1:] * latent + coefs[1, 1:] * eps
        self._cache = latent
        self._image = self._decode(latent)
        return self._grade(self._image, frame)

    def _denoise_sequential(self, x_t: torch.Tensor, ts: torch.Tensor, coefs: torch.Tensor,
                            cond: dict[str, Any], eps: torch.Tensor) -> torch.Tensor:
        """Every step in turn for one frame: denoise, re-noise to the next step, denoise again."""
        x0 = self._denoise(x_t, ts[:1], coefs[:, :1], cond)
        for i in range(1, len(self.timesteps)):
            x = coefs[0, i:i + 1] * x0 + coefs[1, i:i + 1] * eps
            x0 = self._denoise(x, ts[i:i + 1], coefs[:, i:i + 1], cond)
        return x0

    def _conditioning(self, embedding: _Embedding, frame: VisualFrame) -> dict[str, Any]:
        tokens, pooled = embedding.tokens, embedding.pooled
        if self.do_cfg:
            self._encode([frame.negative_prompt])
            negative = self._embeddings[frame.negative_prompt]
            tokens = torch.cat([negative.tokens, tokens])
            if pooled is not None and negative.pooled is not None:
                pooled = torch.cat([negative.pooled, pooled])
        return {"tokens": tokens, "pooled": pooled}

    def _denoise(self, x_t: torch.Tensor, ts: torch.Tensor, coefs: torch.Tensor,
                 cond: dict[str, Any]) -> torch.Tensor:
        """One UNet call for a batch of latents, each at its own timestep; returns the denoised latents."""
        batch = x_t.shape[0]
        halves = 2 if self.do_cfg else 1
        model_in = torch.cat([x_t] * halves) if halves > 1 else x_t
        timesteps = ts.repeat(halves)
        # Conditioning rows: (uncond, cond) each repeated over the batch.
        tokens = cond["tokens"].repeat_interleave(batch, dim=0)
        kwargs: dict[str, Any] = {}
        if self._timestep_cond is not None:
            kwargs["timestep_cond"] = self._timestep_cond.expand(batch * halves, -1)
        if self.sdxl:
            kwargs["added_cond_kwargs"] = {"text_embeds": cond["pooled"].repeat_interleave(batch, dim=0),
                                           "time_ids": self._time_ids.expand(batch * halves, -1)}
        if self.channels_last:
            model_in = model_in.contiguous(memory_format=torch.channels_last)
        out = self._call_unet(model_in, timesteps, tokens, kwargs)
        if self.do_cfg:
            uncond, text = out.chunk(2)
            out = uncond + self.guidance_scale * (text - uncond)
        alpha, sigma, c_skip, c_out = coefs[0], coefs[1], coefs[2], coefs[3]
        if self.prediction_type == "epsilon":
            x0 = (x_t - sigma * out) / alpha
        elif self.prediction_type == "v_prediction":
            x0 = alpha * x_t - sigma * out
        else:
            x0 = out
        return c_skip * x_t + c_out * x0

    def _call_unet(self, sample: torch.Tensor, timesteps: torch.Tensor, tokens: torch.Tensor,
                   kwargs: dict[str, Any]) -> torch.Tensor:
        kwargs = {"encoder_hidden_states": tokens, "return_dict": False, **kwargs}
        if not self.compiled:
            return self.unet(sample, timesteps, **kwargs)[0]
        try:
            return self._unet_run(sample, timesteps, **kwargs)[0]
        except Exception as exc:  # no working compiler here: eager frames rather than none
            log.warning("diffusion: torch.compile of the UNet failed (%s); running it eagerly", exc)
            self._unet_run, self.compiled = self.unet, False
            return self.unet(sample, timesteps, **kwargs)[0]

    def _frame_noise(self, frame: VisualFrame) -> torch.Tensor:
        """Unit-variance noise for this frame: the walking stock noise, fresh noise, the audio field."""
        speed = float(np.clip(np.nan_to_num(frame.speed), 0.0, 1.0))
        turn = STOCK_STEP[0] + (STOCK_STEP[1] - STOCK_STEP[0]) * speed
        # A rotation in the (stock, fresh) plane keeps the stock noise exactly unit-variance Gaussian.
        self._stock = math.cos(turn) * self._stock + math.sin(turn) * self._noise()
        self._phase += turn
        share = float(np.clip(np.nan_to_num(frame.noise_scale), 0.0, 1.0))
        eps = math.sqrt(1.0 - share * share) * self._stock + share * self._noise()
        latent = np.nan_to_num(np.asarray(frame.latent, dtype=np.float32).ravel())
        if latent.size:
            basis = self._audio_basis(latent.size)
            weights = torch.from_numpy(np.clip(latent, -4.0, 4.0) / math.sqrt(latent.size)).to(self.device)
            field = torch.tensordot(weights, basis, dims=1)[None]
            eps = (eps + AUDIO_FIELD_GAIN * field) / math.sqrt(1.0 + AUDIO_FIELD_GAIN ** 2)
        return eps.to(self.dtype)

    def _audio_basis(self, size: int) -> torch.Tensor:
        """(size, C, h, w): one smooth unit-RMS latent field per audio latent dimension, fixed by the seed."""
        if size not in self._audio_bases:
            rng = torch.Generator().manual_seed(self.seed * 7919 + size)
            c, h, w = self.latent_shape
            coarse = torch.randn((size, c, AUDIO_FIELD_GRID, AUDIO_FIELD_GRID), generator=rng)
            fine = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
            fine = fine / fine.square().mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)
            self._audio_bases[size] = fine.to(self.device)
        return self._audio_bases[size]

    def _move(self, latent: torch.Tensor, frame: VisualFrame) -> torch.Tensor:
        """Zoom and warp the cached latent a little (feedback motion), by one bilinear resample."""
        zoom = float(np.clip(np.nan_to_num(frame.zoom), 0.0, 1.0)) * 2.0 - 1.0
        warp = float(np.clip(np.nan_to_num(frame.warp), 0.0, 1.0))
        if abs(zoom) < 1e-3 and warp < 1e-3:
            return latent
        grid = self._grid / (1.0 + ZOOM_PER_FRAME * zoom)  # sampling nearer the centre magnifies
        if warp >= 1e-3:
            amount = WARP_PER_FRAME * warp
            gx, gy = self._grid[..., 0], self._grid[..., 1]
            p = self._phase * 3.0
            offset = torch.stack([torch.sin(gy * 2.7 + p), torch.sin(gx * 2.3 - 0.8 * p)], dim=-1)
            grid = grid + amount * offset
        moved = F.grid_sample(latent.float(), grid, mode="bilinear", padding_mode="reflection",
                              align_corners=False)
        return moved.to(latent.dtype)

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(H, W, 3) float 0..1 on the device."""
        scaled = latent / self.vae_scaling + self.vae_shift
        if self.channels_last:
            scaled = scaled.contiguous(memory_format=torch.channels_last)
        image = self.vae.decode(scaled, return_dict=False)[0]
        return (image[0].float() * 0.5 + 0.5).clamp_(0.0, 1.0).permute(1, 2, 0)

    def _condition(self, frame: VisualFrame) -> np.ndarray:
        """What the picture depends on, centred so a shared offset does not hide small moves."""
        controls = np.array([frame.noise_scale, frame.speed, frame.zoom, frame.warp, frame.feedback],
                            dtype=np.float64) - 0.5
        latent = np.asarray(frame.latent, dtype=np.float64).ravel()
        weights = (np.asarray(frame.prompt_weights, dtype=np.float64).ravel()
                   if frame.prompt_weights is not None and frame.prompts else np.zeros(0))
        if weights.size:
            weights = weights - weights.mean()
        return np.nan_to_num(np.concatenate([controls, latent, weights]))

    def _skip(self, frame: VisualFrame, condition: np.ndarray, changing: bool) -> bool:
        """The stochastic similarity filter: the more alike, the likelier a skip; never too many in a row."""
        if (self._image is None or self._reference is None or frame.reset or changing or frame.beat
                or self.similarity_threshold >= 1.0 or self.skips_in_row >= self.max_skip_frames
                or condition.shape != self._reference.shape):
            return False
        similarity = cosine_similarity(condition, self._reference)
        probability = max(0.0, 1.0 - (1.0 - similarity) / (1.0 - self.similarity_threshold))
        return bool(self._np_rng.random() < probability)

    def _grade(self, image: torch.Tensor, frame: VisualFrame) -> np.ndarray:
        """Light colour grade, then uint8: a palette gradient-map tint, a hue rotation, brightness."""
        palette = self._palette(frame)
        luma = image @ self._luma
        index = (luma * (palette.shape[0] - 1) + 0.5).long().clamp_(0, palette.shape[0] - 1)
        out = torch.lerp(image, palette[index], PALETTE_TINT)
        hue = float(np.nan_to_num(frame.hue)) % 1.0
        if hue > 1e-4:
            matrix = torch.from_numpy(hue_rotation(hue).T.astype(np.float32)).to(image.device)
            out = out @ matrix
        brightness = float(np.clip(np.nan_to_num(frame.brightness), 0.0, 2.0))
        out = (out * (255.0 * brightness) + 0.5).clamp_(0.0, 255.0).to(torch.uint8)
        return np.ascontiguousarray(out.cpu().numpy())

    def _palette(self, frame: VisualFrame) -> torch.Tensor:
        """(256, 3) gradient of the frame's palette, crossfaded over transition_frames on a change."""
        key = tuple(tuple(float(v) for v in c) for c in (frame.palette or DEFAULT_PALETTE))
        if self._palette_key is None or key != self._palette_key:
            target = torch.from_numpy(gradient(key).astype(np.float32)).to(self.device)
            if self._palette_key is None:
                self._palette_shown, self._palette_progress = target, 1.0
            else:
                self._palette_from, self._palette_progress = self._palette_shown, 0.0
            self._palette_target = target
            self._palette_key = key
        if self._palette_progress < 1.0:
            step = 1.0 / max(1, int(frame.transition_frames))
            self._palette_progress = min(1.0, self._palette_progress + step)
            self._palette_shown = torch.lerp(self._palette_from, self._palette_target, self._palette_progress)
        return self._palette_shown

    def close(self) -> None:
        for name in ("unet", "_unet_run", "vae", "text_encoder", "text_encoder_2"):
            setattr(self, name, None)
        self._embeddings.clear()
        self._audio_bases.clear()
        self._cache = self._buffer = self._image = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
