"""`diffusion`: a StreamDiffusion-style real-time img2img loop on local diffusers components.

Why this shape: a few-step distilled model (sd-turbo, sdxl-turbo, an LCM) denoises a 512x512 latent
in one or two UNet calls, so a diffusion model can follow the music at video rates if every frame
costs only those calls plus a tiny-VAE decode. What makes that possible, module by module:

- `schedule`: `prepare()` turns the scheduler into plain tables on the device, plus the fixed
  denoising timesteps picked by `t_index_list` out of `num_inference_steps` evenly spaced ones. Per
  frame there is no scheduler call, only gathers and tensor math.
- The latent cache (`generator`): the previous frame's clean latent is the img2img source, so no VAE
  encode runs. `feedback` is its weight in the noisy latent: the first step starts where
  sqrt(alpha_bar) equals feedback * sqrt(alpha_bar(t0)). `motion` zooms and warps it a little each
  frame.
- `noise`: a "stock" noise field walks slowly with `speed`; `noise_scale` is the share of fresh noise;
  the audio model latent steers a smooth field added to it. `reset` redraws the stock field.
- Stream batching (`generator`): with n denoising steps, frame k's first step, frame k-1's second
  step, ... run as one UNet batch (the pipeline-parallel trick): one call per frame for n steps,
  output n-1 frames late. The first frame (and the first after a reset) runs its steps in turn and
  primes the stream with its output re-noised to the later steps.
- `similarity`: the stochastic similarity filter skips frames whose condition barely moved; the last
  image is shown again, re-graded.
- `prompts`: each distinct text is encoded once; `prompts` are blended by `prompt_weights`; a change
  of prompt set slerps (per token) over `transition_frames`. `guidance`: classifier-free guidance
  with the negative prompt when guidance_scale > 1, or the LCM guidance embedding.
- `grade`: the tiny VAE's output gets a light colour grade (palette tint, hue rotation, brightness).
- `loading` / `device`: local files only (`local_files_only`, HF_HUB_OFFLINE); `model_dir` is a
  diffusers pipeline folder of the SD 1.x / 2.x family (or SDXL: two text encoders, pooled
  embeddings, time ids).
"""

from engine.visual.generators.diffusion.generator import DiffusionGenerator
from engine.visual.generators.diffusion.guidance import guidance_embedding
from engine.visual.generators.diffusion.loading import check_inputs
from engine.visual.generators.diffusion.prompts import slerp_tokens
from engine.visual.generators.diffusion.similarity import cosine_similarity

__all__ = ["DiffusionGenerator", "check_inputs", "cosine_similarity", "guidance_embedding", "slerp_tokens"]
