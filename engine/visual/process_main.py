"""The visual process's main loop (spawned by `VisualHost`; never imported by the audio path).

Per frame: take a consistent copy of the engine's shared state, let the theme mapper turn
features, latents and parameters into a `VisualFrame`, render it, write it to the triple buffer,
beat the heart, and sleep to the next frame tick. A spare waits fully loaded (torch imported,
generator built and warmed up) until it is told to go, so taking over from a crashed process is
a matter of milliseconds, not an import of torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from multiprocessing import parent_process
from multiprocessing.queues import SimpleQueue
from multiprocessing.synchronize import Event
from typing import Any

log = logging.getLogger("engine.visual")

GO_POLL_SECONDS = 0.02
ALIVE_SECONDS = 0.1  # heartbeat while waiting for the next frame tick


@dataclass
class VisualConfig:
    """Everything a visual process needs to start; picklable (it crosses the spawn once). No defaults
    for what the session decides, and no engine import at module level: the spawned process imports
    this module before it lowers its priority."""

    generator: str
    width: int
    height: int
    theme: str
    seed: int = 0
    generator_options: dict[str, Any] = field(default_factory=dict)
    threads: int = 1  # torch threads: on a small machine the other cores belong to the audio
    nice: int = 5  # below the engine: the audio decoder wins every contest for a core


def visual_main(config: VisualConfig, state_name: str, frames_name: str, go: Event, ready: Event,
                stop: Event, errors: SimpleQueue) -> None:
    """Run until stopped; a generator that cannot start says why on `errors` and the process exits 3."""
    try:
        _run(config, state_name, frames_name, go, ready, stop)
    except Exception as exc:
        if ready.is_set():
            raise  # a crash mid-run: the watchdog restarts from the spare
        errors.put(f"visual generator {config.generator!r} could not start: {exc}")
        sys.exit(3)


def _run(config: VisualConfig, state_name: str, frames_name: str, go: Event, ready: Event, stop: Event) -> None:
    with contextlib.suppress(OSError):
        os.nice(config.nice)
    import torch

    from engine.errors import EngineError
    from engine.visual.frame_buffer import FrameBuffer
    from engine.visual.frame_input import VisualFrame
    from engine.visual.generators.base import create_generator
    from engine.visual.shared_state import SharedState
    from engine.visual.theme_mapper import ThemeMapper
    from engine.visual.themes import load_theme

    torch.set_num_threads(config.threads)
    state = SharedState.attach(state_name)
    frames = FrameBuffer.attach(frames_name)
    generator = create_generator(config.generator, config.width, config.height, seed=config.seed,
                                 options=config.generator_options)
    warm_started = time.monotonic()
    generator.render(VisualFrame(latent=torch.zeros(0).numpy()))  # warm-up: the first real frame is on time
    warm_ms = (time.monotonic() - warm_started) * 1000.0
    parent = parent_process()
    ready.set()
    while not go.wait(GO_POLL_SECONDS):  # the spare: loaded, waiting to take over
        if stop.is_set() or (parent is not None and not parent.is_alive()):
            return
    state.beat(state.visual_frames, warm_ms, os.getpid())  # tells the watchdog how slow a frame may be
    first = state.read()
    params = first.params if first else {}
    try:
        theme = load_theme(str(params.get("/visual/theme", config.theme)))
    except EngineError as exc:  # a bad theme name must not become a crash loop: start on the default
        log.error("%s; starting with theme %s", exc, config.theme)
        theme = load_theme(config.theme)
    mapper = ThemeMapper(theme, fps=_fps(params), seed=config.seed)
    beats = first.beats if first else 0
    onsets = first.onsets if first else 0
    index = state.visual_frames  # carry on the count of a process this one replaces: indices never repeat
    next_tick = time.monotonic()
    while not stop.is_set():
        if parent is not None and not parent.is_alive():
            return
        started = time.monotonic()
        snapshot = state.read()
        if snapshot is not None:
            if _fps(snapshot.params) != mapper.fps:  # smoothing and transitions are counted in frames
                mapper = ThemeMapper(mapper.theme, fps=_fps(snapshot.params), seed=config.seed)
            frame = mapper.frame(index, snapshot.time, snapshot.features, snapshot.latent, snapshot.params,
                                 beats=snapshot.beats - beats, onsets=snapshot.onsets - onsets)
            beats, onsets = snapshot.beats, snapshot.onsets
            frames.write(generator.render(frame), index, snapshot.time)
            index += 1
            state.beat(index, (time.monotonic() - started) * 1000.0, os.getpid())
            interval = 1.0 / _fps(snapshot.params)
        else:
            interval = GO_POLL_SECONDS
        next_tick = max(next_tick + interval, time.monotonic())  # late: start again from now, no burst
        while (left := next_tick - time.monotonic()) > 0:  # a slow frame rate is not a hang: stay alive
            time.sleep(min(left, ALIVE_SECONDS))
            state.touch()


def _fps(params: dict[str, object]) -> float:
    value = params.get("/visual/fps", 30.0)
    return float(value) if isinstance(value, int | float) and value > 0 else 30.0
