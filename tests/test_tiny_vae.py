"""The tiny VAE modules against the real TAEF2 weights, and the `texture` generator built on them.

Why real weights: a module of our own must match the trained network exactly; an encode/decode round
trip that reproduces a picture (and loses ~10 dB without the GroupNorm branch) is the proof. The
weights live in ../shared beside the checkout; without them these tests skip. Frames are 64x64.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.analysis.features import INDEX, empty
from engine.errors import VisualError
from engine.visual.frame_input import VisualFrame
from engine.visual.generators.latent_texture import TextureGenerator
from engine.visual.generators.tiny_vae import (
    TinyDecoder,
    TinyEncoder,
    calibration_pictures,
    load_tiny_decoder,
    load_tiny_encoder,
)

TAEF2 = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "taef2"
SIZE = 64
# Round trip of calibration_pictures(4, 128, seed=100): 26.3 dB measured (float32, one thread); 19.5 to
# 24.8 dB with 2, 8 or 16 GroupNorm groups, 15.8 dB without the branch.
ROUND_TRIP_DB = 23.0


@pytest.fixture(scope="module")
def weights() -> Path:
    if not (TAEF2 / "taef2_decoder.pth").is_file() or not (TAEF2 / "taef2_encoder.pth").is_file():
        pytest.skip(f"{TAEF2} is not here (../shared beside the checkout)")
    return TAEF2


@pytest.fixture(scope="module")
def decoder(weights: Path) -> TinyDecoder:
    return load_tiny_decoder(weights / "taef2_decoder.pth")


@pytest.fixture(scope="module")
def encoder(weights: Path) -> TinyEncoder:
    return load_tiny_encoder(weights / "taef2_encoder.pth")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return -10.0 * math.log10(float(((a - b) ** 2).mean()))


def test_decoder_loads_with_the_taef2_layout(decoder: TinyDecoder, encoder: TinyEncoder) -> None:
    assert decoder.latent_channels == encoder.latent_channels == 32
    assert decoder.pool_blocks == {3, 4, 5} and encoder.pool_blocks == {11, 12, 13}
    assert not decoder.training and all(p.dtype == torch.float32 for p in decoder.parameters())
    assert all(not p.requires_grad for p in decoder.parameters())
    images = decoder.decode(torch.randn(2, 32, 4, 6, generator=torch.Generator().manual_seed(0)) * 2.0)
    assert images.shape == (2, 3, 32, 48) and images.dtype == torch.float32
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert float(images.std()) > 0.02  # a picture, not a constant
    with pytest.raises(VisualError, match="expected"):
        decoder.decode(torch.zeros(1, 4, 4, 4))  # a 4-channel (TAESD) latent for a 32-channel decoder


def test_round_trip_reproduces_pictures(decoder: TinyDecoder, encoder: TinyEncoder) -> None:
    pictures = calibration_pictures(4, 128, seed=100)  # not the pictures the generator calibrates with
    latents = encoder.encode(pictures)
    assert latents.shape == (4, 32, 16, 16)
    decoded = decoder.decode(latents)
    quality = psnr(decoded, pictures)
    assert quality > ROUND_TRIP_DB
    assert all(psnr(d, p) > 20.0 for d, p in zip(decoded, pictures, strict=True))

    # The branch and its 4 groups are what the weights were trained with: any other choice loses.
    branches = [m.pool for m in [*encoder.layers, *decoder.layers] if getattr(m, "pool", None) is not None]
    assert len(branches) == 6
    try:
        for groups in (2, 8):
            for branch in branches:
                branch[1].num_groups = groups
            assert psnr(decoder.decode(encoder.encode(pictures)), pictures) < quality - 1.0
    finally:
        for branch in branches:
            branch[1].num_groups = 4


def test_bad_files_name_the_file(tmp_path: Path, weights: Path) -> None:
    noise = tmp_path / "noise.pth"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VisualError, match=r"noise\.pth.*unreadable"):
        load_tiny_decoder(noise)

    wrong = tmp_path / "wrong_keys.pth"
    torch.save({"foo.weight": torch.zeros(3, 3), "bar.bias": torch.zeros(3)}, wrong)
    with pytest.raises(VisualError, match=r"wrong_keys\.pth.*'foo\.weight'"):
        load_tiny_decoder(wrong)

    state = torch.load(weights / "taef2_decoder.pth", map_location="cpu", weights_only=True)
    del state["8.conv.2.weight"]
    state["8.extra.weight"] = torch.zeros(1)
    partial = tmp_path / "partial_decoder.pth"
    torch.save(state, partial)
    with pytest.raises(VisualError, match=r"partial_decoder\.pth.*missing.*8\.conv\.2\.weight.*unexpected.*8\.extra"):
        load_tiny_decoder(partial)

    with pytest.raises(VisualError, match=r"taef2_encoder\.pth.*looks like a TAESD-family encoder"):
        load_tiny_decoder(weights / "taef2_encoder.pth")
    with pytest.raises(VisualError, match="not a file"):
        load_tiny_decoder(tmp_path)
    with pytest.raises(VisualError, match=r"absent\.pth: no such file"):
        load_tiny_decoder(tmp_path / "absent.pth")
    listed = tmp_path / "a_list.pth"
    torch.save([1, 2, 3], listed)
    with pytest.raises(VisualError, match=r"a_list\.pth.*not a state dict"):
        load_tiny_decoder(listed)


def test_a_four_channel_taesd_layout_loads_from_its_shapes(tmp_path: Path) -> None:
    # No SD-1.5 TAESD weights here: a freshly initialised 4-channel decoder saved in fp16 stands in.
    state = {k: v.half() for k, v in TinyDecoder(4).layers.state_dict().items()}
    path = tmp_path / "taesd_decoder.pth"
    torch.save(state, path)
    decoder = load_tiny_decoder(path)
    assert decoder.latent_channels == 4 and not decoder.pool_blocks
    assert decoder.decode(torch.zeros(1, 4, 3, 5)).shape == (1, 3, 24, 40)


# -- the texture generator ------------------------------------------------------------------------


def make(weights: Path, seed: int = 0, **options: object) -> TextureGenerator:
    return TextureGenerator(SIZE, SIZE, seed=seed, decoder=str(weights / "taef2_decoder.pth"), **options)


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def steps(frames: list[np.ndarray]) -> list[float]:
    return [diff(a, b) for a, b in zip(frames, frames[1:], strict=False)]


def test_texture_needs_a_decoder_and_known_options(weights: Path) -> None:
    with pytest.raises(VisualError, match="--visual-vae FILE"):
        TextureGenerator(SIZE, SIZE)
    with pytest.raises(VisualError, match="bogus"):
        make(weights, bogus=1)
    with pytest.raises(VisualError, match="encoder"):  # a decoder given as the encoder
        make(weights, encoder=str(weights / "taef2_decoder.pth"))


def test_texture_frames_move_and_answer_beats_and_resets(weights: Path) -> None:
    gen = make(weights)
    info = gen.info()
    assert info["latent_grid"] == [SIZE // 8, SIZE // 8] and info["latent_channels"] == 32
    assert "measured" in info["latent_statistics"]  # the encoder beside the decoder was found
    steady = [gen.render(VisualFrame(index=i)) for i in range(12)]
    for image in steady:
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    assert steady[-1].std() > 15.0  # a picture, not a flat frame
    calm = float(np.mean(steps(steady)[2:]))
    assert calm > 0.2  # frames change over time
    loud = empty()
    loud[INDEX["onset_strength"]] = loud[INDEX["bass"]] = 0.8
    beat = gen.render(VisualFrame(index=12, beat=True, features=loud))
    assert diff(steady[-1], beat) > 3.0 * calm
    before = gen.render(VisualFrame(index=13))
    cut = gen.render(VisualFrame(index=14, reset=True))
    assert diff(before, cut) > 6.0 * calm
    after = gen.render(VisualFrame(index=15))
    assert diff(cut, after) < diff(before, cut) / 2  # the cut is followed by motion, not more jumps


def test_same_seed_same_frames(weights: Path) -> None:
    def run(seed: int) -> list[np.ndarray]:
        gen = make(weights, seed)
        rng = np.random.default_rng(3)
        return [gen.render(VisualFrame(index=i, latent=rng.standard_normal(8), beat=i == 3, hue=0.1 * i,
                                       features=rng.uniform(0.0, 1.0, empty().size).astype(np.float32)))
                for i in range(6)]

    first, again, other = run(4), run(4), run(5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(diff(a, b) > 5.0 for a, b in zip(first, other, strict=True))


def test_grade_and_fallback_statistics(weights: Path) -> None:
    plain = make(weights).render(VisualFrame())
    assert diff(plain, make(weights).render(VisualFrame(hue=0.5))) > 5.0
    assert make(weights).render(VisualFrame(brightness=0.5)).mean() < 0.7 * plain.mean()
    # Without the encoder the channels are independent: still a valid, different picture.
    loose = make(weights, encoder="none")
    assert loose.info()["latent_statistics"] == "independent channels"
    image = loose.render(VisualFrame())
    assert image.shape == (SIZE, SIZE, 3) and diff(image, plain) > 5.0
    # Broken controls must not break the stream.
    nan = float("nan")
    broken = make(weights).render(VisualFrame(noise_scale=nan, zoom=nan, warp=nan, hue=nan, brightness=nan,
                                              feedback=nan, transition_frames=0, palette=((0.2, 0.4, 0.9),),
                                              features=np.full(5, nan), latent=np.array([nan, 1.0])))
    assert broken.shape == (SIZE, SIZE, 3) and broken.std() > 5.0
    # A smaller decode is upsampled to the output size.
    small = make(weights, scale=0.5, dtype="bfloat16")
    assert small.info()["decode_size"] == [32, 32] and small.render(VisualFrame()).shape == (SIZE, SIZE, 3)
