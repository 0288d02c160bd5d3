"""The live engine: a model, a render graph, the decoder thread and a PortAudio stream, wired together."""

from __future__ import annotations

import gc
import json
import math
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.analysis.features import INDEX
from engine.audio.decoder import Decoder
from engine.audio.output import Output, PythonCallbackOutput, RtmixerOutput
from engine.audio.priority import shorten_gil_switch_interval
from engine.audio.ring import AudioRing
from engine.control.hub import ControlHub
from engine.control.midi_input import MidiConfig, MidiControl
from engine.control.osc_server import OscServer, load_routes
from engine.errors import EngineError, ModelLoadError, ParamError
from engine.models.default import DEFAULT_MODEL, MODELS_DIR
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import BEAT_ACTION_TRIGGERS, build_param_table
from engine.presets.scenes import load_scene
from engine.render.graph import RenderGraph
from engine.render.offline import parse_sets
from engine.render.seeding import seed_decoder_noise
from engine.visual.feed import FeatureFeed
from engine.visual.frame_buffer import FrameBuffer
from engine.visual.host import VisualHost
from engine.visual.live_recorder import LiveRecorder
from engine.visual.process_main import VisualConfig
from engine.visual.themes import check_theme_name

MAX_REALTIME_FACTOR = 0.7  # a model slower than this on one thread cannot hold real time with headroom
DEVICE_CHANNELS = 2
MIN_LOOKAHEAD_SECONDS = 0.04
# Audio queued ahead while a model loads for a swap: torch.jit.load holds the GIL throughout (tens of
# ms for a small model, more for a large one), so the decoder thread cannot run until it returns.
SWAP_HEADROOM_SECONDS = 0.25


@dataclass
class LiveConfig:
    model: Path = DEFAULT_MODEL
    scene: str | None = None
    sets: list[str] = field(default_factory=list)
    device: int | str | None = None
    samplerate: int | None = None
    blocksize: int = 256
    lookahead_blocks: int | None = None  # None: chosen from the model's measured decode time
    input: bool = False
    seconds: float | None = None
    seed: int = 0
    python_callback: bool = False  # the plain sounddevice callback instead of rtmixer's C callback
    allowed_model_dirs: list[Path] = field(default_factory=list)
    osc_host: str = "127.0.0.1"
    osc_port: int | None = 9000  # None or 0: no OSC server
    osc_allow: list[str] = field(default_factory=list)  # non-empty: only these IPs are heard
    osc_map: str | None = None  # controller map (presets/controllers) with [[osc]] routes
    midi_in: str | None = None  # MIDI input port name substring
    midi_out: str | None = None  # MIDI output port (feedback, clock out)
    midi_virtual: bool = False  # open virtual MIDI ports other programs connect to
    midi_map: str = "generic16"  # controller map in presets/controllers
    midi_clock_in: bool = False  # follow external MIDI clock into /tempo/bpm
    midi_clock_out: bool = False  # send MIDI clock at /tempo/bpm
    visuals: bool = False  # start the visual process
    visual_generator: str = "cppn"
    visual_theme: str = "nebula"
    visual_size: tuple[int, int] = (512, 512)
    visual_options: dict[str, dict[str, object]] = field(default_factory=dict)  # per generator name
    visual_spare: bool = True  # keep a loaded spare visual process for instant takeover
    window: bool = False
    visual_screen: int | None = None
    fullscreen: bool = False
    record: Path | None = None  # MP4 of the visuals with the engine's audio


@dataclass
class ModelTiming:
    decode_ms_median: float
    decode_ms_max: float
    realtime_factor: float


def measure_decode(model: NNModel, frames: int = 12) -> ModelTiming:
    """Decode time per latent frame after warm-up, on the thread count already set (one by default)."""
    model.warm_up()
    z = torch.zeros(1, model.latent_size or 1, 1)
    times = []
    for _ in range(frames):
        started = time.perf_counter()
        model.decode(z)
        times.append((time.perf_counter() - started) * 1000)
    model.reset()
    rate = model.sample_rate or 48000
    median = statistics.median(times)
    return ModelTiming(median, max(times), median / 1000 / (model.decode_ratio / rate))


