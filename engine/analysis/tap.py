"""The analysis tap inside the render graph: features of what the engine plays (and/or hears), stamped
with the timeline time at which that audio is heard.

It runs where the audio is made (the decoder thread, or offline render), so features that modulate
audio parameters are the same offline and live. The rows queue up in `pending` with their time
stamps; the live session's feed (engine/session/feed.py) publishes each when the audio clock reaches
it, which keeps the visuals in step with the speaker although the audio is rendered ahead.

The analysis costs more per frame than the rest of the graph together, so it runs only while
something consumes it: a modulation slot (the graph checks), or a reader outside the graph (the
visuals, OSC feature subscribers), which says so with `wanted`. Turned on again later, it starts
afresh at the timeline time of the audio it is given, so its stamps stay on the timeline.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from engine.analysis.analyzer import AudioAnalyzer
from engine.analysis.features import INDEX, empty

PENDING_ROWS = 1024  # about 12 s of rows: far more than any lookahead
_FLAGS = np.array([INDEX["onset"], INDEX["beat"]])  # the order of _input_events
_BEAT_CLOCK = np.array([INDEX["beat_phase"], INDEX["bpm"], INDEX["beat_confidence"]])
_CONFIDENCE = INDEX["beat_confidence"]
_BEAT, _ONSET = INDEX["beat"], INDEX["onset"]
ONSET_GAP_ROWS = 4  # about 50 ms: closer onsets from the two sources are one sound


class AnalysisTap:
    def __init__(self, samplerate: int) -> None:
        self.samplerate = samplerate
        # Set (from any thread) while something outside the graph reads the rows.
        self.wanted = False
        self.running = False
        self.start_seconds = 0.0  # timeline time of the output analyzer's first sample
        self._output = AudioAnalyzer(samplerate)
        self._input: AudioAnalyzer | None = None
        self._input_row = empty()
        self._input_events = np.zeros(len(_FLAGS), dtype=np.float32)  # (onset, beat) not yet merged
        self._rows_since_onset = ONSET_GAP_ROWS + 1
        # Input is captured this long before the graph's clock (the live lookahead): stamps subtract it.
        self.input_offset_seconds = 0.0
        self.latest = empty()  # the newest row, whatever the source: the modulation bank reads it
        self.pending: deque[tuple[float, np.ndarray]] = deque(maxlen=PENDING_ROWS)

    @property
    def spectrum(self) -> np.ndarray:
        """The output's newest mel bands (AudioAnalyzer.mel_bands); zeros while the tap is paused."""
        return self._output.mel_bands

    def push_output(self, audio: np.ndarray, source: str, seconds: float) -> None:
        """Audio the graph just rendered, at the output rate (frames, channels), starting at `seconds` on
        the timeline. Only the first push after a pause reads `seconds`: from there on the analyzer
        counts samples, as the resampler's blocks vary in size."""
        if not self.running:
            self._start(seconds)
        rows = self._output.process(audio)
        if source == "input":
            return  # the output analyzer keeps running, so its clock stays the timeline's clock
        hop_seconds = self._output.hop / self.samplerate
        first = self._output.frames - rows.shape[0]
        for k, row in enumerate(rows):
            if source == "both":
                row = self._merge(row)
            self._emit(self.start_seconds + (first + k + 1) * hop_seconds, row)

    def push_input(self, block: np.ndarray, source: str, now_seconds: float) -> None:
        """Live input at the output rate; heard now, so stamped with the graph's current time."""
        if source == "output" or not self.running:
            return
        if self._input is None:
            self._input = AudioAnalyzer(self.samplerate)
        for row in self._input.process(block):
            self._input_row = row
            self._input_events = np.maximum(self._input_events, row[_FLAGS])  # held until merged once
            if source == "input":
                self._emit(now_seconds - self.input_offset_seconds, row)

    def pause(self) -> None:
        """Nothing consumes the rows: stop analysing until the next `push_output`."""
        if self.running:
            self.running = False
            self.latest = empty()  # a modulation turned on later starts from silence, not a stale row

    def _start(self, seconds: float) -> None:
        # Afresh: a beat tracker or onset history from before the pause would be wrong about the present.
        self._output.reset()
        self._input = None
        self._input_row = empty()
        self._input_events[:] = 0.0
        self._rows_since_onset = ONSET_GAP_ROWS + 1
        self.start_seconds = seconds
        self.running = True

    def _emit(self, seconds: float, row: np.ndarray) -> None:
        self.latest = row
        self.pending.append((seconds, row))

    def _merge(self, row: np.ndarray) -> np.ndarray:
        """Both sources: levels from whichever is stronger; beats and the beat clock from the more
        confident tracker; an onset from either, but one sound heard twice (the input playing through the
        output) counts once, and each input event is used once (its rows arrive in other bursts)."""
        out = np.maximum(row, self._input_row)
        beat_from_input = self._input_row[_CONFIDENCE] > row[_CONFIDENCE]
        source = self._input_row if beat_from_input else row
        out[_BEAT_CLOCK] = source[_BEAT_CLOCK]
        out[_BEAT] = self._input_events[1] if beat_from_input else row[_BEAT]
        onset = max(float(row[_ONSET]), float(self._input_events[0]))
        self._rows_since_onset += 1
        out[_ONSET] = 1.0 if onset > 0.5 and self._rows_since_onset > ONSET_GAP_ROWS else 0.0
        if out[_ONSET] > 0.5:
            self._rows_since_onset = 0
        self._input_events[:] = 0.0
        return out
