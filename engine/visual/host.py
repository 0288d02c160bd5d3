"""The engine's side of the visual process: shared memory, spawning, and a watchdog with a hot spare.

The visual process is spawned, never forked (torch and Qt do not survive a fork of a threaded
process). A second, spare process is kept loaded and waiting. The watchdog looks every 50 ms: if
the active process has died, or its heartbeat is older than `hang_seconds`, it is killed, the spare
is told to go (it takes over within a frame or two), and a new spare is spawned in the background.
None of this touches the audio threads: the visual processes run at a lower priority, and what
they are shown reaches shared memory from the session's feed thread (`publish`), never from the
decoder or the device callback.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np

from engine.visual.frame_buffer import FrameBuffer
from engine.visual.process_main import VisualConfig, visual_main
from engine.visual.shared_state import SharedState

log = logging.getLogger(__name__)

WATCH_SECONDS = 0.05
MAX_START_FAILURES = 3  # in a row, of the configured generator: then stop trying (the audio plays on)
START_TIMEOUT_SECONDS = 120.0  # a diffusion pipeline can take this long to load


@dataclass
class _Worker:
    process: BaseProcess
    go: Any  # multiprocessing Event
    ready: Any
    started_at: float
    armed_at: float | None = None  # when it was first seen loaded and told to go: its hang clock starts


@dataclass
class Restart:
    reason: str  # "exited (code N)", "hung (no frame for S s)" or "did not start in S s"
    detected_at: float  # time.monotonic()
    recovered_seconds: float | None = None  # detection to the new process's first frame


class VisualHost:
    def __init__(self, config: VisualConfig, *, spare: bool = True, hang_seconds: float = 1.0,
                 on_error: Callable[[str], None] | None = None) -> None:
        """`on_error` (called on the watchdog thread): a generator that could not start, and why."""
        self.config = config
        self.use_spare = spare
        self.hang_seconds = hang_seconds
        self._ctx = mp.get_context("spawn")
        self.state = SharedState.create()
        self.frames = FrameBuffer.create(config.width, config.height)
        self._stop = self._ctx.Event()
        self._error_queue = self._ctx.SimpleQueue()
        self.on_error = on_error
        self._previous_config = config
        self._start_failures = 0
        self.gave_up = False
        self.active: _Worker | None = None
        self.spare: _Worker | None = None
        self.restarts: list[Restart] = []
        self.errors: list[str] = []
        self._halt = threading.Event()
        self._watch = threading.Thread(target=self._watch_loop, name="visual-watchdog", daemon=True)
        self._switching = False
        self._lock = threading.Lock()  # watchdog vs. generator switch; never taken by audio threads

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> VisualHost:
        self.active = self._spawn(go=True)
        if self.use_spare:
            self.spare = self._spawn(go=False)
        self._watch.start()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> bool:
        """Block until the active process has shown a frame (tests, offline tools)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.frames.latest_index >= 0 and self.state.heartbeat_age() < self.hang_seconds:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        self._halt.set()
        self._stop.set()
        if self._watch.is_alive():
            self._watch.join(timeout=2)
        for worker in (self.active, self.spare):
            if worker is not None:
                worker.go.set()
                worker.process.join(timeout=3)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join(timeout=2)
        self.state.close()
        self.frames.close()

    def publish(self, time_seconds: float, features: np.ndarray, beats: int, onsets: int, latent: np.ndarray,
                params: dict[str, object] | None = None, controls: np.ndarray | None = None) -> None:
        self.state.publish(time_seconds, features, beats, onsets, latent, params, controls)

    def switch_generator(self, name: str, options: dict[str, Any] | None = None) -> None:
        """Restart on another generator: the old one keeps showing until the new one is loaded."""
        with self._lock:
            self.gave_up, self._start_failures = False, 0  # a new generator gets its own chances
            self._previous_config = self.config
            self.config = VisualConfig(**{**self.config.__dict__, "generator": name,
                                          "generator_options": options or {}})
            old_spare, self.spare = self.spare, self._spawn(go=False)
            self._switching = True
        if old_spare is not None:
            self._kill(old_spare)

    @property
    def switching(self) -> bool:
        return self._switching

    def stats(self) -> dict[str, object]:
        return {"frames": self.state.visual_frames, "render_ms": round(self.state.render_ms, 2),
                "pid": self.state.visual_pid, "restarts": len(self.restarts),
                "recovered_seconds": [r.recovered_seconds for r in self.restarts],
                "generator": self.config.generator, "reader_retries": self.frames.retries,
                "errors": list(self.errors), "gave_up": self.gave_up}

    # --- processes -----------------------------------------------------------------------
    def _spawn(self, go: bool) -> _Worker:
        worker = _Worker(process=None, go=self._ctx.Event(), ready=self._ctx.Event(),  # type: ignore[arg-type]
                         started_at=time.monotonic())
        if go:
            worker.go.set()
        worker.process = self._ctx.Process(
            target=visual_main, name=f"visual-{self.config.generator}", daemon=True,
            args=(self.config, self.state.name, self.frames.name, worker.go, worker.ready, self._stop,
                  self._error_queue))
        worker.process.start()
        return worker

    @staticmethod
    def _kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=2)

    def _watch_loop(self) -> None:
        pending: Restart | None = None
        while not self._halt.wait(WATCH_SECONDS):
            try:
                pending = self._watch_once(pending)
            except Exception as exc:  # the watchdog must outlive any surprise (a failed spawn, say)
                log.exception("visual watchdog")
                self._report(f"visual watchdog: {exc}")

    def _watch_once(self, pending: Restart | None) -> Restart | None:
        """One look; returns the restart still waiting for its first frame, if any."""
        with self._lock:
            self._drain_errors()
            if self.gave_up:
                return pending
            active = self.active
            assert active is not None
            if pending is not None and self.state.heartbeat_age() < self._hang_limit():
                pending.recovered_seconds = time.monotonic() - pending.detected_at
                log.info("visual process recovered in %.2f s", pending.recovered_seconds)
                pending = None
                self._start_failures = 0
            if self._switching and self.spare is not None:
                if self.spare.ready.is_set():
                    self._switching = False  # the other generator has loaded: cut over to it
                    self._promote_spare()
                    return pending
                if not self.spare.process.is_alive():  # it could not start: stay on the old one
                    self._switching = False
                    self.config = self._previous_config
                    self.spare = self._spawn(go=False) if self.use_spare else None
                    return pending
            if (not self._switching and self.spare is not None and not self.spare.ready.is_set()
                    and not self.spare.process.is_alive()):
                self._start_failures += 1  # the spare died loading: try again, a few times
                self.spare = self._spawn(go=False) if self._start_failures < MAX_START_FAILURES else None
            reason = self._failure(active)
            if reason is None:
                return pending
            if not active.ready.is_set():
                self._start_failures += 1
                if self._start_failures >= MAX_START_FAILURES:
                    self.gave_up = True
                    self._report(f"visuals stopped: the {self.config.generator} generator failed to start "
                                 f"{self._start_failures} times")
                    return pending
            pending = Restart(reason, time.monotonic())
            self.restarts.append(pending)
            log.warning("visual process %s; restarting", reason)
            self._promote_spare()
            return pending

    def _hang_limit(self) -> float:
        """No heartbeat for this long is a hang: `hang_seconds`, or five frames of a slow generator."""
        return max(self.hang_seconds, 5.0 * self.state.render_ms / 1000.0)

    def _drain_errors(self) -> None:
        while not self._error_queue.empty():
            self._report(str(self._error_queue.get()))

    def _report(self, message: str) -> None:
        self.errors.append(message)
        log.error("%s", message)
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:
                log.exception("visual error listener failed")

    def _failure(self, worker: _Worker) -> str | None:
        if not worker.process.is_alive():
            return f"exited (code {worker.process.exitcode})"
        now = time.monotonic()
        if worker.ready.is_set() and worker.go.is_set():
            if worker.armed_at is None:
                worker.armed_at = now
            age = min(self.state.heartbeat_age(), now - worker.armed_at)
            if age > self._hang_limit():
                return f"hung (no frame for {age:.2f} s)"
        elif time.monotonic() - worker.started_at > START_TIMEOUT_SECONDS:
            return f"did not start in {START_TIMEOUT_SECONDS:.0f} s"
        return None

    def _promote_spare(self) -> None:
        """The spare takes over. The old writer is dead before the new one starts: never two writers."""
        old = self.active
        if old is not None:
            self._kill(old)
        self.frames.repair()  # the old writer may have died inside a slot
        self.state.clear_heartbeat()
        spare = self.spare
        if spare is not None and spare.process.is_alive():
            spare.go.set()
            spare.armed_at = time.monotonic()  # its hang clock starts now
            self.active = spare
        else:  # no spare (disabled, or it died too): start cold
            self.active = self._spawn(go=True)
        self.spare = self._spawn(go=False) if self.use_spare else None
