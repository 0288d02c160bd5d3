"""A second model beside the playing one (`/rave/model/b`), mixed in by `/rave/model_mix` with equal power.

Model B follows the same controls as model A through its own calibration: it takes A's latent frame
in the normalised control space before energy shapes it (the first dimensions both have; dimensions
only B has come from B's own prior walk), then applies its own energy map, the per-dimension
bias/scale of the dimensions the table has, its own latent statistics, its own brightness tilt and
energy gain (relative to A's, which the graph applies to the mix), and is resampled to A's rate and
cut to A's frames. So latent sizes, frame sizes and sample rates may all differ.

Everything here runs on the render thread; other threads only `offer` a loaded model (deque appends
are atomic). A model comes in and goes out with a short fade of its share of the mix, so loading,
unloading or handing B to a swapped-in graph never clicks.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import numpy as np
import torch

from engine.dsp.tilt import SpectralTilt
from engine.latent.energy import energy_map_for
from engine.latent.sources import PriorWalk
from engine.models.nn_tilde import ASSUMED_SAMPLE_RATE, NNModel
from engine.models.resample import Resampler
from engine.render.seeding import DecoderNoise

FADE_SECONDS = 0.2  # shorter than a model swap's crossfade, so a hand-over finishes inside it
OFF_REQUESTS = ("", "off")


def equal_power(a: np.ndarray, b: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """a cos(90 deg x mix) + b sin(90 deg x mix): constant power for uncorrelated signals, -3 dB each at 0.5."""
    theta = (0.5 * math.pi) * mix
    return (a * np.cos(theta) + b * np.sin(theta)).astype(np.float32)


class SecondModel:
    """Model B's own latent mapping, calibration, decoder state and resampler."""

    def __init__(self, model: NNModel, *, seed: int = 0) -> None:
        model.require("decode")
        if model.latent_size is None:
            raise ValueError(f"{model.path}: latent size unknown")
        self.model = model
        self.latent_size = model.latent_size
        self.rate = model.sample_rate or ASSUMED_SAMPLE_RATE
        self.frame_samples = model.decode_ratio
        self.channels = model.methods["decode"].out_channels
        stats = model.latent_statistics()
        self._mean, self._std = stats if stats else (np.zeros(self.latent_size), np.ones(self.latent_size))
        # Charted once per file (cached by hash); never reseeds torch: another model is decoding.
        self.energy_map = energy_map_for(model, self._mean, self._std, seed_torch=False)
        frame_seconds = self.frame_samples / self.rate
        self._walk = PriorWalk(self.latent_size, frame_seconds, np.random.default_rng([seed, 2]))
        self._tilt = SpectralTilt(self.channels)
        self._noise = DecoderNoise(seed + 1)  # A's noise is the same with B loaded or not
        self._z = torch.zeros(1, self.latent_size, 1)
        self._z_values = self._z.numpy()[0, :, 0]
        with torch.random.fork_rng(devices=[]):  # the check's noise must not move anyone's stream
            model.run("decode", self._z)  # the shape this voice uses, through the checked path
        self._decode = model.module.decode
        model.reset()
        self._host_rate = 0
        self._host_channels = 0
        self._resampler: Resampler | None = None
        self._pending = np.zeros((0, 1), dtype=np.float32)
        self._dims = self._bias_i = self._scale_i = np.zeros(0, dtype=np.int64)
        self._energy_i = self._speed_i = 0

    @property
    def name(self) -> str:
        return self.model.path.name

    def bind(self, index: Mapping[str, int], host_rate: int, host_channels: int) -> None:
        """Read controls through a graph's table (its latent size sets which dimensions have bias and
        scale) and deliver audio at its model rate and channel count."""
        dims = [d for d in range(self.latent_size) if f"/rave/latent/{d}/bias" in index]
        self._dims = np.array(dims, dtype=np.int64)
        self._bias_i = np.array([index[f"/rave/latent/{d}/bias"] for d in dims], dtype=np.int64)
        self._scale_i = np.array([index[f"/rave/latent/{d}/scale"] for d in dims], dtype=np.int64)
        self._energy_i = index["/rave/energy"]
        self._speed_i = index["/rave/walk_speed"]
        if (host_rate, host_channels) != (self._host_rate, self._host_channels):
            self._resampler = Resampler(self.rate, host_rate, self.channels) if host_rate != self.rate else None
            self._pending = np.zeros((0, host_channels), dtype=np.float32)
            self._host_rate, self._host_channels = host_rate, host_channels

    def render(self, n: int, latent: np.ndarray, controls: np.ndarray, host_gain_db: float) -> np.ndarray:
        """`n` samples (host rate, host channels) of B for the host frame whose latent (normalised,
        before energy) is `latent`."""
        while self._pending.shape[0] < n:
            self._pending = np.concatenate([self._pending, self._frame(latent, controls, host_gain_db)])
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def _frame(self, latent: np.ndarray, controls: np.ndarray, host_gain_db: float) -> np.ndarray:
        z = self._walk.step(float(controls[self._speed_i])).copy()  # dimensions A lacks: B's own walk
        shared = min(latent.shape[0], self.latent_size)
        z[:shared] = latent[:shared]
        energy = float(controls[self._energy_i])
        z = self.energy_map.shape(z, energy)
        z[self._dims] = controls[self._scale_i] * z[self._dims] + controls[self._bias_i]
        self._z_values[:] = self._mean + self._std * z
        with torch.inference_mode(), self._noise:
            audio = self._decode(self._z).numpy()[0].T
        audio = self._tilt.process(audio, self.energy_map.tilt(energy))
        gain = 10.0 ** ((self.energy_map.gain_db(energy) - host_gain_db) / 20.0)
        audio = np.multiply(audio, gain, dtype=np.float32)  # a new array: the model's output is its own
        if self._resampler is not None:
            audio = self._resampler.process(audio)
        if audio.shape[1] != self._host_channels:
            audio = audio[:, np.arange(self._host_channels) % audio.shape[1]]
        return audio


