"""The shipped default model (models/default.ts), its corpus, metric and training script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.dsp.spectral import multiscale_spectral_distance
from training.corpus import HELDOUT_SEED, make_clip, make_set

ROOT = Path(__file__).resolve().parents[1]
MODEL_PATH = ROOT / "models" / "default.ts"
FRAME = 2048


def _flatness(x: np.ndarray) -> float:
    spec = (
        np.abs(np.fft.rfft(x[: len(x) // FRAME * FRAME].reshape(-1, FRAME) * np.hanning(FRAME), axis=-1)) ** 2
        + 1e-12
    )
    return float(np.mean(np.exp(np.mean(np.log(spec), axis=-1)) / np.mean(spec, axis=-1)))


def _reset(model: torch.jit.ScriptModule) -> None:
    for name, buf in model.named_buffers():
        if name.endswith("cache"):
            buf.zero_()


def _decode(model: torch.jit.ScriptModule, z: torch.Tensor, seed: int = 0) -> np.ndarray:
    _reset(model)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.decode(z)
    _reset(model)
    return out[0, 0].numpy()


@pytest.fixture(scope="module")
def model() -> torch.jit.ScriptModule:
    if not MODEL_PATH.exists():
        pytest.skip("models/default.ts has not been trained yet")
    m = torch.jit.load(str(MODEL_PATH))
    m.eval()
    return m


def _latent(model: torch.jit.ScriptModule, seed: int, frames: int = 24) -> torch.Tensor:
    """A random draw in the model's own latent units (its rotated posterior statistics)."""
    unit = torch.randn(1, int(model.latent_size), frames, generator=torch.Generator().manual_seed(seed))
    return model.latent_mean[None, :, None] + model.latent_std[None, :, None] * unit


def test_interface(model: torch.jit.ScriptModule) -> None:
    assert list(model.get_methods()) == ["encode", "decode", "forward"]
    assert isinstance(list(model.get_attributes()), list)
    size = int(model.latent_size)
    assert model.encode_params.tolist() == [1, 1, size, 2048]  # [in_ch, in_ratio, out_ch, out_ratio]
    assert model.decode_params.tolist() == [size, 2048, 1, 1]
    assert model.forward_params.tolist() == [1, 1, 1, 1]
    assert model.encode_params.dtype == torch.int64
    assert size >= 8 and tuple(model.latent_mean.shape) == tuple(model.latent_std.shape) == (size,)
    assert model.sr == 48000 and model.get_sample_rate() == 48000
    assert any(name.endswith(".cache") for name, _ in model.named_buffers())


def test_encode_shapes(model: torch.jit.ScriptModule) -> None:
    x = torch.zeros(2, 1, 4 * FRAME)
    with torch.inference_mode():
        assert tuple(model.encode(x).shape) == (2, int(model.latent_size), 4)
        assert tuple(model.forward(x).shape) == (2, 1, 4 * FRAME)
    _reset(model)


def test_decode_random_latent_is_sound(model: torch.jit.ScriptModule) -> None:
    z = _latent(model, 1)
    audio = _decode(model, z)
    assert audio.shape == (z.shape[-1] * FRAME,)
    assert np.sqrt(np.mean(audio**2)) > 1e-3
    white = np.random.default_rng(0).standard_normal(len(audio))
    assert _flatness(audio) < 0.5 * _flatness(white)
    other = _decode(model, _latent(model, 2))
    assert multiscale_spectral_distance(audio, other) > 0.2


def test_streaming_equals_one_call(model: torch.jit.ScriptModule) -> None:
    z = _latent(model, 3, frames=12)
    whole = _decode(model, z, seed=5)
    _reset(model)
    torch.manual_seed(5)
    with torch.inference_mode():
        chunks = torch.cat([model.decode(z[..., i : i + 1]) for i in range(z.shape[-1])], dim=-1)[
            0, 0
        ].numpy()
    _reset(model)
    assert np.max(np.abs(whole - chunks)) < 1e-4


