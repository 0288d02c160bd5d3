"""The session's feed to the visuals: analysis rows go out when their audio is heard, not when it is rendered.

The decoder renders tens of milliseconds ahead of the speaker. Each analysis row carries the
timeline time at which its audio plays; this thread (every 5 ms) takes the rows whose time the
audio clock has reached, counts beats and onsets, and hands the newest row, with the model's
latent for the frame now heard and (when they changed) the visual parameters, to the visual
process's shared memory and to OSC subscribers. Neither the audio callback nor the decoder waits
on it. Joined to Ableton Link, the rows' beat (beat, beat_phase, bpm, beat_confidence) is Link's, so the
visuals pulse on the band's beat rather than on what the tracker hears; and a quantised launch's visual
part (a theme switch) runs here when its beat is heard.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

import numpy as np

from engine.analysis.features import INDEX, empty
from engine.params.store import ParamStore
from engine.render.graph import RenderGraph

log = logging.getLogger(__name__)

FEED_SECONDS = 0.005
_BEAT, _BEAT_PHASE, _BPM, _CONFIDENCE = (INDEX[name] for name in ("beat", "beat_phase", "bpm", "beat_confidence"))
VISUAL_PREFIXES = ("/visual/", "/analysis/")


class FeatureFeed(threading.Thread):
    def __init__(self, graph: Callable[[], RenderGraph], store: ParamStore, audio_clock: Callable[[], float], *,
                 publish: Callable[..., None] | None = None, send_row: Callable[[np.ndarray], None] | None = None,
                 ahead: Callable[[], None] | None = None) -> None:
        """`audio_clock()`: the timeline seconds now reaching the speaker. `publish`: the visual host's.
        `send_row`: OSC feature subscribers. `ahead`: called first in each poll, while the rendered rows
        are still queued (a remote visual node gets them before they are due: visual_remote.py)."""
        super().__init__(name="feature-feed", daemon=True)
        self._graph = graph
        self._store = store
        self._clock = audio_clock
        self._publish = publish
        self._send_row = send_row
        self._ahead = ahead
        self._halt = threading.Event()
        self._version = -1
        self._sent_params: dict[str, object] | None = None
        self.errors = 0
        self.beats = 0
        self.onsets = 0
        self.rows = 0
        self.latest = empty()
        self.latest_time = 0.0
        self.latent = np.zeros(0)
        self.controls: np.ndarray | None = None  # VISUAL_MODULATED values of the frame now heard
        self._link_beat: float | None = None

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        while not self._halt.wait(FEED_SECONDS):
            try:
                self.poll()
            except Exception:  # a bad row or a vanished client must not end the feed for the night
                self.errors += 1
                if self.errors == 1:
                    log.exception("feature feed")

    def poll(self) -> int:
        """Publish every row now due; returns how many."""
        if self._ahead is not None:
            self._ahead()
        graph = self._graph()
        pending = graph.analysis.pending
        now = self._clock()
        grid = graph.timeline.grid
        linked = grid.linked
        due = 0
        while pending and pending[0][0] <= now:
            seconds, row = pending.popleft()
            if linked:
                row = self._on_link_beat(row, grid.beat_at(seconds), grid.point.bpm)
            self.beats += int(row[INDEX["beat"]] > 0.5)
            self.onsets += int(row[INDEX["onset"]] > 0.5)
            self.latest, self.latest_time = row, seconds
            if self._send_row is not None:
                self._send_row(row)
            due += 1
        latents = graph.latents_pending
        while latents and latents[0][0] <= now:
            _, self.latent, self.controls = latents.popleft()
        graph.timeline.launches.run_heard(now)  # a quantised launch's visual part, on the beat it is heard
        if due and self._publish is not None:
            snapshot = self._store.snapshot()
            params = None
            if snapshot.version != self._version:  # something changed: re-send only if it was ours
                self._version = snapshot.version
                visual = {a: v for a, v in snapshot.values.items() if a.startswith(VISUAL_PREFIXES)}
                if visual != self._sent_params:
                    params = self._sent_params = visual
            self._publish(self.latest_time, self.latest, self.beats, self.onsets, self.latent, params, self.controls)
        self.rows += due
        return due

    def _on_link_beat(self, row: np.ndarray, beat: float, bpm: float) -> np.ndarray:
        row = row.copy()
        row[_BEAT] = 1.0 if self._link_beat is not None and math.floor(beat) > math.floor(self._link_beat) else 0.0
        row[_BEAT_PHASE], row[_BPM], row[_CONFIDENCE] = beat % 1.0, bpm, 1.0
        self._link_beat = beat
        return row

