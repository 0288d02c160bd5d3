"""An input-driven render graph for any audio-in/audio-out method of an nn~ model (`--method NAME`).

Same contract as `RenderGraph`: `push_input()` takes the input at the output rate, `next_frame()`
returns one frame of float32 (samples, channels), so the decoder thread and offline render drive it
unchanged. The method runs the way nn~ runs it (docs/NN_TILDE_FORMAT.md, "How nn~ runs a model"):

* one call per frame of `frame_samples`, a power of two at least the model's largest ratio;
* input channels: `in_channels` signals; the input's channels fill them in turn (a mono input feeds
  every one, a stereo file feeds L and R);
* ratios: the method sees the last sample of every `in_ratio` input samples, and each value it
  returns is held for `out_ratio` samples (nn~'s `select(-1, -1)` and `repeat_interleave`);
* output channels: one per `out_channels`, all of them (the device takes what it has room for).

Dry and wet are the same frame of input, so `/rave/drywet` lines up sample for sample; the latency is
one frame. `/rave/method` switches between the model's methods at the next frame. The latent controls
(energy, latent bias/scale, sources) belong to the decode graph and do nothing here.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import numpy as np
import torch

from engine.analysis.tap import AnalysisTap
from engine.errors import ModelLoadError, ParamError
from engine.latent.feature_mod import FeatureModBank
from engine.latent.lfo import LfoBank
from engine.latent.smoothing import Smoother
from engine.master.limiter import RELEASE_DB_PER_S
from engine.master.stage import MasterStage
from engine.models.nn_tilde import ASSUMED_SAMPLE_RATE, MethodSpec, NNModel
from engine.models.resample import Resampler
from engine.params.param import Value
from engine.params.store import ParamStore
from engine.params.table import N_LFOS, VISUAL_MODULATED
from engine.render.drywet import DryWetMixer, InputFrames
from engine.render.frame_end import FrameContext, FrameEnd
from engine.render.post_controls import PostControls
from engine.render.timeline import Timeline

log = logging.getLogger(__name__)

MIN_FRAME_SAMPLES = 1024  # about 21 ms at 48 kHz: one call per frame stays cheap in Python
PENDING_FRAMES = 512


def effect_frame_samples(model: NNModel) -> int:
    """A power of two at least every method's ratios (so `/rave/method` can switch without a new
    frame size) and at least MIN_FRAME_SAMPLES."""
    largest = max([MIN_FRAME_SAMPLES] + [max(s.in_ratio, s.out_ratio) for s in model.methods.values()])
    return 1 << (largest - 1).bit_length()


def default_method(model: NNModel) -> str:
    """What plays when nobody names a method: decode (the latent engine), else `forward`, else the
    first method that takes and returns audio-rate signals, else the first method."""
    for name in ("decode", "forward"):
        if name in model.methods:
            return name
    for spec in model.methods.values():
        if spec.in_ratio == 1 and spec.out_ratio == 1:
            return spec.name
    return next(iter(model.methods))


def choose_method(model: NNModel, requested: str | None) -> str:
    """The method to play: `requested` (checked) or the model's default; one clear error otherwise."""
    if not requested:
        return default_method(model)
    if requested not in model.methods:
        raise ParamError(f"--method {requested}: {model.path.name} has no such method "
                         f"(it has: {', '.join(model.methods)})")
    return requested


