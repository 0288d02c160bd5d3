"""The render graph: parameter snapshot -> latent frame -> model.decode -> audio, one frame at a time.

Offline render and the live decoder thread both call `RenderGraph.next_frame()`, so for a
seed and a control timeline they produce the same samples.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping

import numpy as np
import torch

from engine.analysis.tap import AnalysisTap
from engine.latent.feature_mod import FeatureModBank
from engine.latent.lfo import LfoBank
from engine.latent.shaper import LatentShaper
from engine.latent.smoothing import Smoother
from engine.latent.sources import ReferenceLoop
from engine.master.levelling import energy_offset_db
from engine.master.stage import MasterStage
from engine.models.nn_tilde import NNModel
from engine.models.resample import Resampler
from engine.params.store import ParamStore
from engine.params.table import N_LFOS, VISUAL_MODULATED
from engine.render.timeline import Timeline

log = logging.getLogger(__name__)

DEFAULT_RATE = 48000
PENDING_LATENTS = 256  # about 11 s of default-model frames: far more than any lookahead


class RenderGraph:
    def __init__(self, model: NNModel, store: ParamStore, *, seed: int = 0,
                 references: Mapping[str, ReferenceLoop] | None = None, output_rate: int | None = None,
                 timeline: Timeline | None = None, start_seconds: float = 0.0,
                 analysis: AnalysisTap | None = None) -> None:
        """`timeline`, `start_seconds` and `analysis` let a swapped-in graph carry on the playing graph's
        timeline and analysis (its clock, beat tracker and input offset); such a graph leaves the
        analysis to the playing one until `analysis_active` is set, at the end of the crossfade.

        `seed` seeds the graph's own generators (LFOs, latent walks). It leaves torch's global generator
        alone, which a stochastic TorchScript decoder draws from: see engine/render/seeding.py."""
        model.require("decode")
        if model.latent_size is None:
            raise ValueError(f"{model.path}: latent size unknown")
        self.model = model
        self.store = store
        self.frame_samples = model.decode_ratio
        self.model_rate = model.sample_rate or output_rate or DEFAULT_RATE
        self.output_rate = output_rate or self.model_rate
        self.frame_seconds = self.frame_samples / self.model_rate
        self.channels = model.methods["decode"].out_channels
        lfo_seed, shaper_seed = np.random.SeedSequence(seed).spawn(2)
        self.smoother = Smoother(store, self.frame_seconds)
        self.lfos = LfoBank(store, N_LFOS, self.frame_seconds, lfo_seed)
        self.shaper = LatentShaper(store, model.latent_size, self.frame_seconds, references or {}, shaper_seed)
        self.timeline = timeline or Timeline(store)
        self.mods = FeatureModBank(store)
        self.analysis = analysis or AnalysisTap(self.output_rate)
        self.analysis_active = analysis is None
        self._resampler = (Resampler(self.model_rate, self.output_rate, self.channels)
                           if self.output_rate != self.model_rate else None)
        idx = store.continuous_index
        self._gain_i = idx["/master/gain_db"]
        self._loudness_i = idx["/master/loudness"]
        self._ceiling_i = idx["/master/ceiling"]
        self.master = MasterStage(self.output_rate, self.channels)  # output lags by master.latency samples
        self._energy_i = idx["/rave/energy"]
        self._z = torch.zeros(1, model.latent_size, 1)
        self._z_values = self._z.numpy().reshape(-1)  # a view: numpy writes the latent into the tensor
        model.run("decode", self._z)  # validates the shapes this graph will use, through the checked path
        self._decode = model.module.decode
        self.frame_index = round(start_seconds / self.frame_seconds)
        self.clipped_samples = 0
        self.latent = np.zeros(model.latent_size)  # the last frame's latent, for meters
        # (start time, latent, modulated visual controls) of each rendered frame: the visuals take each
        # when its audio is heard.
        self.latents_pending: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=PENDING_LATENTS)
        self._visual_i = np.array([store.continuous_index[a] for a in VISUAL_MODULATED])
        # Controls work in a normalised latent space (prior N(0, 1)) when the model says how its
        # latents are distributed; decode sees mean + std * z.
        stats = model.latent_statistics()
        self._latent_mean, self._latent_std = stats if stats else (np.zeros(model.latent_size),
                                                                   np.ones(model.latent_size))
        self._input_resampler: Resampler | None = None
        self._input = np.zeros(0, dtype=np.float32)
        self.input_frames_encoded = 0
        model.reset()

    @property
    def time_seconds(self) -> float:
        return self.frame_index * self.frame_seconds

    def next_frame(self) -> np.ndarray:
        """Render the next latent frame: float32 (samples, channels) at the output rate."""
        self.timeline.advance(self.time_seconds)
        snapshot = self.store.snapshot()
        controls = self.lfos.apply(snapshot, self.smoother.step(snapshot.continuous))
        controls = self.mods.apply(snapshot, controls, self.analysis.latest)
        values = snapshot.values
        self.latent = self.shaper.frame(str(values["/rave/source/a"]), str(values["/rave/source/b"]), controls)
        self.latents_pending.append((self.time_seconds, self.latent, controls[self._visual_i]))
        self._z_values[:] = self._latent_mean + self._latent_std * self.latent
        with torch.inference_mode():  # shapes were checked once at construction: call the method itself
            decoded = self._decode(self._z).numpy()[0].T
        audio = self._resampler.process(decoded) if self._resampler is not None else decoded
        # Energy moves the loudness target (levelling would otherwise undo a louder latent).
        self.master.target_offset_db = energy_offset_db(float(controls[self._energy_i]))
        audio = self.master.process(audio, loudness_lufs=float(controls[self._loudness_i]),
                                    agc=bool(values["/master/agc"]), ceiling_db=float(controls[self._ceiling_i]),
                                    trim_db=float(controls[self._gain_i]))
        if audio.max() > 1.0 or audio.min() < -1.0:  # only with a ceiling above 0 dBTP: never, today
            self.clipped_samples += int(np.count_nonzero(np.abs(audio) > 1.0))
            np.clip(audio, -1.0, 1.0, out=audio)
        if self.analysis_active:
            if self.analysis.wanted or self.mods.listening(snapshot):
                self.analysis.push_output(audio, str(values["/analysis/source"]), self.time_seconds)
            else:
                self.analysis.pause()
        self.frame_index += 1
        return audio

    def normalise(self, latents: np.ndarray) -> np.ndarray:
        """Model-space latents (dims first) into the control space the sources and controls use."""
        shape = (-1,) + (1,) * (latents.ndim - 1)
        return (latents.astype(np.float64) - self._latent_mean.reshape(shape)) / self._latent_std.reshape(shape)

    def push_input(self, block: np.ndarray) -> None:
        """Live input at the output rate, (frames, channels): encoded frame by frame into the `input` source."""
        mono = block.mean(axis=1, dtype=np.float32) if block.ndim == 2 else block.astype(np.float32)
        if self.analysis_active:
            self.analysis.push_input(mono, str(self.store.get("/analysis/source")), self.time_seconds)
        spec = self.model.methods.get("encode")
        if spec is None:
            return
        if self.output_rate != self.model_rate:
            if self._input_resampler is None:
                self._input_resampler = Resampler(self.output_rate, self.model_rate, 1)
            mono = self._input_resampler.process(mono)[:, 0]
        self._input = np.concatenate([self._input, mono])
        frame = max(1, spec.out_ratio // spec.in_ratio)
        while self._input.shape[0] >= frame:
            x = torch.from_numpy(np.ascontiguousarray(self._input[:frame])).reshape(1, 1, frame)
            z = self.model.encode(x.expand(1, spec.in_channels, frame).contiguous())
            self.shaper.input_latent = self.normalise(z[0, : self.shaper.latent_size, -1].numpy())
            self._input = self._input[frame:]
            self.input_frames_encoded += 1
