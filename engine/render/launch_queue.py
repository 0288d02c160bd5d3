"""Quantised launches: scene, slot, theme, model and reference changes held until a line of the beat grid.

Any thread adds a `Launch` (a deque append); the render thread calls `release` once per latent frame,
from the timeline, before the frame's parameter snapshot is taken. A launch lands on the frame whose
start is nearest its grid line (at most half a latent frame away), so it is sample-accurate on the render
timeline to the frame, the same offline and live. Its target is the first grid line at or after the
moment it was asked for (`earliest`: the render time then being heard, live); a line the render thread
has already passed (it renders a lookahead ahead of the speaker) moves it to the next one.

What the visuals show is published when its audio is heard (engine/session/feed.py), so a launch's
visual part (`heard`: a theme switch) is queued with its grid time and run by the feed when the audio
clock reaches it; without a feed (offline) it runs with the audio part.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import ParamError
from engine.render.beat_grid import GridPoint, next_boundary

MAX_PENDING = 64  # launches waiting at once: anything a client can make the engine hold is bounded
LANDED_KEPT = 64


@dataclass
class Launch:
    label: str  # e.g. "scene:Intense", for status and benchmarks
    quantum_beats: float
    earliest: float  # render seconds: the launch may not land before this
    audio: Callable[[float], None] | None = None  # on the render thread, with the frame's time
    heard: Callable[[], None] | None = None  # when the landing frame is heard (visuals)
    target_beat: float | None = field(default=None)


@dataclass(frozen=True)
class Landed:
    label: str
    beat: float  # the grid line it was meant for
    seconds: float  # render time of the frame it landed on
    grid_seconds: float  # render time of the grid line itself


class LaunchQueue:
    def __init__(self) -> None:
        self._incoming: deque[Launch] = deque()
        self._pending: list[Launch] = []
        self._heard: deque[tuple[float, Callable[[], None]]] = deque()
        self.defer_visuals = False  # a live session with a feed: visual parts wait until heard
        self.landed: deque[Landed] = deque(maxlen=LANDED_KEPT)
        self.launched = 0

    def add(self, launch: Launch) -> None:
        """Any thread. ParamError when MAX_PENDING launches already wait."""
        if len(self._incoming) + len(self._pending) >= MAX_PENDING:
            raise ParamError(f"{launch.label}: {MAX_PENDING} quantised launches already wait for the grid")
        self._incoming.append(launch)

    @property
    def pending(self) -> int:
        return len(self._incoming) + len(self._pending)

    def release(self, point: GridPoint, frame_seconds: float) -> None:
        """Render thread, once per frame at `point` (the frame's start): run what lands on this frame."""
        while self._incoming:
            self._pending.append(self._incoming.popleft())
        if not self._pending:
            return
        half = 0.5 * frame_seconds * point.bpm / 60.0  # half a frame, in beats
        due: list[Launch] = []
        for launch in self._pending:
            if launch.target_beat is None:
                launch.target_beat = next_boundary(point.beat_at(min(launch.earliest, point.seconds)),
                                                   launch.quantum_beats)
            while launch.target_beat < point.beat - half:  # its line was rendered already: the next one
                launch.target_beat += launch.quantum_beats
            if point.beat + half >= launch.target_beat:
                due.append(launch)
        for launch in due:
            self._pending.remove(launch)
            assert launch.target_beat is not None
            self._land(launch, point, point.seconds_at(launch.target_beat))

    def _land(self, launch: Launch, point: GridPoint, grid_seconds: float) -> None:
        if launch.audio is not None:
            launch.audio(point.seconds)
        if launch.heard is not None:
            if self.defer_visuals:
                self._heard.append((point.seconds, launch.heard))
            else:
                launch.heard()
        self.launched += 1
        self.landed.append(Landed(launch.label, float(launch.target_beat or 0.0), point.seconds, grid_seconds))

    def run_heard(self, heard_seconds: float) -> int:
        """The feed thread: run the visual parts whose frame the audio clock has reached; how many."""
        n = 0
        while self._heard and self._heard[0][0] <= heard_seconds:
            _, action = self._heard.popleft()
            action()
            n += 1
        return n
