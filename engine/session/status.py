"""One snapshot of a playing session, and the terminal line that shows it.

`SessionStatus` is the only thing the status line, OSC `/engine/status` and `--report` read: the
session builds it from its parts, so none of them reaches into the session's attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from engine.session.model_policy import ModelTiming

LAST_ERRORS = 20  # the report and the status keep this many of the newest errors


@dataclass(frozen=True)
class SessionStatus:
    seconds: float
    cpu_load: float  # now
    cpu_load_mean: float  # over the set so far
    callbacks: int
    expected_callbacks: int
    underruns: int
    input_overflows: int
    samplerate: int
    blocksize: int
    lookahead_blocks: int
    latency: dict[str, float]  # device_s, block_s, lookahead_s, model_frame_s, total_s
    decode_ms: dict[str, float]
    model: str
    model_timing: ModelTiming
    scene: str
    callback: str
    decoder_priority: str
    input_frames_encoded: int
    osc: dict[str, int]  # messages, errors, dropped, subscribers (all 0 without OSC)
    device: dict[str, object]  # state, outages, outage_seconds, last_error
    analysis: dict[str, object]
    midi: dict[str, object] | None = None
    visuals: dict[str, object] | None = None
    recording: dict[str, object] | None = None
    errors: list[str] = field(default_factory=list)
    lookahead: dict[str, object] | None = None  # the adaptive lookahead: now, bounds, history of changes
    meters: dict[str, float] = field(default_factory=dict)  # MasterMeters: peaks, loudness, reduction
    live_models: dict[str, object] | None = None  # model B, live references, table changes (live_models.py)
    tempo: dict[str, object] = field(default_factory=dict)  # the beat grid, launches, Link (session/beat_status.py)
    visual_remote: list[dict[str, object]] | None = None  # one per remote visual node (remote/sender.py)

    @property
    def device_ok(self) -> bool:
        return self.device.get("state") == "playing"

    def report(self) -> dict[str, object]:
        """The `--report` JSON."""
        timing = self.model_timing
        return {
            "callbacks": self.callbacks,
            "expected_callbacks": self.expected_callbacks,
            "underruns": self.underruns,
            "input_overflows": self.input_overflows,
            "blocksize": self.blocksize,
            "samplerate": self.samplerate,
            "lookahead_blocks": self.lookahead_blocks,
            "decode_ms": self.decode_ms,
            "model_decode_ms_at_load": {"median": round(timing.decode_ms_median, 3),
                                        "max": round(timing.decode_ms_max, 3),
                                        "realtime_factor": round(timing.realtime_factor, 4)},
            "decode_setting": {"frames_per_call": timing.frames_per_call, "threads": timing.threads,
                               "note": timing.note, "tried": [c.as_dict() for c in timing.tried]},
            "lookahead": self.lookahead,
            "cpu_load": round(self.cpu_load_mean, 4),
            "latency": self.latency["total_s"],
            "latency_breakdown": self.latency,
            "nn_tilde_default_latency_s": round(2 * 4096 / self.samplerate, 5),
            "decoder_priority": self.decoder_priority,
            "callback": self.callback,
            "model": self.model,
            "scene": self.scene,
            "seconds": round(self.seconds, 3),
            "input_frames_encoded": self.input_frames_encoded,
            "device": self.device,
            "osc": self.osc,
            "errors": self.errors,
            "midi": self.midi,
            "analysis": self.analysis,
            "visuals": self.visuals,
            "recording": self.recording,
            "meters": {k: round(v, 2) for k, v in self.meters.items()},
            "live_models": self.live_models,
            "tempo": self.tempo,
            "visual_remote": self.visual_remote,
        }

    def osc_reply(self) -> list[object]:
        """`/engine/status/reply` arguments, in the order engine/control/osc_server.py lists; the first
        seven are also what a server without a session replies. The visual process's frames and restarts
        come next (0 without visuals): a console derives the visual frame rate from the frames. Then the
        beat: Link peers (-1 without --link), the bar phase (0..1) and the tempo. Last, the visual
        window: -1 none (or not open yet), 0 windowed, 1 full screen."""
        visuals = self.visuals or {}
        link = self.tempo.get("link")
        peers = int(link["peers"]) if isinstance(link, dict) else -1
        return [float(self.cpu_load), self.underruns, self.samplerate, self.osc["messages"], self.osc["errors"],
                self.osc["dropped"], self.osc["subscribers"], round(self.latency["total_s"] * 1000, 2),
                int(self.device_ok), int(self.device.get("outages", 0)), self.model, self.scene,
                int(visuals.get("frames", 0)), int(visuals.get("restarts", 0)),
                peers, float(self.tempo.get("phase", 0.0)), float(self.tempo.get("bpm", 0.0)),
                int(visuals.get("window", -1))]


class StatusLine:
    """A transient rich line on the terminal, redrawn from each snapshot it is given."""

    def __init__(self, enabled: bool) -> None:
        self._live = Live(Text(""), console=Console(stderr=True), refresh_per_second=4, transient=True) \
            if enabled else None

    @staticmethod
    def render(status: SessionStatus) -> Text:
        style = "bold red" if status.underruns else "green"
        line = Text.assemble(
            ("CPU ", "dim"), f"{status.cpu_load * 100:4.1f}%  ",
            ("underruns ", "dim"), (str(status.underruns), style), "  ",
            ("latency ", "dim"), f"{status.latency['total_s'] * 1000:.1f} ms  ",
            ("model ", "dim"), status.model, "  ",
            ("scene ", "dim"), status.scene,
        )
        if status.meters:
            m = status.meters
            over = m["max_true_peak_db"] > -0.1
            line.append_text(Text.assemble(
                "  ", ("TP ", "dim"), (f"{m['true_peak_db']:.1f}", "bold red" if over else ""),
                ("  ST ", "dim"), f"{m['short_term_lufs']:.1f}", ("  I ", "dim"), f"{m['integrated_lufs']:.1f} LUFS",
                ("  GR ", "dim"), f"{m['gain_reduction_db']:.1f} dB"))
        lookahead = status.lookahead or {}
        if lookahead.get("host_stalls"):  # a virtual machine's host took CPUs away: why the latency grew
            line.append_text(Text.assemble(("  host stalls ", "dim"), str(lookahead["host_stalls"]),
                                           (f" (longest {lookahead.get('longest_host_stall_ms')} ms)", "dim")))
        if not status.device_ok:
            line.append(f"  AUDIO DEVICE {str(status.device.get('state')).upper()}: "
                        f"{status.device.get('last_error') or ''}", style="bold red")
        elif status.errors:
            line.append(f"  {status.errors[-1]}", style="yellow")
        return line

    def update(self, status: SessionStatus) -> None:
        if self._live is not None:
            self._live.update(self.render(status))

    def __enter__(self) -> StatusLine:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
