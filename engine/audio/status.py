"""The one-line terminal status (rich): CPU load, underruns, latency, model, scene."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:
    from engine.audio.live import LiveEngine


class StatusLine:
    def __init__(self, engine: LiveEngine, enabled: bool) -> None:
        self.engine = engine
        self._live = Live(Text(""), console=Console(stderr=True), refresh_per_second=4, transient=True) \
            if enabled else None

    def render(self) -> Text:
        e = self.engine
        latency_ms = e.latency_breakdown()["total_s"] * 1000
        underruns = e.output.underruns
        style = "bold red" if underruns else "green"
        line = Text.assemble(
            ("CPU ", "dim"), f"{e.output.cpu_load * 100:4.1f}%  ",
            ("underruns ", "dim"), (str(underruns), style), "  ",
            ("latency ", "dim"), f"{latency_ms:.1f} ms  ",
            ("model ", "dim"), e.model_name, "  ",
            ("scene ", "dim"), e.hub.scene,
        )
        if e.errors:
            line.append(f"  {e.errors[-1]}", style="yellow")
        return line

    def update(self) -> None:
        if self._live is not None:
            self._live.update(self.render())

    def __enter__(self) -> StatusLine:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
