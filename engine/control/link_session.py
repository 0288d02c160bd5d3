"""Ableton Link (`live --link`): the engine joins the session's tempo, beat and start/stop.

Through LinkPython-extern (import name `link`: Ableton's Link library inside the wheel), whose session
state reads the beat and phase at any host time and sets the tempo at one. Its discovery finds peers
in other processes and on other hosts of the network.

One thread, at 100 Hz, and nothing else touches Link: the audio callback and the render thread never
call into it. Each round it
- follows: a tempo or start/stop change from the session is written to `/tempo/bpm` /
  `/transport/play`;
- leads: a change of either parameter made here (OSC, MIDI, console, tap) is committed to the session;
- publishes Link's timeline mapped onto the render timeline, as one immutable `GridPoint` swapped in by
  reference (`timeline()`): the render thread's beat grid reads it without a lock. The map is the offset
  between Link's host clock and the render time now being heard (`audio_time`), smoothed, since the
  audio clock moves in device blocks.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from engine.errors import EngineError
from engine.params.store import ParamStore
from engine.render.beat_grid import BEATS_PER_BAR, GridPoint

log = logging.getLogger(__name__)

POLL_SECONDS = 0.01
OFFSET_SMOOTHING = 0.04  # per round: a time constant of 0.25 s on the block-quantised audio clock
OFFSET_RESET_SECONDS = 0.05  # a jump this large (a device restart): take the new offset at once
MIN_TEMPO_CHANGE = 1e-6
LINK_MISSING = "--link needs Ableton Link's Python binding: pip install LinkPython-extern (this package's link extra)"


def load_link() -> ModuleType:
    """The binding's module; EngineError with one line saying how to install it when it is absent."""
    try:
        import link
    except ImportError:
        raise EngineError(LINK_MISSING) from None
    return link


@dataclass(frozen=True)
class LinkStatus:
    peers: int
    bpm: float
    beat: float
    phase: float  # where in the bar (0..1, quantum 4) the session is now
    playing: bool
    offset_ms: float  # Link's host clock minus the render time heard now

    def report(self) -> dict[str, object]:
        return {"peers": self.peers, "bpm": round(self.bpm, 3), "beat": round(self.beat, 3),
                "phase": round(self.phase, 4), "playing": self.playing, "offset_ms": round(self.offset_ms, 3)}


class LinkSession(threading.Thread):
    def __init__(self, store: ParamStore, audio_time: Callable[[float], float]) -> None:
        """`audio_time(wall)`: the render seconds heard at wall-clock time `wall` (time.time())."""
        super().__init__(name="ableton-link", daemon=True)
        module = load_link()
        self.store = store
        self._audio_time = audio_time
        self.link = module.Link(float(store.get("/tempo/bpm")))
        self.link.enabled = True
        self.link.startStopSyncEnabled = True
        self._halt = threading.Event()
        self._offset: float | None = None  # host seconds - render seconds heard
        self._point: GridPoint | None = None
        self._bpm_seen = float(store.get("/tempo/bpm"))
        self._link_bpm_seen: float | None = None
        self._play_seen = bool(store.get("/transport/play"))
        self._link_play_seen: bool | None = None
        self.status = LinkStatus(0, self._bpm_seen, 0.0, 0.0, self._play_seen, 0.0)
        self.followed = 0  # tempo or transport changes taken from the session
        self.led = 0  # changes made here and committed to it
        self.errors = 0

    # --- what other threads read --------------------------------------------------------
    def timeline(self) -> GridPoint | None:
        """Link's beat on render seconds (the beat grid's `external`): None until the first round."""
        return self._point

    def host_seconds(self) -> float:
        return self.link.clock().micros() / 1e6

    def beat_at_host(self, host_seconds: float) -> float | None:
        """The session's beat at a time of Link's host clock (MIDI clock out schedules on it)."""
        point, offset = self._point, self._offset
        return None if point is None or offset is None else point.beat_at(host_seconds - offset)

    # --- the thread ---------------------------------------------------------------------
    def stop(self) -> None:
        self._halt.set()

    def close(self) -> None:
        self.stop()
        if self.is_alive():
            self.join(timeout=2)
        self.link.enabled = False

    def run(self) -> None:
        while not self._halt.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:  # a bad round must not end the set's sync
                self.errors += 1
                if self.errors == 1:
                    log.exception("Ableton Link")

    def poll(self) -> None:
        wall, host = time.time(), self.host_seconds()
        self._track_offset(host - self._audio_time(wall))
        micros = round(host * 1e6)
        state = self.link.captureAppSessionState()
        self._sync_tempo(state, micros)
        self._sync_transport(state, micros)
        tempo = state.tempo()
        beat = state.beatAtTime(micros, BEATS_PER_BAR)
        assert self._offset is not None
        self._point = GridPoint(host - self._offset, beat, tempo)
        self.status = LinkStatus(self.link.numPeers(), tempo, beat, state.phaseAtTime(micros, BEATS_PER_BAR)
                                 / BEATS_PER_BAR, state.isPlaying(), self._offset * 1000.0)

    def _track_offset(self, sample: float) -> None:
        if self._offset is None or abs(sample - self._offset) > OFFSET_RESET_SECONDS or not math.isfinite(self._offset):
            self._offset = sample
        else:
            self._offset += OFFSET_SMOOTHING * (sample - self._offset)

    def _sync_tempo(self, state: object, micros: int) -> None:
        bpm = float(self.store.get("/tempo/bpm"))
        session_bpm = float(state.tempo())  # type: ignore[attr-defined]
        if abs(bpm - self._bpm_seen) > MIN_TEMPO_CHANGE:  # changed here: lead
            state.setTempo(bpm, micros)  # type: ignore[attr-defined]
            self.link.commitAppSessionState(state)
            self._bpm_seen, self._link_bpm_seen = bpm, bpm
            self.led += 1
        elif self._link_bpm_seen is None or abs(session_bpm - self._link_bpm_seen) > MIN_TEMPO_CHANGE:
            self._link_bpm_seen = session_bpm  # changed in the session (or first seen): follow
            self._bpm_seen = float(self.store.set("/tempo/bpm", session_bpm))
            self.followed += 1

    def _sync_transport(self, state: object, micros: int) -> None:
        play = bool(self.store.get("/transport/play"))
        session_play = bool(state.isPlaying())  # type: ignore[attr-defined]
        if play != self._play_seen:  # started or stopped here: on the next bar line of the session
            state.setIsPlayingAndRequestBeatAtTime(play, micros, 0.0, float(BEATS_PER_BAR))  # type: ignore[attr-defined]
            self.link.commitAppSessionState(state)
            self._play_seen = self._link_play_seen = play
            self.led += 1
        elif self._link_play_seen is None:
            self._link_play_seen = session_play  # joining: the session's transport is whatever it is
        elif session_play != self._link_play_seen:
            self._link_play_seen = session_play
            self._play_seen = bool(self.store.set("/transport/play", session_play))
            self.followed += 1
