"""`DiffusionGenerator`: construction, and the per-frame loop that ties the package's parts together.

A frame: re-seed on a new frame seed, cut on `reset`, pick the prompt embedding, maybe skip (the
similarity filter), otherwise draw the frame's noise, re-noise the moved latent cache to the first
step, denoise (one UNet batch with stream batching), decode, and grade.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from engine.errors import VisualError
from engine.visual.frame_input import VisualFrame
from engine.visual.frame_size import check_frame_size
from engine.visual.generators.diffusion.device import pick_device, pick_dtype
from engine.visual.generators.diffusion.grade import ColourGrade
from engine.visual.generators.diffusion.guidance import conditioning, guided, lcm_guidance
from engine.visual.generators.diffusion.loading import check_inputs, load_parts
from engine.visual.generators.diffusion.motion import identity_grid, move_latent
from engine.visual.generators.diffusion.noise import NoiseSource
from engine.visual.generators.diffusion.prompts import Embedding, PromptEncoder, PromptTransition
from engine.visual.generators.diffusion.schedule import denoised, first_step, prepare_schedule
from engine.visual.generators.diffusion.similarity import SimilarityFilter, frame_condition

log = logging.getLogger(__name__)


class DiffusionGenerator:
    name: ClassVar[str] = "diffusion"

    def __init__(self, width: int, height: int, *, seed: int = 0, model_dir: str | None = None,
                 vae_dir: str | None = None, device: str = "auto", dtype: str = "auto",
                 t_index_list: Sequence[int] = (32, 45), num_inference_steps: int = 50,
                 guidance_scale: float = 0.0, stream_batch: bool = True, similarity_threshold: float = 0.98,
                 max_skip_frames: int = 10, compile: bool = False, channels_last: bool = True,
                 components: Mapping[str, Any] | None = None) -> None:
        check_frame_size(width, height)
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
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.channels_last = bool(channels_last)

        provided = dict(components or {})
        self.sdxl, parts = check_inputs(model_dir, vae_dir, provided)
        tiny_vae_dir = vae_dir if "vae" not in provided else None
        loaded = load_parts(model_dir, tiny_vae_dir, parts, self.dtype) if parts or tiny_vae_dir else {}
        # Explicit components win over files: tests and callers can swap in one module.
        self._setup_modules({**loaded, **provided})
        # torch.compile fails (if at all) when a call (re)compiles, so such a call falls back to eager.
        self.compiled = bool(compile)
        self._unet_run: Any = torch.compile(self.unet) if compile else self.unet

        self._prompts = PromptEncoder(self.tokenizer, self.text_encoder, self.tokenizer_2, self.text_encoder_2,
                                      sdxl=self.sdxl, device=self.device, dtype=self.dtype)
        self._embeddings = self._prompts.embeddings  # the encoder's cache itself (text -> Embedding), for tests
        self._noise = NoiseSource(self.latent_shape, self.seed, self.device)
        self._filter = SimilarityFilter(self.similarity_threshold, self.max_skip_frames)
        self._colour_grade = ColourGrade(self.device)
        self.frames_rendered = 0
        self.frames_denoised = 0
        self.frames_skipped = 0
        self.prepare()
        self._frame_seed: int | None = None  # the frames' seed field; a change later re-seeds
        self._seed_state(self.seed)

    # -- construction -----------------------------------------------------------------------------

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
        schedule = prepare_schedule(self.scheduler, self.num_inference_steps, self.t_index_list)
        self.prediction_type = schedule.prediction_type
        self.timesteps = schedule.timesteps
        self.consistency = schedule.consistency
        self._sqrt_alpha = schedule.sqrt_alpha  # searched on the host for the feedback step
        self._table = torch.from_numpy(schedule.table).to(device=self.device, dtype=torch.float32)
        self._steps_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.do_cfg = self.guidance_scale > 1.0
        proj = self.unet.config.get("time_cond_proj_dim")
        self._timestep_cond: torch.Tensor | None = None
        if proj:  # LCM-distilled: guidance is an input, no second batch half
            self._timestep_cond = lcm_guidance(self.guidance_scale, int(proj)).to(self.device, self.dtype)
            self.do_cfg = False
        self._time_ids = None
        if self.sdxl:  # SDXL micro-conditioning: original size, crop (0, 0), target size
            self._time_ids = torch.tensor([[self.height, self.width, 0, 0, self.height, self.width]],
                                          device=self.device, dtype=self.dtype)
        _, h, w = self.latent_shape
        self._grid = identity_grid(h, w, self.device)
        self._buffer: torch.Tensor | None = None  # step counts may have changed: restart the stream

    def _steps(self, first: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(timesteps long (n,), coefficients (4, n, 1, 1, 1)) for a frame whose first step is `first`."""
        if first not in self._steps_cache:
            ts = torch.tensor([first, *self.timesteps[1:]], device=self.device, dtype=torch.long)
            coefs = self._table[:, ts].reshape(4, -1, 1, 1, 1).to(self.dtype)
            self._steps_cache[first] = (ts, coefs)
        return self._steps_cache[first]

    def _first_step(self, feedback: float) -> int:
        return first_step(self._sqrt_alpha, self.timesteps[0], feedback)

    def _seed_state(self, seed: int) -> None:
        self._noise.reseed(seed)
        self._filter.seed(seed)
        self._reset_latents()
        self._transition = PromptTransition()
        self._colour_grade.reset()

    def _reset_latents(self) -> None:
        """Drop the latent cache and the stream; draw a new stock noise (a hard cut)."""
        self._noise.redraw_stock()
        self._cache: torch.Tensor | None = None
        self._buffer = None
        self._image: torch.Tensor | None = None  # last decoded image (H, W, 3) 0..1, before the grade
        self._filter.reset()

    # -- state others read (the parts own it; these keep it readable on the generator) ------------

    @property
    def _prompt_shown(self) -> Embedding | None:
        """The prompt embedding on screen (mid-transition: the slerp's current point)."""
        return self._transition.shown

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

    # -- per frame --------------------------------------------------------------------------------

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
        embedding, changing = self._transition.update(frame, self._prompts.target(frame))
        condition = frame_condition(frame)
        # Never skip a first frame, a cut, a beat or a prompt transition: those must show at once.
        must_denoise = self._image is None or frame.reset or changing or frame.beat
        if not must_denoise and self._filter.skip(condition):
            self.frames_skipped += 1
            assert self._image is not None
            return self._colour_grade.apply(self._image, frame)  # the last image again, re-graded
        self._filter.denoised(condition)
        self.frames_denoised += 1

        eps = self._noise.for_frame(frame, self.dtype)
        feedback = float(np.clip(np.nan_to_num(frame.feedback), 0.0, 1.0)) if self._cache is not None else 0.0
        ts, coefs = self._steps(self._first_step(feedback))
        if self._cache is None:
            source = torch.zeros_like(eps)
        else:
            source = move_latent(self._cache, self._grid, frame, self._noise.phase).to(self.dtype)
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
        return self._colour_grade.apply(self._image, frame)

    def _conditioning(self, embedding: Embedding, frame: VisualFrame) -> dict[str, Any]:
        negative = self._prompts.embedding(frame.negative_prompt) if self.do_cfg else None
        return conditioning(embedding, negative)

    def _denoise_sequential(self, x_t: torch.Tensor, ts: torch.Tensor, coefs: torch.Tensor,
                            cond: dict[str, Any], eps: torch.Tensor) -> torch.Tensor:
        """Every step in turn for one frame: denoise, re-noise to the next step, denoise again."""
        x0 = self._denoise(x_t, ts[:1], coefs[:, :1], cond)
        for i in range(1, len(self.timesteps)):
            x = coefs[0, i:i + 1] * x0 + coefs[1, i:i + 1] * eps
            x0 = self._denoise(x, ts[i:i + 1], coefs[:, i:i + 1], cond)
        return x0

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
            out = guided(out, self.guidance_scale)
        return denoised(x_t, out, coefs, self.prediction_type)

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

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(H, W, 3) float 0..1 on the device."""
        scaled = latent / self.vae_scaling + self.vae_shift
        if self.channels_last:
            scaled = scaled.contiguous(memory_format=torch.channels_last)
        image = self.vae.decode(scaled, return_dict=False)[0]
        return (image[0].float() * 0.5 + 0.5).clamp_(0.0, 1.0).permute(1, 2, 0)

    def close(self) -> None:
        for name in ("unet", "_unet_run", "vae", "text_encoder", "text_encoder_2"):
            setattr(self, name, None)
        self._prompts.close()
        self._noise.close()
        self._cache = self._buffer = self._image = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