def load_playable(path: Path) -> tuple[NNModel, ModelTiming]:
    """Load, warm up and time a model; refuse one too slow for real time, naming its real-time factor."""
    model = NNModel.load(path)
    model.require("decode")
    timing = measure_decode(model)
    if timing.realtime_factor > MAX_REALTIME_FACTOR:
        raise ModelLoadError(f"{path}: decode real-time factor {timing.realtime_factor:.2f} on one thread "
                             f"({timing.decode_ms_median:.1f} ms per {model.decode_ratio} samples) is too slow "
                             f"for real time (needs at most {MAX_REALTIME_FACTOR})")
    return model, timing


def auto_lookahead(timing: ModelTiming, blocksize: int, samplerate: float) -> int:
    """Enough queued audio to ride out a slow decode: three times the worst seen plus 5 ms, and never
    less than MIN_LOOKAHEAD_SECONDS, which covers the scheduling stalls of a busy machine (a 10-minute
    soak under a hostile neighbour saw single decodes of 17-28 ms from a model that takes 0.8 ms)."""
    needed = max((3 * timing.decode_ms_max + 5.0) / 1000, MIN_LOOKAHEAD_SECONDS) * samplerate
    return max(2, math.ceil(needed / blocksize))


class LiveEngine:
    def __init__(self, config: LiveConfig) -> None:
        self.config = config
        self.model, self.timing = load_playable(config.model)
        self.store = ParamStore(build_param_table(self.model.latent_size or 0),
                                validators={"/visual/theme": check_theme_name})
        initial = dict(load_scene(config.scene, self.store).values) if config.scene else {}
        initial.update(parse_sets(self.store, config.sets))
        self.store.set_many(initial)
        samplerate = config.samplerate or self._device_rate()
        self.graph = RenderGraph(self.model, self.store, seed=config.seed, output_rate=samplerate)
        self.lookahead_blocks = config.lookahead_blocks or auto_lookahead(self.timing, config.blocksize, samplerate)
        frame_at_output = math.ceil(self.graph.frame_samples * samplerate / self.graph.model_rate)
        self.swap_headroom_frames = math.ceil(SWAP_HEADROOM_SECONDS * samplerate / config.blocksize) * config.blocksize
        self.ring = AudioRing(DEVICE_CHANNELS, (self.lookahead_blocks + 2) * config.blocksize + frame_at_output
                              + self.swap_headroom_frames)
        self.input_ring = AudioRing(1, 16 * config.blocksize + frame_at_output) if config.input else None
        output_class = PythonCallbackOutput if config.python_callback else RtmixerOutput
        self.output: Output = output_class(self.ring, samplerate=samplerate, blocksize=config.blocksize,
                                           device=config.device, input_ring=self.input_ring,
                                           restart_frames=self.lookahead_blocks * config.blocksize)
        self.samplerate = int(self.output.samplerate)
        self.decoder = Decoder(self.graph, self.ring, self.output, blocksize=config.blocksize,
                               lookahead_blocks=self.lookahead_blocks, input_ring=self.input_ring)
        self.model_name = self.model.path.name
        self.hub = ControlHub(self.store, timeline=lambda: self.decoder.graph.timeline, audio_time=self.audio_time)
        if config.scene:
            self.hub.scene = config.scene
        self.hub.add_beat_listener(self._beat_action)
        self.errors: list[str] = []
        self._loading: threading.Thread | None = None
        self._model_request = ""
        self._cpu_samples: list[float] = []
        self.started_at = 0.0
        self.stopped_at = 0.0
        self._previous_switch_interval = sys.getswitchinterval()
        self.osc: OscServer | None = None
        self.midi: MidiControl | None = None
        # Live input is captured one lookahead plus one model frame before the graph's clock.
        self.graph.analysis.input_offset_seconds = self.latency_breakdown()["lookahead_s"] + self.graph.frame_seconds
        self.visuals: VisualHost | None = None
        self.recorder: LiveRecorder | None = None
        self.feed: FeatureFeed | None = None
        self.visual_stats: dict[str, object] | None = None  # kept from stop() for the report
        self._generator_requested = config.visual_generator

    def _device_rate(self) -> int:
        import sounddevice as sd

        info = sd.query_devices(self.config.device, "output")
        return int(info["default_samplerate"])  # type: ignore[index]

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self.config.osc_port:  # first: a busy port fails before any audio starts
            self.osc = OscServer(self.hub, self.config.osc_host, self.config.osc_port, allow=self.config.osc_allow,
                                 routes=load_routes(self.config.osc_map, self.hub), engine=self).start()
        if self.config.midi_in or self.config.midi_out or self.config.midi_virtual:  # a missing port fails early
            self.midi = MidiControl(self.hub, MidiConfig(
                midi_in=self.config.midi_in, midi_out=self.config.midi_out, virtual=self.config.midi_virtual,
                map_name=self.config.midi_map, clock_in=self.config.midi_clock_in,
                clock_out=self.config.midi_clock_out))
            self.midi.start()
        if self.config.visuals or self.config.record is not None:
            self._start_visuals()
        self.graph.analysis.wanted = True  # the feed publishes and reports the rows
        self.feed = FeatureFeed(lambda: self.decoder.graph, self.store, lambda: self.audio_time(time.time()),
                                publish=self.visuals.publish if self.visuals is not None else None,
                                send_row=self.osc.features.send if self.osc is not None else None)
        self._previous_switch_interval = shorten_gil_switch_interval()
        # Move everything loaded so far (torch, the model, numpy) out of the collector's reach: a full
        # collection forced anywhere in the process then scans only newer objects, in microseconds
        # instead of ~100 ms with the GIL held.
        gc.collect()
        gc.freeze()
        seed_decoder_noise(self.config.seed)
        self.decoder.prefill()
        self.output.start()
        self.started_at = time.monotonic()
        self.decoder.start()
        self.feed.start()
        if self.recorder is not None:
            self.recorder.start()

    def _beat_action(self, name: str) -> None:
        """A controller's `beat:NAME` pad: the visual beat actions become their trigger parameters."""
        if name in BEAT_ACTION_TRIGGERS:
            self.store.set(BEAT_ACTION_TRIGGERS[name], 1)

    def _start_visuals(self) -> None:
        width, height = self.config.visual_size
        self.store.set("/visual/generator", self.config.visual_generator)
        if self.config.visual_theme:
            self.store.set("/visual/theme", self.config.visual_theme)
        self.visuals = VisualHost(VisualConfig(generator=self.config.visual_generator, width=width, height=height,
                                               seed=self.config.seed, theme=self.config.visual_theme,
                                               generator_options=self._options_for(self.config.visual_generator)),
                                  spare=self.config.visual_spare, on_error=self._visual_error)
        self.visuals.start()
        if self.config.record is not None:
            self.recorder = LiveRecorder(self.config.record, self.visuals.frames, samplerate=self.samplerate,
                                         channels=DEVICE_CHANNELS, fps=float(self.store.get("/visual/fps")),
                                         start_seconds=self.decoder.blocks_written * self.config.blocksize
                                         / self.samplerate)
            self.decoder.on_block = self.recorder.push_audio

    def tick(self) -> None:
        """Housekeeping from the main thread (about 10 times a second): model requests, CPU samples."""
        self._cpu_samples.append(self.output.cpu_load)
        request = str(self.store.get("/rave/model"))
        if request and request != self._model_request and self._loading is None:
            self._model_request = request
            self._loading = threading.Thread(target=self._load_and_swap, args=(request,), daemon=True)
            self._loading.start()
        if self.visuals is not None:
            self._follow_generator()
        if self.decoder.error is not None:
            raise EngineError(f"decoder thread stopped: {self.decoder.error}")

    def run(self, seconds: float | None = None, status: bool = False) -> None:
        from engine.audio.status import StatusLine

        deadline = None if seconds is None else time.monotonic() + seconds
        with StatusLine(self, enabled=status) as line:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1)
                self.tick()
                line.update()

    def _options_for(self, generator: str) -> dict[str, object]:
        return dict(self.config.visual_options.get(generator, {}))

    def _visual_error(self, message: str) -> None:
        self.errors.append(message)
        self.hub.report_error("visual", "/visual/generator", message)

    def _follow_generator(self) -> None:
        """`/visual/generator` changes restart the visual process on the other generator; if that one
        cannot start, the host stays on the old one and the parameter goes back to say so."""
        assert self.visuals is not None
        wanted = str(self.store.get("/visual/generator"))
        if wanted != self._generator_requested:
            self._generator_requested = wanted
            self.visuals.switch_generator(wanted, self._options_for(wanted))
        elif not self.visuals.switching and self.visuals.config.generator != wanted:
            self._generator_requested = self.visuals.config.generator
            self.store.set("/visual/generator", self.visuals.config.generator)

    def run_with_window(self, seconds: float | None = None) -> None:
        """Run with the visuals window in the main thread (Qt's event loop calls `tick`)."""
        from engine.visual.window import run_window

        assert self.visuals is not None
        run_window(_newest_reader(self.visuals.frames), screen=self.config.visual_screen,
                   fullscreen=self.config.fullscreen, seconds=seconds, tick=self.tick)

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
            if self.feed.ident is not None:
                self.feed.join(timeout=2)  # no publish may be in flight when the shared memory closes
        if self.midi is not None:
            self.midi.stop()
        if self.osc is not None:
            self.osc.stop()
        self.decoder.stop()
        if self.decoder.ident is not None:  # stop() after a start() that failed before the thread ran
            self.decoder.join(timeout=5)
        self.output.stop()
        self.stopped_at = time.monotonic()
        if self.recorder is not None:
            self.recorder.stop()
        if self.visuals is not None:
            self.visual_stats = self.visuals.stats()
            self.visuals.stop()
        sys.setswitchinterval(self._previous_switch_interval)
        gc.unfreeze()

    def audio_time(self, wall_time: float) -> float:
        """The timeline's seconds at which audio now being written reaches the speaker at `wall_time`."""
        queued = self.ring.read_available / self.samplerate + self.output.device_latency
        written = self.decoder.blocks_written * self.config.blocksize / self.samplerate
        return written - queued + (wall_time - time.time())

    # --- model swap ----------------------------------------------------------------------
    def resolve_model_path(self, request: str) -> Path:
        path = Path(request)
        if not path.is_absolute():
            path = (MODELS_DIR / path).resolve()
            if MODELS_DIR.resolve() not in path.parents:
                raise ParamError(f"/rave/model: {request!r} leaves the models folder")
            return path
        path = path.resolve()
        if not any(d.resolve() == path.parent or d.resolve() in path.parents for d in self.config.allowed_model_dirs):
            raise ParamError(f"/rave/model: {request} is outside the models folder and no --allow-model-dir covers it")
        return path

    def _queue_headroom(self, timeout: float = 1.0) -> None:
        """Have the decoder queue SWAP_HEADROOM_SECONDS beyond its target, and wait (bounded) until it has."""
        self.decoder.headroom_frames = self.swap_headroom_frames
        deadline = time.monotonic() + timeout
        while (self.ring.read_available < self.decoder.fill_target - self.config.blocksize
               and time.monotonic() < deadline and self.decoder.is_alive()):
            time.sleep(0.005)

    def _load_and_swap(self, request: str) -> None:
        try:
            path = self.resolve_model_path(request)
            self._queue_headroom()
            model, timing = load_playable(path)
            if model.latent_size != self.model.latent_size:
                raise ModelLoadError(f"{model.path}: latent size {model.latent_size} differs from the playing "
                                     f"model's {self.model.latent_size}; restart the engine with it")
            playing = self.decoder.graph
            graph = RenderGraph(model, self.store, seed=self.config.seed, output_rate=self.samplerate,
                                timeline=playing.timeline, start_seconds=playing.time_seconds,
                                analysis=playing.analysis)
            self.decoder.swap(graph)
            self.model, self.timing, self.model_name = model, timing, model.path.name
        except EngineError as exc:
            self.errors.append(str(exc))
        finally:
            self.decoder.headroom_frames = 0
            self._loading = None

    # --- report --------------------------------------------------------------------------
    def latency_breakdown(self) -> dict[str, float]:
        """Output-side latency, everything counted: device, queued blocks, and one model frame."""
        rate = self.samplerate
        frame = self.graph.frame_samples * rate / self.graph.model_rate
        parts = {
            "device_s": self.output.device_latency,
            "block_s": self.config.blocksize / rate,
            "lookahead_s": self.lookahead_blocks * self.config.blocksize / rate,
            "model_frame_s": frame / rate,
        }
        parts["total_s"] = sum(parts.values())
        return {k: round(v, 5) for k, v in parts.items()}

    def report(self) -> dict[str, object]:
        elapsed = (self.stopped_at or time.monotonic()) - self.started_at
        latency = self.latency_breakdown()
        cpu = [c for c in self._cpu_samples if c > 0]
        return {
            "callbacks": self.output.callbacks,
            "expected_callbacks": int(elapsed * self.samplerate / self.config.blocksize),
            "underruns": self.output.underruns,
            "input_overflows": getattr(self.output, "input_overflows", 0),
            "blocksize": self.config.blocksize,
            "samplerate": self.samplerate,
            "lookahead_blocks": self.lookahead_blocks,
            "decode_ms": self.decoder.decode_stats(),
            "model_decode_ms_at_load": {"median": round(self.timing.decode_ms_median, 3),
                                        "max": round(self.timing.decode_ms_max, 3),
                                        "realtime_factor": round(self.timing.realtime_factor, 4)},
            "cpu_load": round(float(np.mean(cpu)) if cpu else 0.0, 4),
            "latency": latency["total_s"],
            "latency_breakdown": latency,
            "nn_tilde_default_latency_s": round(2 * 4096 / self.samplerate, 5),
            "decoder_priority": self.decoder.priority,
            "callback": "python" if self.config.python_callback else "rtmixer",
            "model": self.model_name,
            "scene": self.hub.scene,
            "seconds": round(elapsed, 3),
            "input_frames_encoded": self.decoder.graph.input_frames_encoded,
            "errors": self.errors,
            "midi": self.midi.stats() if self.midi is not None else None,
            "analysis": self._analysis_report(),
            "visuals": self.visual_stats if self.stopped_at or self.visuals is None else self.visuals.stats(),
            "recording": self.recorder.stats() if self.recorder is not None else None,
        }

    def _analysis_report(self) -> dict[str, object]:
        if self.feed is None:
            return {}
        row = self.feed.latest
        return {"rows": self.feed.rows, "beats": self.feed.beats, "onsets": self.feed.onsets,
                "bpm": round(float(row[INDEX["bpm"]]), 2),
                "beat_confidence": round(float(row[INDEX["beat_confidence"]]), 3)}

    def write_report(self, path: Path) -> None:
        path.write_text(json.dumps(self.report(), indent=2))


def _newest_reader(frames: FrameBuffer) -> Callable[[], tuple[int, np.ndarray] | None]:
    """A window source that copies a frame only when a new one is there."""
    shown = -1

    def newest() -> tuple[int, np.ndarray] | None:
        nonlocal shown
        got = frames.read_newer(shown)
        if got is None:
            return None
        shown = got[0]
        return got[0], got[2]

    return newest
