"""The session's visual side: the visual process (with its spare), the generator the performer
asks for, the frame window and the MP4 recording of frames with the session's own audio."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.params.store import ParamStore
from engine.visual.frame_buffer import newest_reader
from engine.visual.host import VisualHost
from engine.visual.live_recorder import LiveRecorder
from engine.visual.outputs.fanout import FrameFanout
from engine.visual.process_main import VisualConfig


class SessionVisuals:
    def __init__(self, store: ParamStore, *, generator: str, theme: str, size: tuple[int, int], seed: int,
                 options: dict[str, dict[str, Any]], spare: bool, on_error: Callable[[str], None]) -> None:
        self.store = store
        self.options = options
        width, height = size
        store.set("/visual/generator", generator)
        if theme:
            store.set("/visual/theme", theme)
        self._requested = generator
        self.host = VisualHost(VisualConfig(generator=generator, width=width, height=height, seed=seed,
                                            theme=theme, generator_options=self._options_for(generator)),
                               spare=spare, on_error=on_error)
        self.recorder: LiveRecorder | None = None
        self.outputs: FrameFanout | None = None  # NDI, virtual camera (engine/session/video_outputs.py)
        self._stats: dict[str, object] | None = None  # kept from stop() for the report

    window: object | None = None  # the VisualWindow while run_window runs (typed loosely: no Qt import here)
    # What the status reports: -1 no window, 0 windowed, 1 full screen. Written on the main thread,
    # read by the OSC thread (a plain int: no Qt call off the GUI thread).
    window_state: int = -1

    def start(self) -> None:
        self.host.start()

    def record(self, path: Path, *, samplerate: int, channels: int, start_seconds: float) -> LiveRecorder:
        """An MP4 recorder for the frames; the caller hands it the audio blocks (`push_audio`)."""
        self.recorder = LiveRecorder(path, self.host.frames, samplerate=samplerate, channels=channels,
                                     fps=float(self.store.get("/visual/fps")), start_seconds=start_seconds)
        return self.recorder

    def _options_for(self, generator: str) -> dict[str, Any]:
        return dict(self.options.get(generator, {}))

    def follow_generator(self) -> None:
        """`/visual/generator` changes restart the visual process on the other generator; if that one
        cannot start, the host stays on the old one and the parameter goes back to say so."""
        wanted = str(self.store.get("/visual/generator"))
        if wanted != self._requested:
            self._requested = wanted
            self.host.switch_generator(wanted, self._options_for(wanted))
        elif not self.host.switching and self.host.config.generator != wanted:
            self._requested = self.host.config.generator
            self.store.set("/visual/generator", self.host.config.generator)

    def run_window(self, *, screen: int | None, fullscreen: bool, seconds: float | None,
                   tick: Callable[[], None], tick_seconds: float) -> None:
        """The frame window in the calling (main) thread; Qt's event loop calls `tick`."""
        from engine.visual.window import run_window

        def keep(window: object) -> None:
            self.window = window
            self.window_state = int(fullscreen)

        try:
            run_window(newest_reader(self.host.frames), screen=screen, fullscreen=fullscreen, seconds=seconds,
                       tick=tick, tick_seconds=tick_seconds, on_window=keep)
        finally:
            self.window, self.window_state = None, -1

    def toggle_fullscreen(self) -> None:
        """From the main thread (the session's tick, inside the window's event loop)."""
        if self.window is not None:
            self.window.toggle_fullscreen()  # type: ignore[attr-defined]
            self.window_state = int(self.window.isFullScreen())  # type: ignore[attr-defined]

    def stats(self) -> dict[str, object]:
        if self._stats is not None:
            return self._stats
        return {**self.host.stats(), "outputs": self.outputs.stats() if self.outputs is not None else [],
                "window": self.window_state}

    def stop(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()
        if self.outputs is not None:
            self.outputs.stop()  # before the frame buffer closes under it
        self._stats = self.stats()
        self.host.stop()

