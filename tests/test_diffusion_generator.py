"""The `diffusion` generator on a tiny randomly initialised pipeline built here (no download, CPU).

The pipeline (UNet, CLIP text encoder, a byte-level CLIP tokenizer from a vocab written here, a full
and a tiny VAE, the scheduler) is saved with save_pretrained into a diffusers folder, so the real
local-loading path runs too. Random weights make pictures of noise, so the tests check the loop's
behaviour (shapes, determinism, what each control changes, the filter, the prompt blending), not looks.
The main scheduler predicts v: with random weights an epsilon model's x0 = (x_t - sigma * eps) / alpha
blows up at high noise, while v keeps it bounded (the epsilon and LCM paths run in their own test).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from engine.errors import VisualError  # noqa: E402
from engine.visual.frame_input import VisualFrame  # noqa: E402
from engine.visual.generators.base import create_generator  # noqa: E402
from engine.visual.generators.diffusion import DiffusionGenerator, slerp_tokens  # noqa: E402

SIZE = 64
TOKENS = 16  # tokenizer / text encoder length: short is enough and fast


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2 / CLIP convention)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    mapped = {b: b for b in keep}
    extra = 0
    for b in range(256):
        if b not in mapped:
            mapped[b] = 256 + extra
            extra += 1
    return [chr(mapped[b]) for b in range(256)]


def _tokenizer(folder: Path) -> Any:
    """A CLIP tokenizer with a bytes-only vocabulary and no merges: every character is a token."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = _byte_alphabet()
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(alphabet)})
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                      model_max_length=TOKENS)


def _text_config(**extra: Any) -> Any:
    return transformers.CLIPTextConfig(vocab_size=514, hidden_size=32, intermediate_size=37,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       max_position_embeddings=TOKENS, bos_token_id=512, eos_token_id=513,
                                       pad_token_id=513, **extra)


def _unet(**extra: Any) -> Any:
    return diffusers.UNet2DConditionModel(
        sample_size=SIZE // 8, block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=8, **{"cross_attention_dim": 32, **extra})


def _tiny_vae() -> Any:
    return diffusers.AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8),
                                     decoder_block_out_channels=(8, 8, 8, 8),
                                     num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1))


