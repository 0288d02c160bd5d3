"""The render graph: parameter snapshot -> latent frame -> model.decode -> audio, one frame at a time.

Offline render and the live decoder thread both take `next_raw()` frames and finish them in the same
block-sized pieces (engine/render/frame_end.py), so for a seed, a control timeline and a block size
they produce the same samples.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping

import numpy as np
import torch

from engine.analysis.tap import AnalysisTap
from engine.dsp.tilt import SpectralTilt
from engine.explore.steering import AtlasSteering
from engine.latent.energy import energy_map_for, limiter_release_db_per_s, target_db
from engine.latent.feature_mod import FeatureModBank
from engine.latent.lfo import LfoBank
from engine.latent.shaper import LatentShaper
from engine.latent.smoothing import Smoother
from engine.latent.sources import ReferenceLoop
from engine.master.stage import MasterStage
from engine.models.nn_tilde import ASSUMED_SAMPLE_RATE, NNModel
from engine.models.resample import Resampler
from engine.params.store import ParamStore
from engine.params.table import N_LFOS, VISUAL_MODULATED
from engine.render.drywet import DryWetMixer, InputFrames
from engine.render.frame_end import FrameContext, FrameEnd
from engine.render.post_controls import PostControls
from engine.render.second_model import SecondModelSlot
from engine.render.seeding import DecoderNoise
from engine.render.timeline import Timeline

log = logging.getLogger(__name__)

PENDING_LATENTS = 256  # about 11 s of default-model frames: far more than any lookahead
MAX_FRAMES_PER_CALL = 16


class RenderGraph(FrameEnd):
    def __init__(self, model: NNModel, store: ParamStore, *, seed: int = 0,
                 references: Mapping[str, ReferenceLoop] | None = None, output_rate: int | None = None,
                 timeline: Timeline | None = None, start_seconds: float = 0.0,
                 analysis: AnalysisTap | None = None, live_swap: bool = False, frames_per_call: int = 1,
                 master: bool = True) -> None:
        """`timeline`, `start_seconds` and `analysis` let a swapped-in graph carry on the playing graph's
        timeline and analysis (its clock, beat tracker and input offset); such a graph leaves the
        analysis to the playing one until `analysis_active` is set, at the end of the crossfade.
        `live_swap`: built while another graph decodes, so nothing here may reseed torch's generator.
        `master=False` leaves the master stage out (`render --no-master`: the model's own output).

        `seed` seeds the graph's own generators (LFOs, latent walks) and its decoder's noise stream,
        which it swaps into torch's global generator for its decode calls only (render/seeding.py).

        `frames_per_call` latent frames are built (each on its own timeline step) and decoded in one
        call, then handed out one per `next_frame()`: heavy models cost far less per frame that way."""
        model.require("decode")
        if not 1 <= frames_per_call <= MAX_FRAMES_PER_CALL:
            raise ValueError(f"frames_per_call must be 1..{MAX_FRAMES_PER_CALL}, got {frames_per_call}")
        self.frames_per_call = frames_per_call
        if model.latent_size is None:
            raise ValueError(f"{model.path}: latent size unknown")
        self.model = model
        self.store = store
        self.frame_samples = model.decode_ratio
        self.model_rate = model.sample_rate or output_rate or ASSUMED_SAMPLE_RATE
        self.output_rate = output_rate or self.model_rate
        self.frame_seconds = self.frame_samples / self.model_rate
        self.channels = model.methods["decode"].out_channels
        self._tilt = SpectralTilt(self.channels)
        lfo_seed, shaper_seed = np.random.SeedSequence(seed).spawn(2)
        self.smoother = Smoother(store, self.frame_seconds)
        self.lfos = LfoBank(store, N_LFOS, self.frame_seconds, lfo_seed)
        self.shaper = LatentShaper(store, model.latent_size, self.frame_seconds, references or {}, shaper_seed)
        self.explore = AtlasSteering(model.latent_size, self.frame_seconds)  # atlas navigation and codebook
        self.timeline = timeline or Timeline(store)
        self.mods = FeatureModBank(store)
        self.analysis = analysis or AnalysisTap(self.output_rate)
        self.analysis_active = analysis is None
        self._resampler = (Resampler(self.model_rate, self.output_rate, self.channels)
                           if self.output_rate != self.model_rate else None)
        idx = store.continuous_index
        self.master = MasterStage(self.output_rate, self.channels)  # output lags by master.latency samples
        self.mastered = master
        self.post = PostControls(store)  # read per block when the frame is finished
        self._energy_i = idx["/rave/energy"]
        self._drywet_i = idx["/rave/drywet"]
        self._z = torch.zeros(1, model.latent_size, frames_per_call)
        self._z_values = self._z.numpy()[0]  # a view: numpy writes each latent frame into the tensor
        self._ready: deque[tuple[np.ndarray, FrameContext]] = deque()  # decoded frames not handed out yet
        model.run("decode", self._z)  # validates the shapes this graph will use, through the checked path
        self._decode = model.module.decode
        self._noise = DecoderNoise(seed)
        self.frame_index = round(start_seconds / self.frame_seconds)
        self._ramp = np.linspace(0.0, 1.0, self.frame_samples, endpoint=False, dtype=np.float32)[:, None]
        self._gains = np.empty_like(self._ramp)
        self._gain: float | None = None
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
        # Energy's latent direction, brightness tilt and gain, charted on this model at load (cached).
        self.energy_map = self.shaper.energy = energy_map_for(model, self._latent_mean, self._latent_std,
                                                              seed_torch=not live_swap)
        self.energy_target_db = 0.0  # the loudness change (dB against energy 1) the last frame's energy aims for
        self._input_resampler: Resampler | None = None
        self._input = np.zeros(0, dtype=np.float32)
        self.input_frames_encoded = 0
        self.input_frames = InputFrames()  # (latent, dry) pairs: the dry signal travels with its latent
        self.drywet = DryWetMixer()
        self.second = SecondModelSlot(idx, self.model_rate, self.channels, self.frame_seconds)  # /rave/model/b
        model.reset()

    @property
    def time_seconds(self) -> float:
        """The start of the next latent frame to be built (decoded frames may wait in `_ready`)."""
        return self.frame_index * self.frame_seconds

    @property
    def decodes_next(self) -> bool:
        """Whether the next `next_frame()` calls the model (no decoded frame is waiting)."""
        return not self._ready

    @property
    def handed_out_seconds(self) -> float:
        """The start of the next frame `next_frame()` returns: where a graph taking over carries on."""
        return (self.frame_index - len(self._ready)) * self.frame_seconds

    def _render_next(self) -> None:
        """Build `frames_per_call` latent frames, decode them in one call, and queue each frame alone.

        Everything but the decode stays per frame (timeline, smoothing, LFOs, input, energy, dry/wet,
        gain ramp), so with one frame per call this is exactly the frame-by-frame graph; the master
        and the analysis run when the frame is finished (engine/render/frame_end.py)."""
        frames = []
        for k in range(self.frames_per_call):
            started = self.time_seconds
            self.timeline.advance(started, self.frame_seconds)  # the beat grid and quantised launches too
            snapshot = self.store.snapshot()
            dry = self._next_input_frame()
            smoothed = self.smoother.step(snapshot.continuous)
            controls = self.lfos.apply(snapshot, smoothed, beat=self.timeline.grid.point.beat)
            controls = self.mods.apply(snapshot, controls, self.analysis.latest)
            post_offsets = self.post.offsets(controls, smoothed)
            values = snapshot.values
            self.explore.steer_walk(values, self.shaper.walk_centre, self.shaper.walk_spread)
            self.latent = self.explore.codebook_frame(
                self.shaper.frame(str(values["/rave/source/a"]), str(values["/rave/source/b"]), controls), values)
            self.latents_pending.append((started, self.latent, controls[self._visual_i]))
            self._z_values[:, k] = self._latent_mean + self._latent_std * self.latent
            frames.append((started, snapshot, controls, post_offsets, dry, self.shaper.unshaped))
            self.frame_index += 1
        with torch.inference_mode(), self._noise:  # shapes were checked at construction: call the method
            decoded_all = self._decode(self._z).numpy()[0].T
        for k, (started, snapshot, controls, post_offsets, dry, unshaped) in enumerate(frames):
            decoded = decoded_all[k * self.frame_samples:(k + 1) * self.frame_samples]
            # Energy's brightness tilt and gain make up what its latent move does not (latent/energy.py),
            # and it moves the master's loudness target (levelling would otherwise undo it).
            energy = float(controls[self._energy_i])
            self.energy_target_db = target_db(energy)
            wet = self._tilt.process(decoded, self.energy_map.tilt(energy))
            gain_db = self.energy_map.gain_db(energy)
            wet = self.second.mix(wet, unshaped, controls, gain_db)
            mixed = self.drywet.mix(wet, dry, float(controls[self._drywet_i]))
            playing = 1.0 if snapshot.values["/transport/play"] else 0.0  # a stop fades out over this frame
            audio = self._apply_gain(mixed, playing * 10.0 ** (gain_db / 20.0),
                                     in_place=mixed is not decoded)
            if self._resampler is not None:
                audio = self._resampler.process(audio)
            self._ready.append((audio, FrameContext(snapshot, started, post_offsets, self.energy_target_db,
                                                    limiter_release_db_per_s(energy))))

    @property
    def latent_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and std that map control-space latents to the model's (zeros and ones without)."""
        return self._latent_mean, self._latent_std

    def normalise(self, latents: np.ndarray) -> np.ndarray:
        """Model-space latents (dims first) into the control space the sources and controls use."""
        shape = (-1,) + (1,) * (latents.ndim - 1)
        return (latents.astype(np.float64) - self._latent_mean.reshape(shape)) / self._latent_std.reshape(shape)

    def _next_input_frame(self) -> np.ndarray | None:
        """The next input frame's dry samples (model rate); its latent becomes the `input` source."""
        frame = self.input_frames.pop()
        if frame is None:
            return None
        latent, dry = frame
        if latent is not None:
            self.shaper.input_latent = latent
        return dry

    def push_input(self, block: np.ndarray) -> None:
        """Input at the output rate, (frames, channels): cut into latent frames at the model rate, each
        encoded into the `input` source and kept, with its dry samples, for the frame that plays it."""
        mono = block.mean(axis=1, dtype=np.float32) if block.ndim == 2 else block.astype(np.float32)
        if self.analysis_active:
            self.analysis.push_input(mono, str(self.store.get("/analysis/source")), self.time_seconds)
        spec = self.model.methods.get("encode")
        if self.output_rate != self.model_rate:
            if self._input_resampler is None:
                self._input_resampler = Resampler(self.output_rate, self.model_rate, 1)
            mono = self._input_resampler.process(mono)[:, 0]
        self._input = np.concatenate([self._input, mono])
        frame = self.frame_samples
        while self._input.shape[0] >= frame:
            dry = np.ascontiguousarray(self._input[:frame])
            latent = None
            if spec is not None and frame % max(1, spec.out_ratio // spec.in_ratio) == 0:
                x = torch.from_numpy(dry).reshape(1, 1, frame)
                z = self.model.encode(x.expand(1, spec.in_channels, frame).contiguous())
                latent = self.normalise(z[0, : self.shaper.latent_size, -1].numpy())
                self.input_frames_encoded += 1
            self.input_frames.push(latent, dry)
            self._input = self._input[frame:]

    def _apply_gain(self, audio: np.ndarray, gain: float, in_place: bool = False) -> np.ndarray:
        """`audio` times the gain, ramped from the last frame's across this one (a step never clicks).
        A new float32 array unless `in_place` (an array this graph made): the model's own output is
        its memory, which it may reuse, so it is never written."""
        start = gain if self._gain is None else self._gain
        self._gain = gain
        out = audio if in_place else None
        if gain == start:
            return np.multiply(audio, gain, out=out, dtype=np.float32)
        gains = self._gains[: audio.shape[0]]
        np.multiply(self._ramp[: audio.shape[0]], gain - start, out=gains)
        gains += start
        return np.multiply(audio, gains, out=out, dtype=np.float32)
