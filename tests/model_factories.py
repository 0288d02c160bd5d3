"""Small TorchScript models with the nn~ / RAVE interfaces, saved to a tmp folder for tests.

Each decode is a bank of sines (one per latent dimension): dimension k sets the amplitude and
detunes the frequency of sine k, so the audio is deterministic, non-silent for z = 0 and depends on
z. Streaming models keep each sine's phase in a buffer named ``osc.cache`` (batch slots x sines)
that is updated in place, so consecutive calls continue without a click, like cached-conv exports.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

MAX_BATCH = 8


def _sine_bank(z: torch.Tensor, phase0: torch.Tensor, ratio: int, sr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, L) latents + (B, C) start phases -> ((B, 1, L*ratio) audio, (B, C) end phases)."""
    two_pi = 6.283185307179586  # TorchScript cannot close over module-level floats
    channels = z.shape[1]
    k = torch.arange(1, channels + 1, dtype=z.dtype, device=z.device).view(1, channels, 1)
    frames = z.repeat_interleave(ratio, dim=-1)
    freq = 110.0 * k * (1.0 + 0.05 * torch.tanh(frames))
    amp = 0.5 * torch.sigmoid(frames) / channels
    phase = phase0.unsqueeze(-1) + torch.cumsum(two_pi * freq / sr, dim=-1)
    audio = (amp * torch.sin(phase)).sum(dim=1, keepdim=True)
    return audio, torch.remainder(phase[:, :, -1], two_pi)