class EffectGraph(FrameEnd):
    frames_per_call = 1  # the method runs frame by frame, as nn~ calls it
    decodes_next = True  # so every `next_frame()` calls the model

    def __init__(self, model: NNModel, store: ParamStore, method: str, *, seed: int = 0,
                 output_rate: int | None = None, timeline: Timeline | None = None, start_seconds: float = 0.0,
                 analysis: AnalysisTap | None = None, master: bool = True) -> None:
        self.model = model
        self.store = store
        self.spec = model.require(method)
        self.frame_samples = effect_frame_samples(model)
        self.model_rate = model.sample_rate or output_rate or ASSUMED_SAMPLE_RATE
        self.output_rate = output_rate or self.model_rate
        self.frame_seconds = self.frame_samples / self.model_rate
        self.channels = self.spec.out_channels
        self.smoother = Smoother(store, self.frame_seconds)
        self.lfos = LfoBank(store, N_LFOS, self.frame_seconds, np.random.SeedSequence(seed).spawn(2)[0])
        self.mods = FeatureModBank(store)
        self.timeline = timeline or Timeline(store)
        self.analysis = analysis or AnalysisTap(self.output_rate)
        self.analysis_active = analysis is None
        self._resampler = (Resampler(self.model_rate, self.output_rate, self.channels)
                           if self.output_rate != self.model_rate else None)
        self._input_resampler: Resampler | None = None
        idx = store.continuous_index
        self._drywet_i = idx["/rave/drywet"]
        self.master = MasterStage(self.output_rate, self.spec.out_channels)  # the same master as decode's
        self.mastered = master  # False: the method's own output (`render --no-master`)
        self.post = PostControls(store)  # read per block when a frame is finished
        self._ready: deque[tuple[np.ndarray, FrameContext]] = deque()
        self._visual_i = np.array([idx[a] for a in VISUAL_MODULATED])
        self.drywet = DryWetMixer()
        self.input_frames = InputFrames()
        self._input = np.zeros((0, self.spec.in_channels), dtype=np.float32)
        self.frame_index = round(start_seconds / self.frame_seconds)
        self.clipped_samples = 0
        self.input_frames_encoded = 0  # input frames the method has played
        self.method_switches = 0
        self._playing = 1.0 if store.get("/transport/play") else 0.0  # its gain at the end of the last frame
        self.latent = np.zeros(1)  # no latent: the visuals get a constant one
        self.latents_pending: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=PENDING_FRAMES)
        self._run(np.zeros((self.frame_samples, self.spec.in_channels), dtype=np.float32))  # checks the shapes
        model.reset()

    @property
    def method(self) -> str:
        return self.spec.name

    @property
    def time_seconds(self) -> float:
        return self.frame_index * self.frame_seconds

    def push_input(self, block: np.ndarray) -> None:
        """Input at the output rate, (frames, channels) or (frames,): queued in frames for the method."""
        block = block[:, None] if block.ndim == 1 else block
        block = block.astype(np.float32, copy=False)
        if self.analysis_active:
            self.analysis.push_input(block.mean(axis=1, dtype=np.float32), str(self.store.get("/analysis/source")),
                                     self.time_seconds)
        signals = block[:, np.arange(self.spec.in_channels) % block.shape[1]]
        if self.output_rate != self.model_rate:
            if self._input_resampler is None:
                self._input_resampler = Resampler(self.output_rate, self.model_rate, self.spec.in_channels)
            signals = self._input_resampler.process(signals)
        self._input = np.concatenate([self._input, signals])
        while self._input.shape[0] >= self.frame_samples:
            self.input_frames.push(None, np.ascontiguousarray(self._input[: self.frame_samples]))
            self._input = self._input[self.frame_samples:]

    def _render_next(self) -> None:
        """Play the method on the next input frame and queue it (samples, out_channels) at the output rate."""
        self.timeline.advance(self.time_seconds, self.frame_seconds)
        snapshot = self.store.snapshot()
        requested = str(snapshot.values["/rave/method"])
        previous = self.spec
        if requested and requested != self.spec.name:
            self._switch(requested)
        smoothed = self.smoother.step(snapshot.continuous)
        controls = self.lfos.apply(snapshot, smoothed, beat=self.timeline.grid.point.beat)
        controls = self.mods.apply(snapshot, controls, self.analysis.latest)
        self.latents_pending.append((self.time_seconds, self.latent, controls[self._visual_i]))
        popped = self.input_frames.pop()
        dry = popped[1] if popped is not None else np.zeros((self.frame_samples, self.spec.in_channels), np.float32)
        self.input_frames_encoded += popped is not None
        wet = self._run(dry)
        if previous is not self.spec and previous.out_channels == self.spec.out_channels:
            wet = self._crossfade(self._run(dry, previous), wet)  # a switch glides over one frame: no click
        audio = self.drywet.mix(wet, dry, float(controls[self._drywet_i]))
        playing = 1.0 if snapshot.values["/transport/play"] else 0.0
        if playing != 1.0 or self._playing != 1.0:  # a stop or start fades over this frame, as the decode graph's
            ramp = np.linspace(self._playing, playing, audio.shape[0], endpoint=False, dtype=np.float32)
            audio = audio * ramp[:, None]
            self._playing = playing
        if self._resampler is not None:
            audio = self._resampler.process(audio)
        self._ready.append((audio, FrameContext(snapshot, self.time_seconds, self.post.offsets(controls, smoothed),
                                                0.0, RELEASE_DB_PER_S)))
        self.frame_index += 1

    def _switch(self, name: str) -> None:
        spec = self.model.methods.get(name)
        if spec is None:  # the store's validator refuses these live; automation is checked before render
            raise ParamError(f"/rave/method: {self.model.path.name} has no method {name!r}")
        self.spec = spec
        if self._resampler is not None and spec.out_channels != self.channels:
            self._resampler = Resampler(self.model_rate, self.output_rate, spec.out_channels)
        self.channels = spec.out_channels
        self._input = self._input[:, np.arange(spec.in_channels) % self._input.shape[1]]
        self.method_switches += 1
        log.info("method %s", name)

    def _crossfade(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        ramp = np.linspace(0.0, 1.0, old.shape[0], endpoint=False, dtype=np.float32)[:, None]
        return old + (new - old) * ramp

    def _run(self, frame: np.ndarray, spec: MethodSpec | None = None) -> np.ndarray:
        """One call of a method (the playing one by default), nn~'s way: (frame_samples, in_channels) ->
        (frame_samples, out_channels)."""
        spec = spec or self.spec
        signals = frame[:, np.arange(spec.in_channels) % frame.shape[1]]
        # The last sample of each group of in_ratio samples, channels first: (1, in_channels, T_in).
        x = signals.T.reshape(spec.in_channels, -1, spec.in_ratio)[:, :, -1]
        with torch.inference_mode():
            y = self.model.run(spec.name, torch.from_numpy(np.ascontiguousarray(x))[None])
        if y is None:  # nn~ demo methods return None for a setting they do not know: silence
            return np.zeros((self.frame_samples, spec.out_channels), dtype=np.float32)
        values = y[0].detach().numpy()
        expected = (spec.out_channels, self.frame_samples // spec.out_ratio)
        if values.shape != expected:
            raise ModelLoadError(f"{self.model.path.name}: '{spec.name}' returned {tuple(y.shape)}, "
                                 f"expected (1, {expected[0]}, {expected[1]})")
        return np.repeat(values, spec.out_ratio, axis=1).T.astype(np.float32)  # each value held out_ratio samples


def method_validator(model: Callable[[], NNModel], decode_session: bool,
                     channels: int | None = None) -> Callable[[Value], None]:
    """The check on `/rave/method` writes: a method of the playing model; a graph that plays decode
    cannot switch to an audio method (the graph differs) without a restart; with `channels` (an
    offline render, whose file has that many), the method must give that many."""
    def check(value: Value) -> None:
        name = str(value)
        if not name:
            return
        playing = model()
        if name not in playing.methods:
            raise ParamError(f"/rave/method: {playing.path.name} has no method {name!r} "
                             f"(it has: {', '.join(playing.methods)})")
        if decode_session and name != "decode":
            raise ParamError(f"/rave/method: {name!r} is an audio method and this plays decode: start with "
                             f"--input --method {name}")
        if not decode_session and name == "decode":
            raise ParamError("/rave/method: this plays an audio method: start without --method to decode")
        if channels is not None and playing.methods[name].out_channels != channels:
            raise ParamError(f"/rave/method: '{name}' gives {playing.methods[name].out_channels} channels, "
                             f"the render has {channels}")
    return check
