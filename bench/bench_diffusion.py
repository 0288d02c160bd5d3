"""Frame rate of the `diffusion` generator; prints one JSON object.

With a CUDA GPU and a local diffusers pipeline folder (`--model-dir` or RAVE_ENGINE_VISUAL_MODEL; a
tiny VAE from `--vae-dir` or RAVE_ENGINE_VISUAL_VAE is optional but is what makes it real-time), it
measures `render()` at 512x512 (the whole frame: noise, UNet, VAE decode, grade, copy to the host)
with the audio latent moving every frame, so the similarity filter never skips: stream batching on
and off, then a static input to show what the filter saves. Otherwise it says why that part was
skipped, and measures a tiny randomly initialised pipeline at 64x64 on the CPU (the loop's own
overhead; the numbers say nothing about a real model).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.visual.frame_input import VisualFrame  # noqa: E402
from engine.visual.generators.diffusion import DiffusionGenerator  # noqa: E402

PROMPT = "an aurora over a frozen lake at night, long exposure, soft glow"


def frames(count: int, *, moving: bool, latent_size: int = 16) -> list[VisualFrame]:
    rng = np.random.default_rng(0)
    latent = rng.standard_normal(latent_size).astype(np.float32)
    out = []
    for i in range(count):
        if moving:  # a smooth walk, like an audio model's latent while music plays
            latent = (0.9 * latent + 0.44 * rng.standard_normal(latent_size)).astype(np.float32)
        out.append(VisualFrame(index=i, latent=latent.copy(), prompt=PROMPT, noise_scale=0.3))
    return out


def measure(gen: DiffusionGenerator, inputs: list[VisualFrame], warmup: int) -> dict[str, Any]:
    for frame in inputs[:warmup]:
        gen.render(frame)
    skipped_before = gen.frames_skipped
    times = []
    for frame in inputs[warmup:]:
        started = time.perf_counter()
        gen.render(frame)  # ends in a copy to the host, so the GPU work is inside the timing
        times.append(time.perf_counter() - started)
    total = sum(times)
    return {
        "frames": len(times), "fps": round(len(times) / total, 2),
        "ms_median": round(1000 * statistics.median(times), 2),
        "ms_p95": round(1000 * sorted(times)[int(0.95 * (len(times) - 1))], 2),
        "skipped": gen.frames_skipped - skipped_before,
    }


def gpu_bench(args: argparse.Namespace, model_dir: str, vae_dir: str | None) -> dict[str, Any]:
    size = args.size
    result: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "size": [size, size]}
    options = {"model_dir": model_dir, "vae_dir": vae_dir, "device": "cuda", "dtype": args.dtype,
               "t_index_list": args.t_index_list, "compile": args.compile}
    moving = frames(args.frames + args.warmup, moving=True)
    for stream in (True, False):
        gen = DiffusionGenerator(size, size, stream_batch=stream, similarity_threshold=1.0, **options)
        result["info"] = gen.info()
        result["stream_batch" if stream else "sequential"] = measure(gen, moving, args.warmup)
        gen.close()
    gen = DiffusionGenerator(size, size, stream_batch=True, **options)
    static = frames(args.frames + args.warmup, moving=False)
    result["static_input_with_filter"] = measure(gen, static, args.warmup)
    gen.close()
    result["fps"] = result["stream_batch"]["fps"]
    return result


def tiny_components(folder: Path) -> dict[str, Any]:
    """A randomly initialised SD-shaped pipeline small enough for the CPU; the tokenizer needs no download."""
    import diffusers
    import transformers

    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    codes = {b: b for b in keep}
    for b in range(256):
        codes.setdefault(b, 256 + len(codes) - len(keep))
    alphabet = [chr(codes[b]) for b in range(256)]
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(alphabet)})
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    torch.manual_seed(0)
    text = transformers.CLIPTextConfig(vocab_size=514, hidden_size=32, intermediate_size=37,
                                       num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=16,
                                       bos_token_id=512, eos_token_id=513, pad_token_id=513)
    return {
        "tokenizer": transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                                model_max_length=16),
        "text_encoder": transformers.CLIPTextModel(text),
        "unet": diffusers.UNet2DConditionModel(
            sample_size=8, block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), attention_head_dim=8, cross_attention_dim=32),
        "vae": diffusers.AutoencoderTiny(encoder_block_out_channels=(8,) * 4,
                                         decoder_block_out_channels=(8,) * 4,
                                         num_encoder_blocks=(1,) * 4, num_decoder_blocks=(1,) * 4),
        "scheduler": diffusers.EulerDiscreteScheduler(prediction_type="v_prediction"),
    }


def cpu_tiny_bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        parts = tiny_components(Path(tmp))
    result: dict[str, Any] = {"device": "cpu", "size": [64, 64], "torch_threads": torch.get_num_threads(),
                              "model": "tiny random UNet (32, 64), tiny VAE: loop overhead, not a real model"}
    moving = frames(args.tiny_frames + 5, moving=True)
    for stream in (True, False):
        gen = DiffusionGenerator(64, 64, components=parts, device="cpu", stream_batch=stream,
                                 similarity_threshold=1.0, t_index_list=args.t_index_list)
        result["stream_batch" if stream else "sequential"] = measure(gen, moving, 5)
    gen = DiffusionGenerator(64, 64, components=parts, device="cpu", t_index_list=args.t_index_list)
    result["static_input_with_filter"] = measure(gen, frames(args.tiny_frames + 5, moving=False), 5)
    result["fps"] = result["stream_batch"]["fps"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=os.environ.get("RAVE_ENGINE_VISUAL_MODEL"),
                        help="diffusers pipeline folder (sd-turbo...); env RAVE_ENGINE_VISUAL_MODEL")
    parser.add_argument("--vae-dir", default=os.environ.get("RAVE_ENGINE_VISUAL_VAE"),
                        help="tiny VAE folder (taesd); env RAVE_ENGINE_VISUAL_VAE")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=200, help="timed frames per GPU case")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--tiny-frames", type=int, default=60, help="timed frames per tiny CPU case")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--t-index-list", type=int, nargs="+", default=[32, 45])
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet (GPU case)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    report: dict[str, Any] = {"bench": "diffusion"}
    reasons = []
    if not torch.cuda.is_available():
        reasons.append("no CUDA GPU")
    if not args.model_dir:
        reasons.append("no model dir (--model-dir or RAVE_ENGINE_VISUAL_MODEL)")
    elif not Path(args.model_dir).is_dir():
        reasons.append(f"model dir {args.model_dir} is not a folder")
    if reasons:
        report["gpu_512"] = {"skipped": "; ".join(reasons)}
    else:
        report["gpu_512"] = gpu_bench(args, args.model_dir, args.vae_dir)
    report["cpu_tiny_64"] = cpu_tiny_bench(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