def test_reconstruction_beats_envelope_noise(model: torch.jit.ScriptModule) -> None:
    rng = np.random.default_rng(HELDOUT_SEED + 1)
    clip = make_clip(rng, 32 * FRAME / 48000)[: 32 * FRAME]
    _reset(model)
    torch.manual_seed(0)
    with torch.inference_mode():
        recon = model.forward(torch.from_numpy(clip)[None, None])[0, 0].numpy()
    _reset(model)
    frames = clip.reshape(-1, FRAME)
    envelope = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1, keepdims=True))
    noise = (np.random.default_rng(0).standard_normal(frames.shape) * envelope).reshape(-1)
    assert multiscale_spectral_distance(clip, recon) < multiscale_spectral_distance(clip, noise)


def test_corpus_is_deterministic() -> None:
    a = make_set(42, 3, 0.25)
    b = make_set(42, 3, 0.25)
    c = make_set(43, 3, 0.25)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    for x in a:  # peaks between -24 and -1 dBFS
        assert 10 ** (-24 / 20) - 1e-6 <= float(np.max(np.abs(x))) <= 10 ** (-1 / 20) + 1e-6


def test_spectral_distance_basics() -> None:
    clip = make_clip(np.random.default_rng(0), 0.5)
    assert multiscale_spectral_distance(clip, clip) == 0.0
    assert multiscale_spectral_distance(clip, 0.5 * clip) > 0.0


def test_training_script_runs(tmp_path: Path) -> None:
    out = tmp_path / "tiny.ts"
    cmd = [
        sys.executable,
        "-m",
        "training.train_default_model",
        "--steps",
        "5",
        "--minutes",
        "1",
        "--out",
        str(out),
        "--batch",
        "2",
        "--clip-frames",
        "2",
        "--eval-clips",
        "1",
        "--eval-frames",
        "4",
        "--log-every",
        "1",
        "--threads",
        "1",
        "--pool",
        "2",
        "--pool-seconds",
        "0.1",
        "--music",
        str(tmp_path / "no-music-here"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    report = json.loads((tmp_path / "tiny.training.json").read_text())
    assert report["steps"] == 5
    assert report["streaming_max_abs_diff"] < 1e-4
    assert len(report["dimensions"]) == 4 and report["decode_rtf_median"] > 0
    card = (tmp_path / "tiny.card.md").read_text()
    assert "What the first dimensions do" in card and "5 steps" in card
    exported = torch.jit.load(str(out))
    assert exported.decode(torch.zeros(1, 16, 2)).shape == (1, 1, 2 * FRAME)
    pca = exported.latent_pca
    torch.testing.assert_close(pca @ pca.T, torch.eye(16), atol=1e-4, rtol=0)


def test_posterior_means_keep_their_spread_in_training() -> None:
    """The latent of the v2 run died when the means' spread fell below the sampling noise; the batch
    norm on the mean holds it at one per dimension in training, and is a fixed map once exported."""
    from engine.models.default_vae import DefaultVAE

    torch.manual_seed(0)
    vae = DefaultVAE(enc_filters=8, enc_channels=8, dec_channels=[8, 8, 8, 8], n_bands=4, latent_size=4)
    with torch.no_grad():
        vae.encoder.head.conv.weight[:4].mul_(0.02)  # a head that has shrunk its means
        x = torch.randn(4, 1, 8 * FRAME) * torch.logspace(-2, 0, 4)[:, None, None]
        vae.train()
        mean, _ = vae.posterior(x)
        np.testing.assert_allclose(mean.std(dim=(0, 2)).numpy(), 1.0, rtol=0.05)
        vae.eval()
        frozen, _ = vae.posterior(x)
    assert not torch.allclose(frozen, mean)  # eval uses the running statistics, not the batch's
    legacy = DefaultVAE(enc_filters=8, enc_channels=8, dec_channels=[8, 8, 8, 8], n_bands=4, latent_size=4,
                        mean_norm=False)
    assert not any("mean_norm" in k for k in legacy.state_dict())
