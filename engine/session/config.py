"""What a live session is asked to do, checked once: the command line builds it, tests and
benchmarks build it directly, and a value out of range is refused here with the flag's name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.control.osc_server import DEFAULT_HOST, DEFAULT_PORT
from engine.errors import ParamError, VisualError
from engine.models.default import DEFAULT_MODEL
from engine.params.table import DEFAULT_GENERATOR, DEFAULT_THEME
from engine.presets.controller_maps import DEFAULT_MIDI_MAP
from engine.session.decode_choice import MAX_DECODE_THREADS, MAX_FRAMES_PER_CALL, MIN_LOOKAHEAD_SECONDS
from engine.visual.frame_size import DEFAULT_FRAME_SIZE, check_frame_size
from engine.visual.outputs.sender import MAX_FPS as MAX_OUTPUT_FPS
from engine.visual.outputs.sender import check_output_name

DEFAULT_LOOKAHEAD_MAX_SECONDS = 0.5


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: Path = DEFAULT_MODEL
    scene: str | None = None
    sets: list[str] = Field(default_factory=list)
    device: int | str | None = None
    fallback_device: str | None = None  # played when `device` is gone and this one is there
    samplerate: int | None = Field(default=None, ge=8000, le=384000)
    blocksize: int = Field(default=256, ge=16, le=8192)
    lookahead_blocks: int | None = Field(default=None, ge=1, le=1024)  # fixed; None: adaptive, from the model
    lookahead_min_ms: float | None = Field(default=None, gt=0, le=2000)  # adaptive bounds; None: 40 ms
    lookahead_max_ms: float | None = Field(default=None, gt=0, le=2000)  # None: 500 ms
    frames_per_call: int | None = Field(default=None, ge=1, le=MAX_FRAMES_PER_CALL)  # None: chosen at load
    decode_threads: int | None = Field(default=None, ge=1, le=MAX_DECODE_THREADS)  # None: chosen at load
    input: bool = False
    method: str | None = None  # the model method that plays; None: decode, or the model's audio method
    seconds: float | None = Field(default=None, gt=0)
    seed: int = 0
    python_callback: bool = False  # the plain sounddevice callback instead of rtmixer's C callback
    allowed_model_dirs: list[Path] = Field(default_factory=list)
    osc_host: str = DEFAULT_HOST
    osc_port: int | None = Field(default=DEFAULT_PORT, ge=0, le=65535)  # None or 0: no OSC server
    osc_allow: list[str] = Field(default_factory=list)  # non-empty: only these IPs are heard
    osc_map: str | None = None  # controller map (presets/controllers) with [[osc]] routes
    midi_in: str | None = None  # MIDI input port name substring
    midi_out: str | None = None  # MIDI output port (feedback, clock out)
    midi_virtual: bool = False  # open virtual MIDI ports other programs connect to
    midi_map: str = DEFAULT_MIDI_MAP  # controller map in presets/controllers
    midi_clock_in: bool = False  # follow external MIDI clock into /tempo/bpm
    midi_clock_out: bool = False  # send MIDI clock at /tempo/bpm
    link: bool = False  # join Ableton Link: tempo, beat and start/stop (engine/control/link_session.py)
    visuals: bool = False  # start the visual process
    visual_generator: str = DEFAULT_GENERATOR
    visual_theme: str = DEFAULT_THEME
    visual_size: tuple[int, int] = DEFAULT_FRAME_SIZE
    visual_options: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per generator name
    visual_spare: bool = True  # keep a loaded spare visual process for instant takeover
    window: bool = False
    visual_screen: int | None = None
    fullscreen: bool = False
    record: Path | None = None  # MP4 of the visuals with the engine's audio
    ndi: str | None = None  # NDI source name: the frames go out over NDI (engine/visual/outputs)
    ndi_size: tuple[int, int] = DEFAULT_FRAME_SIZE
    ndi_fps: float | None = Field(default=None, gt=0, le=MAX_OUTPUT_FPS)  # None: every frame made
    vcam: bool = False  # the frames as a virtual camera (pyvirtualcam)
    vcam_device: str | None = None  # None: the first free loopback device
    vcam_size: tuple[int, int] = DEFAULT_FRAME_SIZE
    vcam_fps: float | None = Field(default=None, gt=0, le=MAX_OUTPUT_FPS)
    syphon: str | None = None  # Syphon server name (macOS), frames at visual_size
    spout: str | None = None  # Spout sender name (Windows), frames at visual_size
    visual_remote: list[str] = Field(default_factory=list)  # HOST:PORT of each remote visual node to stream to

    @field_validator("visual_remote")
    @classmethod
    def _remote_addresses(cls, targets: list[str]) -> list[str]:
        from engine.remote.protocol import parse_host_port

        for text in targets:
            host, _ = parse_host_port(text, "--visual-remote")
            if not host:
                raise ValueError(f"--visual-remote {text!r}: name the node's host, e.g. 192.168.1.20:9100")
        return targets

    @field_validator("visual_size", "ndi_size", "vcam_size")
    @classmethod
    def _frame_size(cls, size: tuple[int, int]) -> tuple[int, int]:
        check_frame_size(*size)
        return size

    @field_validator("ndi", "syphon", "spout")
    @classmethod
    def _output_name(cls, name: str | None, info: Any) -> str | None:  # info: pydantic's ValidationInfo
        what = {"ndi": "an NDI source name", "syphon": "a Syphon server name", "spout": "a Spout sender name"}
        try:
            return None if name is None else check_output_name(name, what[str(info.field_name)])
        except VisualError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _lookahead_bounds(self) -> SessionConfig:
        if self.lookahead_blocks is not None and (self.lookahead_min_ms or self.lookahead_max_ms):
            raise ValueError("--lookahead-blocks fixes the lookahead; leave out --lookahead-min-ms/--lookahead-max-ms")
        low, high = self.lookahead_min_ms, self.lookahead_max_ms
        if low is not None and high is not None and low > high:
            raise ValueError(f"--lookahead-min-ms {low:g} is above --lookahead-max-ms {high:g}")
        return self

    def lookahead_bounds_frames(self, samplerate: float) -> tuple[int, int]:
        """The adaptive lookahead's (min, max) in frames at `samplerate`."""
        high = self.lookahead_max_ms / 1000 if self.lookahead_max_ms else max(DEFAULT_LOOKAHEAD_MAX_SECONDS,
                                                                             (self.lookahead_min_ms or 0) / 1000)
        low = self.lookahead_min_ms / 1000 if self.lookahead_min_ms else min(MIN_LOOKAHEAD_SECONDS, high)
        return round(low * samplerate), round(high * samplerate)

    @classmethod
    def checked(cls, **values: Any) -> SessionConfig:
        """Build a config; a bad value becomes one ParamError naming its command-line flag."""
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                if not error["loc"]:  # a check across fields names its flags itself
                    problems.append(str(error["msg"]).removeprefix("Value error, "))
                    continue
                flag = "--" + "-".join(str(p) for p in error["loc"][:1]).replace("_", "-")
                problems.append(f"{flag}: {error['msg']}, got {error.get('input')!r}")
            raise ParamError("; ".join(problems)) from None

    @property
    def wants_visuals(self) -> bool:
        return self.visuals or self.window or self.record is not None or self.vcam or any(
            name is not None for name in (self.ndi, self.syphon, self.spout))