def _scheduler(prediction_type: str = "v_prediction") -> Any:
    return diffusers.EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                            prediction_type=prediction_type)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny components, also saved as a diffusers pipeline folder and a tiny-VAE folder."""
    root = tmp_path_factory.mktemp("tiny-sd")
    torch.manual_seed(0)
    parts = {
        "unet": _unet(),
        "text_encoder": transformers.CLIPTextModel(_text_config()),
        "tokenizer": _tokenizer(root / "_vocab"),
        "scheduler": _scheduler(),
        "vae": _tiny_vae(),
    }
    full_vae = diffusers.AutoencoderKL(
        block_out_channels=(8, 8, 8, 8), norm_num_groups=8, layers_per_block=1, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=SIZE)
    model = root / "model"
    for name in ("unet", "text_encoder", "tokenizer", "scheduler"):
        parts[name].save_pretrained(model / name)
    full_vae.save_pretrained(model / "vae")
    (model / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"], "vae": ["diffusers", "AutoencoderKL"]}))
    parts["vae"].save_pretrained(root / "taesd")
    return {"components": parts, "model_dir": model, "vae_dir": root / "taesd"}


def make(pipeline: dict[str, Any], **options: Any) -> DiffusionGenerator:
    options.setdefault("components", pipeline["components"])
    return DiffusionGenerator(SIZE, SIZE, **options)


def moving(i: int, **fields: Any) -> VisualFrame:
    """A frame whose audio latent moves, so the similarity filter lets it through."""
    latent = np.random.default_rng(i).standard_normal(8).astype(np.float32)
    return VisualFrame(index=i, latent=latent, prompt=fields.pop("prompt", "a glowing nebula"), **fields)


def change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def test_loads_the_pipeline_folder_and_runs_the_loop(pipeline: dict[str, Any]) -> None:
    tiny = DiffusionGenerator(SIZE, SIZE, model_dir=str(pipeline["model_dir"]),
                              vae_dir=str(pipeline["vae_dir"]), similarity_threshold=1.0)
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    info = tiny.info()
    assert info["tiny_vae"] and info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["prediction_type"] == "v_prediction" and info["timesteps"] == [359, 99]
    frames = [tiny.render(moving(i)) for i in range(6)]
    for image in frames:
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    assert all(change(a, b) > 0.0 for a, b in zip(frames, frames[1:], strict=False))
    assert tiny.info()["frames_denoised"] == 6
    tiny.close()

    full = DiffusionGenerator(SIZE, SIZE, model_dir=str(pipeline["model_dir"]))  # the pipeline's own VAE
    assert not full.info()["tiny_vae"]
    assert full.render(moving(0)).shape == (SIZE, SIZE, 3)
    registry = create_generator("diffusion", SIZE, SIZE, seed=1,
                                options={"components": pipeline["components"]})
    assert registry.render(VisualFrame()).shape == (SIZE, SIZE, 3)


def test_stream_batch_runs_the_steps_of_consecutive_frames_as_one_batch(pipeline: dict[str, Any]) -> None:
    calls: list[int] = []
    unet = pipeline["components"]["unet"]
    hook = unet.register_forward_pre_hook(lambda _m, args: calls.append(args[0].shape[0]))
    try:
        stream = make(pipeline, similarity_threshold=1.0)
        stream.render(moving(0))  # primes the stream: both steps in turn
        assert calls == [1, 1]
        calls.clear()
        for i in range(1, 4):
            stream.render(moving(i))
        assert calls == [2, 2, 2]  # one UNet call a frame, steps side by side
        calls.clear()
        make(pipeline, stream_batch=False, similarity_threshold=1.0).render(moving(0))
        assert calls == [1, 1]
    finally:
        hook.remove()


def test_noise_scale_reset_and_feedback(pipeline: dict[str, Any]) -> None:
    def steps(noise_scale: float) -> float:
        gen = make(pipeline, seed=4, similarity_threshold=1.0)
        previous = gen.render(moving(0, speed=0.0))
        total = 0.0
        for i in range(1, 6):
            image = gen.render(moving(i, noise_scale=noise_scale, speed=0.0))
            total += change(image, previous)
            previous = image
        return total

    assert steps(1.0) > steps(0.05)

    gen = make(pipeline, seed=4, similarity_threshold=1.0)
    frames = [gen.render(moving(i, noise_scale=0.2)) for i in range(5)]
    normal = change(frames[-1], frames[-2])
    cut = gen.render(moving(5, noise_scale=0.2, reset=True))
    assert change(cut, frames[-1]) > normal

    # feedback is the cached latent's weight: less of it starts the img2img at a noisier step.
    t0 = gen.timesteps[0]
    firsts = [gen._first_step(f) for f in (1.0, 0.8, 0.5, 0.2, 0.0)]
    assert firsts[0] == t0 and firsts[-1] == 999 and firsts == sorted(firsts)


def test_same_seed_same_frames(pipeline: dict[str, Any]) -> None:
    def run(seed: int) -> list[np.ndarray]:
        gen = make(pipeline, seed=seed, max_skip_frames=2)
        frames = [moving(i // 3, noise_scale=0.4) for i in range(9)]  # repeats: the filter's draws count too
        frames[5].reset = True
        return [gen.render(frame) for frame in frames]

    a, b, c = run(3), run(3), run(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x, z) for x, z in zip(a, c, strict=True))

    # The frames' own seed field (/visual/seed) re-seeds the stream when it moves.
    same, moved = make(pipeline, seed=3), make(pipeline, seed=3)
    for i in range(3):
        assert np.array_equal(same.render(moving(i)), moved.render(moving(i)))
    assert not np.array_equal(same.render(moving(3)), moved.render(moving(3, seed=7)))


def test_prompt_change_slerps_over_transition_frames(pipeline: dict[str, Any]) -> None:
    gen = make(pipeline)
    for i in range(2):
        gen.render(moving(i, prompt="ocean waves"))
    start = gen._embeddings["ocean waves"].tokens.float()
    shown = []
    for i in range(2, 8):
        gen.render(moving(i, prompt="burning forest", transition_frames=4))
        shown.append(gen._prompt_shown.tokens.float())
    target = gen._embeddings["burning forest"].tokens.float()
    assert not torch.allclose(start, target)
    distances = [float((s - target).norm()) for s in shown]
    assert all(a > b for a, b in zip(distances[:3], distances[1:4], strict=True))  # closer every frame
    assert distances[0] < float((start - target).norm())
    for s in shown[:3]:  # true intermediates, on the per-token sphere path (norms between the ends)
        assert not torch.allclose(s, start) and not torch.allclose(s, target)
        low = torch.minimum(start.norm(dim=-1), target.norm(dim=-1)) - 1e-4
        high = torch.maximum(start.norm(dim=-1), target.norm(dim=-1)) + 1e-4
        assert bool(((s.norm(dim=-1) >= low) & (s.norm(dim=-1) <= high)).all())
    assert torch.allclose(shown[3], target) and torch.allclose(shown[5], target)  # there after 4 frames
    half = slerp_tokens(start, target, 0.5)
    assert torch.allclose(half.norm(dim=-1), (start.norm(dim=-1) + target.norm(dim=-1)) / 2, atol=1e-4)


def test_prompt_weights_blend_the_prompt_embeddings(pipeline: dict[str, Any]) -> None:
    prompts = ("red fire", "green moss", "blue ice")
    gen = make(pipeline, similarity_threshold=1.0)
    shown = []
    images = []
    for i, weights in enumerate(([0.8, 0.1, 0.1], [0.1, 0.1, 0.8])):
        images.append(gen.render(moving(i, prompt="", prompts=prompts, prompt_weights=np.array(weights))))
        shown.append(gen._prompt_shown.tokens.float())
        expected = sum(w * gen._embeddings[p].tokens.float() for w, p in zip(weights, prompts, strict=True))
        assert torch.allclose(shown[-1], expected, atol=1e-5)
    assert not torch.allclose(shown[0], shown[1])
    assert change(images[0], images[1]) > 0.0
    # With a base prompt it keeps half the blend (the subject), the weighted prompts the other half.
    gen.render(moving(3, prompt="a city", prompts=prompts, prompt_weights=np.array([1.0, 0.0, 0.0]),
                      transition_frames=1))
    expected = (0.5 * gen._embeddings["a city"].tokens.float()
                + 0.5 * gen._embeddings["red fire"].tokens.float())
    assert torch.allclose(gen._prompt_shown.tokens.float(), expected, atol=1e-5)


def test_similarity_filter_skips_static_input_within_max_skip_frames(pipeline: dict[str, Any]) -> None:
    gen = make(pipeline, max_skip_frames=3)
    static = VisualFrame(prompt="still water", latent=np.ones(8, dtype=np.float32))
    denoised_before = 0
    runs = [0]
    previous = None
    for _ in range(24):
        image = gen.render(static)
        skipped = gen.frames_denoised == denoised_before
        denoised_before = gen.frames_denoised
        if skipped:
            runs[-1] += 1
            assert previous is not None and np.array_equal(image, previous)  # the last output again
        else:
            runs.append(0)
        previous = image
    assert gen.frames_skipped == sum(runs) > 0
    assert max(runs) == 3  # identical input: skip probability 1, cut off at max_skip_frames

    busy = make(pipeline, max_skip_frames=3)
    for i in range(10):
        busy.render(moving(i))
    assert busy.frames_skipped == 0  # a moving audio latent is never "similar"


def test_missing_parts_name_what_is_missing(pipeline: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(VisualError, match="--visual-model DIR"):
        DiffusionGenerator(SIZE, SIZE)
    with pytest.raises(VisualError, match="no such folder"):
        DiffusionGenerator(SIZE, SIZE, model_dir=str(tmp_path / "nowhere"))
    single = tmp_path / "model.safetensors"
    single.write_bytes(b"0")
    with pytest.raises(VisualError, match="single file"):
        DiffusionGenerator(SIZE, SIZE, model_dir=str(single))

    broken = tmp_path / "broken"
    shutil.copytree(pipeline["model_dir"], broken)
    (broken / "unet" / "config.json").unlink()
    shutil.rmtree(broken / "tokenizer")
    for weights in (broken / "text_encoder").glob("model*"):
        weights.unlink()
    with pytest.raises(VisualError) as error:
        DiffusionGenerator(SIZE, SIZE, model_dir=str(broken))
    message = str(error.value)
    assert f"model_dir {broken}" in message
    assert "no unet/config.json" in message and "no tokenizer/" in message
    assert "no text_encoder weights" in message
    assert "expected a diffusers pipeline folder" in message and "vae" not in message.split(";")[0]

    no_vae = tmp_path / "no_vae"
    shutil.copytree(pipeline["model_dir"], no_vae)
    shutil.rmtree(no_vae / "vae")
    with pytest.raises(VisualError, match="no vae/"):
        DiffusionGenerator(SIZE, SIZE, model_dir=str(no_vae))
    bad_tiny = tmp_path / "taesd"
    shutil.copytree(pipeline["vae_dir"], bad_tiny)
    (bad_tiny / "config.json").unlink()
    with pytest.raises(VisualError, match=r"vae_dir .*taesd: no config.json"):
        DiffusionGenerator(SIZE, SIZE, model_dir=str(no_vae), vae_dir=str(bad_tiny))
    with pytest.raises(VisualError, match="t_index_list"):
        make(pipeline, t_index_list=(45, 32))
    with pytest.raises(VisualError, match="dtype"):
        make(pipeline, dtype="int8")


def test_negative_prompt_acts_only_with_guidance(pipeline: dict[str, Any]) -> None:
    def run(guidance: float, negative: str) -> np.ndarray:
        gen = make(pipeline, seed=2, guidance_scale=guidance, similarity_threshold=1.0)
        frames = [gen.render(moving(i, negative_prompt=negative)) for i in range(3)]
        return frames[-1]

    assert change(run(4.0, "blurry, dark"), run(4.0, "")) > 0.0
    assert np.array_equal(run(0.0, "blurry, dark"), run(0.0, ""))
    assert make(pipeline, guidance_scale=4.0).info()["cfg"]


def test_epsilon_lcm_and_sdxl_paths_run(pipeline: dict[str, Any], tmp_path: Path) -> None:
    parts = dict(pipeline["components"])
    eps = make(pipeline, components={**parts, "scheduler": _scheduler("epsilon")}, stream_batch=False)
    assert np.isfinite(eps.render(moving(0)).astype(float)).all()

    torch.manual_seed(1)
    lcm_scheduler = diffusers.LCMScheduler(beta_schedule="scaled_linear", prediction_type="v_prediction")
    lcm_parts = {**parts, "unet": _unet(time_cond_proj_dim=16), "scheduler": lcm_scheduler}
    lcm = make(pipeline, components=lcm_parts, t_index_list=(20, 35, 45))
    info = lcm.info()
    assert info["consistency"] and not info["cfg"] and info["latency_frames"] == 2
    assert [lcm.render(moving(i)).shape for i in range(4)] == [(SIZE, SIZE, 3)] * 4

    # SDXL: two text encoders side by side, pooled embedding and size ids as added conditions.
    sdxl_parts = {
        **parts,
        "unet": _unet(cross_attention_dim=64, addition_embed_type="text_time", addition_time_embed_dim=8,
                      projection_class_embeddings_input_dim=8 * 6 + 32),
        "text_encoder_2": transformers.CLIPTextModelWithProjection(_text_config(projection_dim=32)),
        "tokenizer_2": _tokenizer(tmp_path / "tokenizer_2"),
    }
    sdxl = make(pipeline, components=sdxl_parts, guidance_scale=2.0)
    assert sdxl.info()["sdxl"]
    assert sdxl.render(moving(0)).shape == (SIZE, SIZE, 3)
    with pytest.raises(VisualError, match="tokenizer_2"):
        make(pipeline, components={k: v for k, v in sdxl_parts.items() if k != "tokenizer_2"})


def test_step_math_recovers_x0_for_each_prediction_type(pipeline: dict[str, Any]) -> None:
    gen = make(pipeline)
    x0 = torch.randn(2, 4, 8, 8)
    noise = torch.randn(2, 4, 8, 8)
    ts, coefs = gen._steps(gen.timesteps[0])
    alpha, sigma = coefs[0], coefs[1]
    x_t = alpha * x0 + sigma * noise
    cond = {"tokens": torch.zeros(1, TOKENS, 32), "pooled": None}
    truths = (("epsilon", noise), ("v_prediction", alpha * noise - sigma * x0), ("sample", x0))
    for prediction, truth in truths:
        gen.prediction_type = prediction
        gen._call_unet = lambda *_args, truth=truth: truth  # a perfect model
        assert torch.allclose(gen._denoise(x_t, ts, coefs, cond), x0, atol=1e-4)