class _StreamingOsc(nn.Module):
    """Phase memory per batch slot, in a buffer named like a cached-conv state (`osc.cache`)."""

    def __init__(self, channels: int, ratio: int, sr: int) -> None:
        super().__init__()
        self.ratio = ratio
        self.rate = float(sr)
        self.register_buffer("cache", torch.zeros(MAX_BATCH, channels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch = z.shape[0]
        audio, end = _sine_bank(z, self.cache[:batch], self.ratio, self.rate)
        self.cache[:batch].copy_(end)
        return audio


class _StatelessOsc(nn.Module):
    """Starts every call at phase 0: a non-streaming export that clicks at block joins."""

    def __init__(self, channels: int, ratio: int, sr: int) -> None:
        super().__init__()
        self.ratio = ratio
        self.rate = float(sr)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        audio, _ = _sine_bank(z, torch.zeros(z.shape[0], z.shape[1]), self.ratio, self.rate)
        return audio


def _frame_features(x: torch.Tensor, ratio: int, proj: torch.Tensor) -> torch.Tensor:
    """(B, 1, T) audio -> (B, C, T/ratio): per-frame mean and RMS projected to C dims."""
    batch = x.shape[0]
    frames = x.reshape(batch, -1, ratio)
    feats = torch.stack([frames.mean(-1), frames.pow(2).mean(-1).sqrt()], dim=1)  # (B, 2, L)
    return torch.einsum("cf,bfl->bcl", proj, feats)


def _projection(latent_size: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1234)
    return torch.randn(latent_size, 2, generator=gen)


class NewStyleModel(nn.Module):
    """nn_tilde-style: get_methods, *_params, get_attributes ("none" first), getters/setters, sr."""

    def __init__(self, latent_size: int, ratio: int, sr: int, streaming: bool) -> None:
        super().__init__()
        self.ratio = ratio
        self.sr = sr
        self.gain = 1.0
        self.label = "sines"
        self.osc = _StreamingOsc(latent_size, ratio, sr) if streaming else _StatelessOsc(latent_size, ratio, sr)
        self.register_buffer("proj", _projection(latent_size))
        self.register_buffer("encode_params", torch.tensor([1, 1, latent_size, ratio]))
        self.register_buffer("decode_params", torch.tensor([latent_size, ratio, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("gain_params", torch.tensor([2]))
        self.register_buffer("label_params", torch.tensor([3]))
        self.register_buffer("broken_params", torch.tensor([1]))

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return ["encode", "decode", "forward"]

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return ["none", "gain", "label", "broken"]

    @torch.jit.export
    def get_gain(self) -> tuple[float]:
        return (self.gain,)

    @torch.jit.export
    def set_gain(self, gain: float) -> int:
        if gain < 0.0 or gain > 4.0:
            return -1
        self.gain = gain
        return 0

    @torch.jit.export
    def get_label(self) -> list[str]:
        return [self.label]

    @torch.jit.export
    def set_label(self, label: str) -> int:
        self.label = label
        return 0

    @torch.jit.export
    def get_broken(self) -> int:
        raise RuntimeError("this getter always fails")

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def set_sample_rate(self, sample_rate: int) -> None:
        self.sr = sample_rate  # like nn~: only overwrites the number, nothing resamples

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return _frame_features(x, self.ratio, self.proj)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.gain * self.osc(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class RaveV1Model(nn.Module):
    """RAVE v1-style: no get_methods/get_attributes; tensor buffers sampling_rate, latent_size."""

    def __init__(self, latent_size: int, sr: int) -> None:
        super().__init__()
        ratio = 2048
        self.ratio = ratio
        self.osc = _StreamingOsc(latent_size, ratio, sr)
        self.register_buffer("proj", _projection(latent_size))
        self.register_buffer("sampling_rate", torch.tensor(sr))
        self.register_buffer("latent_size", torch.tensor(latent_size))
        self.register_buffer("max_batch_size", torch.tensor(MAX_BATCH))
        self.register_buffer("encode_params", torch.tensor([1, 1, latent_size, ratio]))
        self.register_buffer("decode_params", torch.tensor([latent_size, ratio, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return _frame_features(x, self.ratio, self.proj)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.osc(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class RaveV2Model(nn.Module):
    """RAVE v2-style: latent_size/full_latent_size buffers, noise-padded decode, tensor stereo mode."""

    def __init__(self, latent_size: int, full_latent_size: int, sr: int, full_size_decode_params: bool) -> None:
        super().__init__()
        ratio = 2048
        self.ratio = ratio
        self.sr = sr
        self.osc = _StreamingOsc(full_latent_size, ratio, sr)
        self.register_buffer("proj", _projection(latent_size))
        self.register_buffer("latent_size", torch.tensor(latent_size))
        self.register_buffer("full_latent_size", torch.tensor(full_latent_size))
        self.register_buffer("stereo_mode", torch.tensor(False))
        decode_in = full_latent_size if full_size_decode_params else latent_size
        self.register_buffer("encode_params", torch.tensor([1, 1, latent_size, ratio]))
        self.register_buffer("decode_params", torch.tensor([decode_in, ratio, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("stereo_mode_params", torch.tensor([4]))

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return ["encode", "decode", "forward"]

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return ["stereo_mode"]

    @torch.jit.export
    def get_stereo_mode(self) -> bool:  # RAVE getters may return a bare value
        return bool(self.stereo_mode.item())

    @torch.jit.export
    def set_stereo_mode(self, stereo: torch.Tensor) -> int:
        self.stereo_mode.copy_(stereo.to(torch.bool))
        return 0

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return _frame_features(x, self.ratio, self.proj)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        full = int(self.full_latent_size.item())
        if z.shape[1] > full:
            raise RuntimeError("latent has more dimensions than full_latent_size")
        if z.shape[1] < full:  # stochastic, like RAVE v2: seed torch's RNG for reproducible renders
            noise = torch.randn(z.shape[0], full - z.shape[1], z.shape[2], dtype=z.dtype)
            z = torch.cat([z, noise], dim=1)
        audio = self.osc(z)
        if bool(self.stereo_mode.item()):
            audio = audio.permute(1, 0, 2)  # (2, 1, T) -> (1, 2, T): batch slots become channels
        return audio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class _CachedConv(nn.Module):
    """A causal kernel-3 convolution that keeps its last two input steps between calls (cached padding),
    so one call on N frames equals N calls on one frame, as in a streaming export."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, 3)
        self.register_buffer("cache", torch.zeros(1, c_in, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = torch.cat([self.cache, x], dim=2)
        self.cache.copy_(padded[:, :, -2:])
        return self.conv(padded)


class ConvDecoderModel(nn.Module):
    """RAVE-shaped decoder with random weights: wide cached convolutions at the latent rate, then cheap
    upsampling (kernel = stride, no state) to `ratio` samples per frame.

    Like a real export it is batch-friendly: one latent frame is a matrix-vector product per layer whose
    cost is reading the weights, so N frames in one call cost little more than one."""

    def __init__(self, latent_size: int, width: int, layers: int, sr: int, strides: tuple[int, ...]) -> None:
        super().__init__()
        self.sr = sr
        self.first = _CachedConv(latent_size, width)
        self.body = nn.ModuleList([_CachedConv(width, width) for _ in range(layers)])
        channels = [width] + [max(1, 64 >> i) for i in range(len(strides))]
        self.up = nn.ModuleList([nn.ConvTranspose1d(channels[i], channels[i + 1], s, stride=s)
                                 for i, s in enumerate(strides)])
        self.out = nn.Conv1d(channels[-1], 1, 1)
        ratio = 1
        for s in strides:
            ratio *= s
        self.register_buffer("decode_params", torch.tensor([latent_size, ratio, 1, 1]))

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return ["decode"]

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return []

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.leaky_relu(self.first(z), 0.2)
        for conv in self.body:
            x = x + torch.nn.functional.leaky_relu(conv(x), 0.2)
        for up in self.up:
            x = torch.tanh(up(x))
        return 0.5 * torch.tanh(self.out(x))


class NoParamsModel(nn.Module):
    """A valid TorchScript module that is not an nn~ model: no *_params buffers."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0


def _save(module: nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(module.eval()).save(str(path))
    return path


def make_new_style_model(
    tmp_path: Path, *, latent_size: int = 8, ratio: int = 2048, sr: int = 48000, streaming: bool = True
) -> Path:
    """An nn_tilde-style model: encode [1,1,C,ratio], decode [C,ratio,1,1], forward [1,1,1,1].

    Attributes: ``gain`` (float, settable 0..4, getter returns a 1-tuple), ``label`` (str) and
    ``broken`` (getter always raises); ``sr`` / ``get_sample_rate()`` give ``sr``.
    """
    name = f"new_style_c{latent_size}_r{ratio}_{sr}{'_stream' if streaming else ''}.ts"
    return _save(NewStyleModel(latent_size, ratio, sr, streaming), Path(tmp_path) / name)


def make_rave_v1_model(tmp_path: Path, *, latent_size: int = 8, sr: int = 44100) -> Path:
    """A RAVE v1-style streaming export with decode ratio 2048 and no get_methods."""
    return _save(RaveV1Model(latent_size, sr), Path(tmp_path) / f"rave_v1_c{latent_size}_{sr}.ts")


def make_rave_v2_model(
    tmp_path: Path,
    *,
    latent_size: int = 4,
    full_latent_size: int = 16,
    sr: int = 44100,
    full_size_decode_params: bool = True,
) -> Path:
    """A RAVE v2-style streaming export; decode pads z with torch.randn up to ``full_latent_size``.

    ``full_size_decode_params`` makes ``decode_params`` announce the full size as in_channels.
    """
    module = RaveV2Model(latent_size, full_latent_size, sr, full_size_decode_params)
    return _save(module, Path(tmp_path) / f"rave_v2_c{latent_size}_f{full_latent_size}_{sr}.ts")


def make_conv_decoder_model(tmp_path: Path, *, latent_size: int = 16, width: int = 64, layers: int = 24,
                            sr: int = 44100, strides: tuple[int, ...] = (8, 4, 4, 4, 4)) -> Path:
    """A batch-friendly RAVE-shaped decoder (see ConvDecoderModel), decode ratio = product of `strides`.
    Narrow and deep, per-call overhead dominates (as in RAVE exports); width 512 with 48 layers has
    about the weights of a full RAVE v2 export (38 M)."""
    torch.manual_seed(0)
    module = ConvDecoderModel(latent_size, width, layers, sr, strides)
    ratio = "x".join(map(str, strides)) or "1"
    return _save(module, Path(tmp_path) / f"conv_decoder_c{latent_size}_w{width}_l{layers}_r{ratio}_{sr}.ts")


def make_no_params_model(tmp_path: Path) -> Path:
    """A TorchScript module without any *_params buffer."""
    return _save(NoParamsModel(), Path(tmp_path) / "no_params.ts")


class RandomDecoderModel(nn.Module):
    """An untrained RAVE-shaped decoder with random weights: latent -> conv -> four transposed-conv
    upsamplings (x8, x8, x8, x4 = 2048) -> a waveform head (tanh) scaled by an amplitude head (sigmoid)
    plus a noise branch drawn from torch's global generator, as RAVE's generator has, at about -30 LUFS
    (headroom for energy's gain without a master limiter). Stateless: each
    decode call starts from zero padding, like a non-streaming export. How loud or bright a latent
    decodes is whatever the random weights make it, as with a genuine export nobody has charted."""

    def __init__(self, latent_size: int, sr: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.sr = sr
        widths = (48, 32, 24, 16, 8)
        strides = (8, 8, 8, 4)
        self.inp = nn.Conv1d(latent_size, widths[0], 3, padding=1)
        self.ups = nn.ModuleList(
            [nn.ConvTranspose1d(widths[i], widths[i + 1], 2 * s, stride=s, padding=s // 2)
             for i, s in enumerate(strides)])
        self.convs = nn.ModuleList([nn.Conv1d(w, w, 3, padding=1) for w in widths[1:]])
        self.wave = nn.Conv1d(widths[-1], 1, 7, padding=3)
        self.amp = nn.Conv1d(widths[-1], 1, 7, padding=3)
        self.noise = nn.Conv1d(widths[-1], 1, 7, padding=3)
        with torch.no_grad():  # a wider draw than PyTorch's default, so the signal survives the depth
            for module in self.modules():
                if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                    fan_in = module.weight[0].numel() if isinstance(module, nn.Conv1d) else (
                        module.weight.shape[0] * module.weight.shape[2] // module.stride[0])
                    module.weight.normal_(0.0, 1.6 / fan_in ** 0.5)
                    module.bias.normal_(0.0, 0.1)
        self.register_buffer("latent_size", torch.tensor(latent_size))
        self.register_buffer("encode_params", torch.tensor([1, 1, latent_size, 2048]))
        self.register_buffer("decode_params", torch.tensor([latent_size, 2048, 1, 1]))
        self.register_buffer("proj", _projection(latent_size))

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return ["encode", "decode"]

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return _frame_features(x, 2048, self.proj)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.leaky_relu(self.inp(z), 0.2)
        for up, conv in zip(self.ups, self.convs):  # noqa: B905 - TorchScript has no strict=
            h = torch.nn.functional.leaky_relu(up(h), 0.2)
            h = h + torch.nn.functional.leaky_relu(conv(h), 0.2)
        noise = torch.sigmoid(self.noise(h) - 2.0) * torch.randn(h.shape[0], 1, h.shape[2])
        return 0.1 * (torch.tanh(self.wave(h)) * torch.sigmoid(self.amp(h)) + 0.1 * noise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def make_random_decoder_model(tmp_path: Path, *, seed: int = 0, latent_size: int = 16, sr: int = 44100) -> Path:
    """An untrained RAVE-shaped decoder (ratio 2048, random weights from `seed`): stands in for an
    export whose latent space nobody has charted."""
    return _save(RandomDecoderModel(latent_size, sr, seed), Path(tmp_path) / f"random_decoder_s{seed}_c{latent_size}.ts")