class SecondModelSlot:
    """Where a render graph keeps model B: offers from other threads, the fade of B's share, the mix."""

    def __init__(self, index: Mapping[str, int], host_rate: int, host_channels: int, frame_seconds: float) -> None:
        self._index = index
        self._host_rate = host_rate
        self._host_channels = host_channels
        self._fade_step = min(1.0, frame_seconds / FADE_SECONDS)
        self._mix_i = index["/rave/model_mix"]
        self.voice: SecondModel | None = None
        self._fade = 0.0  # B's share of the mix is /rave/model_mix x this
        self._last_mix = 0.0
        self._offers: deque[SecondModel | None] = deque()
        self._next: SecondModel | None = None
        self._changing = False
        self._hand_to: SecondModelSlot | None = None
        self._asked = False  # offered a model (or none) by a loader: a later hand-over gives way

    def offer(self, voice: SecondModel | None, *, fade: bool = True) -> None:
        """Any thread: play `voice` as model B (None unloads) after the current one has faded out.
        `fade=False` (offline, before the first frame) starts it at full share."""
        self._asked = True
        if not fade:
            if voice is not None:
                voice.bind(self._index, self._host_rate, self._host_channels)
            self.voice, self._fade = voice, 1.0 if voice is not None else 0.0
            return
        self._offers.append(voice)

    def hand_over(self, other: SecondModelSlot) -> None:
        """A model swap: fade B out of this (outgoing) graph, then offer it to `other` to fade in."""
        self._hand_to = other
        self._offers.append(None)  # not an ask: this graph is on its way out

    def adopt(self, voice: SecondModel) -> None:
        """A hand-over arriving (render thread): taken unless model B was loaded or unloaded for this
        graph meanwhile, which wins (it was asked for later)."""
        if not self._asked:
            self._offers.append(voice)

    @property
    def name(self) -> str:
        voice = self._next if self._changing else self.voice
        return voice.name if voice is not None else ""

    def mix(self, wet: np.ndarray, latent: np.ndarray, controls: np.ndarray, host_gain_db: float) -> np.ndarray:
        """A's frame `wet` (host rate) mixed with B's, equal-power; `wet` itself while B plays no part."""
        while self._offers:
            self._next, self._changing = self._offers.popleft(), True
        if self._changing:  # the playing B (if any) fades out first; the next one comes in after
            self._fade = max(0.0, self._fade - self._fade_step)
        elif self.voice is not None:
            self._fade = min(1.0, self._fade + self._fade_step)
        share = float(controls[self._mix_i]) * self._fade if self.voice is not None else 0.0
        start, self._last_mix = self._last_mix, share
        out = wet
        if self.voice is not None:
            b = self.voice.render(wet.shape[0], latent, controls, host_gain_db)  # keeps its time even unheard
            if start != 0.0 or share != 0.0:
                ramp = np.linspace(start, share, wet.shape[0], endpoint=False, dtype=np.float32)[:, None]
                out = equal_power(wet, b, ramp)
        if self._changing and self._fade == 0.0:  # faded out within this frame: switch for the next
            outgoing, self.voice, self._changing = self.voice, self._next, False
            if self.voice is not None:
                self.voice.bind(self._index, self._host_rate, self._host_channels)
            if outgoing is not None and self._hand_to is not None:
                self._hand_to.adopt(outgoing)
                self._hand_to = None
        return out
