"""The live session: a model, a render graph, the decoder thread and a device output, with the
control surfaces (OSC, MIDI), the feed to the visuals and the recorder wired around them.

Threads, from most to least urgent: the device callback (C, no GIL) plays the ring; the decoder
renders ahead into it; OSC and MIDI write parameters through the hub; the feed hands the visuals
what is being heard; the main thread runs `tick` (model swaps, generator switches, the device
watch, the status line). Nothing on the control path waits for the audio side, or the reverse.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path

from engine.analysis.features import INDEX
from engine.audio.adaptive_lookahead import AdaptiveLookahead
from engine.audio.decoder import Decoder
from engine.audio.host_steal import HostStealWatch
from engine.audio.output import Output, PythonCallbackOutput, RtmixerOutput
from engine.audio.priority import shorten_gil_switch_interval
from engine.audio.reconnecting_output import ReconnectingOutput
from engine.audio.ring import AudioRing
from engine.control.hub import ControlHub
from engine.control.link_session import LinkSession
from engine.control.midi_input import MidiConfig, MidiControl
from engine.control.osc_server import OscServer, load_routes
from engine.control.scope_sender import ScopeFrame
from engine.errors import EngineError, ParamError
from engine.explore.atlas import Atlas
from engine.explore.messages import atlas_messages, no_atlas_messages
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore, parse_sets
from engine.params.table import build_param_table
from engine.presets.scenes import load_scene
from engine.render.effect_graph import EffectGraph, method_validator
from engine.render.graph import RenderGraph
from engine.session.atlas_loader import AtlasLoader
from engine.session.config import SessionConfig
from engine.session.effect_policy import load_effect, plays_decode
from engine.session.feed import FeatureFeed
from engine.session.live_models import LiveModels
from engine.session.model_policy import ModelTiming, auto_lookahead, load_playable
from engine.session.model_swap import SWAP_HEADROOM_SECONDS, ModelSwapper
from engine.session.status import LAST_ERRORS, SessionStatus, StatusLine
from engine.session.video_outputs import open_video_outputs
from engine.session.visual_remote import RemoteVisualTap, start_remote_visuals
from engine.session.visuals import SessionVisuals
from engine.visual.themes import check_theme_name

DEVICE_CHANNELS = 2
TICK_SECONDS = 0.1


class LiveSession:
    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        decode = plays_decode(config.method)
        if not decode and not config.input:
            raise ParamError(f"--method {config.method} plays the live input through the model: add --input")
        self.model, self.timing = (
            load_playable(config.model, frames_per_call=config.frames_per_call, threads=config.decode_threads)
            if decode else load_effect(config.model, str(config.method)))
        self.store = ParamStore(build_param_table(self.model.latent_size or 1),
                                validators={"/visual/theme": check_theme_name,
                                            "/rave/method": method_validator(lambda: self.model, decode)})
        initial = dict(load_scene(config.scene, self.store).values) if config.scene else {}
        initial.update(parse_sets(self.store, config.sets))
        self.store.set_many(initial)
        samplerate = config.samplerate or self._device_rate()
        graph: RenderGraph | EffectGraph = (
            RenderGraph(self.model, self.store, seed=config.seed, output_rate=samplerate,
                        frames_per_call=self.timing.frames_per_call) if decode else
            EffectGraph(self.model, self.store, str(config.method), seed=config.seed, output_rate=samplerate))
        initial_blocks = config.lookahead_blocks or auto_lookahead(self.timing, config.blocksize, samplerate)
        # A fixed --lookahead-blocks turns adaptation off; otherwise it moves within the user's bounds.
        self.lookahead = None if config.lookahead_blocks else AdaptiveLookahead(
            initial_blocks * config.blocksize, *config.lookahead_bounds_frames(samplerate), config.blocksize,
            samplerate)
        # On a virtual machine the host's CPU steals are seen on any CPU before one hits the decoder.
        self.steal_watch = HostStealWatch(self.lookahead.host_stall) if self.lookahead else None
        max_blocks = self.lookahead.max_frames // config.blocksize if self.lookahead else initial_blocks
        frame_at_output = math.ceil(graph.frame_samples * samplerate / graph.model_rate)
        swap_headroom = math.ceil(SWAP_HEADROOM_SECONDS * samplerate / config.blocksize) * config.blocksize
        self.ring = AudioRing(DEVICE_CHANNELS, (max_blocks + 2) * config.blocksize + frame_at_output
                              + swap_headroom)
        start_frames = self.lookahead.frames if self.lookahead else initial_blocks * config.blocksize
        self.input_ring = AudioRing(1, 16 * config.blocksize + frame_at_output) if config.input else None
        output_class = PythonCallbackOutput if config.python_callback else RtmixerOutput

        def open_output(device: int | str | None) -> Output:
            return output_class(self.ring, samplerate=samplerate, blocksize=config.blocksize, device=device,
                                input_ring=self.input_ring, restart_frames=start_frames)

        self.output = ReconnectingOutput(open_output, config.device, fallback=config.fallback_device,
                                         on_state=self._device_state)
        self.samplerate = int(self.output.samplerate)
        self.decoder = Decoder(graph, self.ring, self.output, blocksize=config.blocksize,
                               lookahead_blocks=initial_blocks, input_ring=self.input_ring,
                               lookahead=self.lookahead, decode_threads=self.timing.threads)
        self.model_name = self.model.path.name
        self.hub = ControlHub(self.store, timeline=lambda: self.decoder.graph.timeline, audio_time=self.audio_time)
        if config.scene:
            self.hub.scene = config.scene
        self.errors: deque[str] = deque(maxlen=LAST_ERRORS)
        self.swapper = ModelSwapper(self.decoder, self.store, seed=config.seed, samplerate=self.samplerate,
                                    headroom_frames=swap_headroom, allowed_dirs=config.allowed_model_dirs,
                                    frames_per_call=config.frames_per_call, threads=config.decode_threads,
                                    on_swapped=self._swapped, on_error=self._swap_error,
                                    on_table_changed=lambda change: self.live_models.table_changed(change),
                                    keep_second=lambda timing: self.live_models.keeps_model_b(timing),
                                    launcher=self.hub.launcher)
        self.live_models = LiveModels(self, self.swapper)  # /rave/model/b, /rave/reference/a|b
        self.atlases = AtlasLoader(self.store, lambda: self.decoder.graph, allowed_dirs=config.allowed_model_dirs,
                                   on_error=self._atlas_error, on_atlas=self._atlas_loaded)
        self.hub.set_point_handler(self.atlases.nearest_chunk)
        self._cpu_sum, self._cpu_ticks = 0.0, 0  # the CPU load's running mean over the set
        self.started_at = 0.0
        self.stopped_at = 0.0
        self._previous_switch_interval = sys.getswitchinterval()
        self.osc: OscServer | None = None
        self.midi: MidiControl | None = None
        self.link: LinkSession | None = None
        # Live input is captured one lookahead plus one model frame before the graph's clock.
        graph.analysis.input_offset_seconds = self.latency_breakdown()["lookahead_s"] + graph.frame_seconds
        self.visuals: SessionVisuals | None = None
        self.feed: FeatureFeed | None = None
        self.remote: RemoteVisualTap | None = None  # while --visual-remote streams to a node
        self._fullscreen_asked = self._fullscreen_done = 0  # /visual/fullscreen toggles (OSC thread -> tick)

    def _device_rate(self) -> int:
        import sounddevice as sd

        info = sd.query_devices(self.config.device, "output")
        return int(info["default_samplerate"])  # type: ignore[index]

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        config = self.config
        if config.osc_port:  # first: a busy port fails before any audio starts
            self.osc = OscServer(self.hub, config.osc_host, config.osc_port, allow=config.osc_allow,
                                 routes=load_routes(config.osc_map, self.hub),
                                 status=lambda: self.status().osc_reply(),
                                 meters=lambda: self.decoder.graph.master.meters.osc_args(),
                                 scope=self._scope_frame, fullscreen=self.request_fullscreen).start()
        if config.link:  # a missing binding fails early, with one line
            self.link = LinkSession(self.store, self.audio_time)
            self.decoder.graph.timeline.grid.external = self.link.timeline  # the timeline outlives model swaps
        if config.midi_in or config.midi_out or config.midi_virtual:  # a missing port fails early
            self.midi = MidiControl(self.hub, MidiConfig(
                midi_in=config.midi_in, midi_out=config.midi_out, virtual=config.midi_virtual,
                map_name=config.midi_map, clock_in=config.midi_clock_in, clock_out=config.midi_clock_out,
                beat_now=self._link_beat_now if self.link is not None else None))
            self.midi.start()
        if config.wants_visuals:
            self.visuals = SessionVisuals(self.store, generator=config.visual_generator, theme=config.visual_theme,
                                          size=config.visual_size, seed=config.seed, options=config.visual_options,
                                          spare=config.visual_spare, on_error=self._visual_error)
            self.visuals.start()
            self.visuals.outputs = open_video_outputs(config, self.visuals.host.frames,
                                                      float(self.store.get("/visual/fps")), self._output_error)
            if config.record is not None:
                recorder = self.visuals.record(config.record, samplerate=self.samplerate, channels=DEVICE_CHANNELS,
                                               start_seconds=self.decoder.blocks_written * config.blocksize
                                               / self.samplerate)
                self.decoder.on_block = recorder.push_audio
        if config.visual_remote:
            self.remote = start_remote_visuals(config.visual_remote, lambda: self.decoder.graph, self.store,
                                               self.audio_time, on_event=self.errors.append)
        self.feed = FeatureFeed(lambda: self.decoder.graph, self.store, lambda: self.audio_time(time.time()),
                                publish=self.visuals.host.publish if self.visuals is not None else None,
                                send_row=self.osc.features.send if self.osc is not None else None,
                                ahead=self.remote.poll if self.remote is not None else None)
        self._previous_switch_interval = shorten_gil_switch_interval()
        # Move everything loaded so far (torch, the model, numpy) out of the collector's reach: a full
        # collection forced anywhere in the process then scans only newer objects, in microseconds
        # instead of ~100 ms with the GIL held.
        gc.collect()
        gc.freeze()
        self._follow_analysis_demand()
        self.decoder.graph.timeline.launches.defer_visuals = True  # the feed switches visuals when heard
        self.decoder.prefill()
        self.output.start()
        self.started_at = time.monotonic()
        self.decoder.start()
        if self.steal_watch is not None:
            self.steal_watch.start()
        self.feed.start()
        if self.link is not None:
            self.link.start()
        if self.visuals is not None and self.visuals.recorder is not None:
            self.visuals.recorder.start()

    def tick(self) -> None:
        """Housekeeping from the main thread (about 10 times a second): model requests, CPU samples."""
        load = self.output.cpu_load
        if load > 0:  # 0 while the device is away or not started: not a measurement
            self._cpu_sum, self._cpu_ticks = self._cpu_sum + load, self._cpu_ticks + 1
        self._follow_analysis_demand()
        self.swapper.poll()
        self.live_models.poll()
        self.atlases.poll()
        self._send_map_position()
        if self.visuals is not None:
            self.visuals.follow_generator()
            while self._fullscreen_done < self._fullscreen_asked:  # OSC asked; Qt acts on this thread
                self._fullscreen_done += 1
                self.visuals.toggle_fullscreen()
        if self.decoder.error is not None:
            raise EngineError(f"decoder thread stopped: {self.decoder.error}")

    def _follow_analysis_demand(self) -> None:
        """The analysis runs on the render thread only while something reads it: the visuals, OSC
        feature subscribers, or (the graph sees to it) a modulation slot."""
        subscribers = self.osc is not None and (len(self.osc.feature_subscribers) + len(self.osc.scope_subscribers)) > 0
        self.decoder.graph.analysis.wanted = self.visuals is not None or self.remote is not None or subscribers

    def request_fullscreen(self) -> bool:
        """OSC `/visual/fullscreen` (any thread): toggle the visual window on the next tick; False without one."""
        if not self.config.window:
            return False
        self._fullscreen_asked += 1
        return True

    def _scope_frame(self) -> ScopeFrame:
        """The latest latent heard, LFOs and spectrum, for OSC `/scope/subscribe` (read on the OSC side)."""
        graph = self.decoder.graph
        feed = self.feed  # the latent of the frame now heard; an effect graph (no latent) sends none
        return ScopeFrame(latent=feed.latent if feed is not None else (),
                          lfo_values=graph.lfos.values, lfo_phases=graph.lfos.phases(),
                          spectrum=graph.analysis.spectrum if graph.analysis.running else (),
                          frames_name=self.visuals.host.frames.name if self.visuals is not None else None)

    def run(self, seconds: float | None = None, status: bool = False) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        with StatusLine(enabled=status) as line:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(TICK_SECONDS)
                self.tick()
                line.update(self.status())

    def run_with_window(self, seconds: float | None = None) -> None:
        """Run with the visuals window in the main thread (Qt's event loop calls `tick`)."""
        assert self.visuals is not None
        self.visuals.run_window(screen=self.config.visual_screen, fullscreen=self.config.fullscreen,
                                seconds=seconds, tick=self.tick, tick_seconds=TICK_SECONDS)

    def stop(self) -> None:
        if self.link is not None:
            self.link.close()
        if self.feed is not None:
            self.feed.stop()
            if self.feed.ident is not None:
                self.feed.join(timeout=2)  # no publish may be in flight when the shared memory closes
        if self.midi is not None:
            self.midi.stop()
        if self.osc is not None:
            self.osc.stop()
        if self.steal_watch is not None:
            self.steal_watch.stop()
        self.decoder.stop()
        if self.decoder.ident is not None:  # stop() after a start() that failed before the thread ran
            self.decoder.join(timeout=5)
        self.output.stop()
        self.stopped_at = time.monotonic()
        if self.remote is not None:
            self.remote.stop()
        if self.visuals is not None:
            self.visuals.stop()
        sys.setswitchinterval(self._previous_switch_interval)
        gc.unfreeze()

    # --- errors and swaps ----------------------------------------------------------------
    def _visual_error(self, message: str) -> None:
        self.errors.append(message)
        self.hub.report_error("visual", "/visual/generator", message)

    def _output_error(self, flag: str, message: str) -> None:
        self.errors.append(message)
        self.hub.report_error("visual", flag, message)

    def _swap_error(self, message: str) -> None:
        self.errors.append(message)
        self.hub.report_error("session", "/rave/model", message)

    def _send_map_position(self) -> None:
        """`/explore/position` to the map's subscribers, each tick (10 a second) while an atlas is loaded."""
        if self.osc is not None and len(self.osc.explore_subscribers):
            position = self.atlases.map_position()
            if position is not None:
                self.osc.atlas.send_position(*position)

    def _atlas_error(self, address: str, message: str) -> None:
        self.errors.append(message)
        self.hub.report_error("session", address, message)

    def _atlas_loaded(self, atlas: Atlas | None, path: str) -> None:
        """The navigated atlas changed: every OSC subscriber gets it (a GUI draws the map)."""
        if self.osc is not None:
            self.osc.atlas.publish(atlas_messages(atlas, path) if atlas is not None else no_atlas_messages())

    def _device_state(self, state: str, message: str) -> None:
        """From the device watch: the device went away, or came back."""
        self.errors.append(message)
        self.hub.report_error("audio", "/engine/device", message)

    def _swapped(self, model: NNModel, timing: ModelTiming) -> None:
        self.model, self.timing, self.model_name = model, timing, model.path.name
        self.decoder.decode_threads = timing.threads
        self.live_models.model_changed()

    @property
    def lookahead_blocks(self) -> int:
        """The decoder's fill target now (it moves when the lookahead adapts)."""
        return self.decoder.target_frames // self.config.blocksize

    # --- clocks and status ---------------------------------------------------------------
    def audio_time(self, wall_time: float) -> float:
        """The timeline's seconds at which audio now being written reaches the speaker at `wall_time`."""
        queued = self.ring.read_available / self.samplerate + self.output.device_latency
        written = self.decoder.blocks_written * self.config.blocksize / self.samplerate
        return written - queued + (wall_time - time.time())

    def latency_breakdown(self) -> dict[str, float]:
        """Output-side latency, everything counted: device, queued blocks, and one model frame."""
        rate = self.samplerate
        graph = self.decoder.graph
        frame = graph.frame_samples * rate / graph.model_rate
        parts = {
            "device_s": self.output.device_latency,
            "block_s": self.config.blocksize / rate,
            "lookahead_s": self.lookahead_blocks * self.config.blocksize / rate,
            "model_frame_s": graph.frames_per_call * frame / rate,  # a control waits for the whole call
            "master_s": graph.master.latency / rate,  # the limiter's look-ahead
        }
        parts["total_s"] = sum(parts.values())
        return {k: round(v, 5) for k, v in parts.items()}

    def status(self) -> SessionStatus:
        """One snapshot of everything a performer or a report wants to know."""
        elapsed = (self.stopped_at or time.monotonic()) - self.started_at if self.started_at else 0.0
        osc = self.osc
        return SessionStatus(
            seconds=elapsed,
            cpu_load=self.output.cpu_load,
            cpu_load_mean=self._cpu_sum / self._cpu_ticks if self._cpu_ticks else 0.0,
            callbacks=self.output.callbacks,
            expected_callbacks=int(elapsed * self.samplerate / self.config.blocksize),
            underruns=self.output.underruns,
            input_overflows=self.output.input_overflows,
            samplerate=self.samplerate,
            blocksize=self.config.blocksize,
            lookahead_blocks=self.lookahead_blocks,
            latency=self.latency_breakdown(),
            decode_ms=self.decoder.decode_stats(),
            model=self.model_name,
            model_timing=self.timing,
            scene=self.hub.scene,
            callback="python" if self.config.python_callback else "rtmixer",
            decoder_priority=self.decoder.priority,
            input_frames_encoded=self.decoder.graph.input_frames_encoded,
            osc={"messages": osc.stats["messages"] if osc else 0, "errors": osc.stats["errors"] if osc else 0,
                 "dropped": osc.stats["dropped"] if osc else 0, "subscribers": len(osc.subscribers) if osc else 0},
            device=self.output.status(),
            analysis=self._analysis_status(),
            midi=self.midi.stats() if self.midi is not None else None,
            visuals=self.visuals.stats() if self.visuals is not None else None,
            recording=self.visuals.recorder.stats() if self.visuals and self.visuals.recorder else None,
            lookahead=self._lookahead_status(),
            errors=list(self.errors),
            meters=asdict(self.decoder.graph.master.meters),
            live_models=self.live_models.stats(),
            tempo=self._tempo_status(),
            visual_remote=self.remote.stats() if self.remote is not None else None,
        )

    def _lookahead_status(self) -> dict[str, object] | None:
        if self.lookahead is None:
            return None
        watch = self.steal_watch
        return {**self.lookahead.report(self.samplerate),
                "host_stalls": watch.stalls if watch else 0,
                "longest_host_stall_ms": round(watch.longest * 1e3, 1) if watch else 0.0}

    def _tempo_status(self) -> dict[str, object]:
        """The beat grid now, the launches it released, and Link's peers and phase with --link."""
        timeline = self.decoder.graph.timeline
        point = timeline.grid.point
        out: dict[str, object] = {"bpm": round(point.bpm, 3), "beat": round(point.beat, 3),
                                  "phase": round(point.phase, 4), "playing": bool(self.store.get("/transport/play")),
                                  "quantize": self.store.get("/launch/quantize"),
                                  "launches_pending": timeline.launches.pending,
                                  "launched": timeline.launches.launched}
        if self.link is not None:
            out["link"] = {**self.link.status.report(), "followed": self.link.followed, "led": self.link.led,
                           "errors": self.link.errors}
        return out

    def _link_beat_now(self) -> tuple[float, float] | None:
        """Link's (beat, bpm) now, for MIDI clock out."""
        assert self.link is not None
        beat = self.link.beat_at_host(self.link.host_seconds())
        return None if beat is None else (beat, self.link.status.bpm)

    def _analysis_status(self) -> dict[str, object]:
        if self.feed is None:
            return {}
        row = self.feed.latest
        return {"rows": self.feed.rows, "beats": self.feed.beats, "onsets": self.feed.onsets,
                "bpm": round(float(row[INDEX["bpm"]]), 2),
                "beat_confidence": round(float(row[INDEX["beat_confidence"]]), 3)}

    def report(self) -> dict[str, object]:
        return self.status().report()

    def write_report(self, path: Path) -> None:
        path.write_text(json.dumps(self.report(), indent=2))
