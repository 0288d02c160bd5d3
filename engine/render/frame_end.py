"""What every graph does to its sound at the output rate: the master stage, a last guard against
samples past full scale, and the analysis tap (only while something reads it).

A graph queues each rendered frame with its `FrameContext`; `finish` then hands it out in pieces.
The master stage runs once per frame, on the whole frame, when its first piece is asked for: run
per 256-sample block it cost 2.7 times the CPU (bench/RESULTS.md, "Render overhead"). Per piece,
only the controls after the model are read
(engine/render/post_controls.py): a trim turned *down* since the frame was mastered acts at once, on
the very next block, as a gain ramp after the limiter (a gain under 1 cannot lift a peak past the
ceiling); a trim turned up, and the loudness target, ceiling and levelling switch, act from the
next frame, where the limiter sees them. The live decoder finishes one output block at a time, just
before it enters the ring; offline render finishes the same pieces (`finish_frame`), so both
produce the same samples.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.analysis.tap import AnalysisTap
from engine.latent.feature_mod import FeatureModBank
from engine.master.stage import MasterStage
from engine.params.store import ParamStore, Snapshot
from engine.render.post_controls import CEILING, LOUDNESS, TRIM, PostControls

FINISH_BLOCK = 256  # offline render finishes in pieces of this many samples, as the live default block


@dataclass(frozen=True, slots=True)
class FrameContext:
    """What finishing a frame's samples needs from the moment it was rendered."""

    snapshot: Snapshot
    started: float  # timeline seconds of the frame's first sample
    post_offsets: np.ndarray  # LFO and feature modulation of the post-model controls (PostControls)
    target_offset_db: float  # energy's move of the loudness target
    release_db_per_s: float  # energy's limiter release


class FrameEnd:
    """Mixed into RenderGraph and EffectGraph, which set these attributes and implement `_render_next`."""

    store: ParamStore
    master: MasterStage
    mastered: bool
    analysis: AnalysisTap
    analysis_active: bool
    mods: FeatureModBank
    clipped_samples: int
    output_rate: int
    post: PostControls
    _ready: deque[tuple[np.ndarray, FrameContext]]
    # The frame being handed out, mastered whole, and what the pieces after its first need.
    _mastered: np.ndarray = np.zeros((0, 1), dtype=np.float32)
    _mastered_context: FrameContext | None = None
    _frame_trim_db = 0.0  # the trim the master used for it
    _down = 1.0  # the turned-down trim's gain on the last piece (ramps continue from it)

    def _render_next(self) -> None:
        raise NotImplementedError

    def next_raw(self) -> tuple[np.ndarray, FrameContext]:
        """The next frame as the model and the pre-master chain left it, with its context; `finish` it."""
        if not self._ready:
            self._render_next()
        return self._ready.popleft()

    def next_frame(self) -> np.ndarray:
        """Render and finish the next frame whole: float32 (samples, channels) at the output rate."""
        return self.finish(*self.next_raw())

    def finish_frame(self, audio: np.ndarray, context: FrameContext, stream_pos: int,
                     block: int = FINISH_BLOCK) -> np.ndarray:
        """Finish a frame in the pieces a live decoder of `block`-sample blocks would: cut at the frame's
        edges and at every multiple of `block` in the stream (`stream_pos`: the frame's first sample)."""
        cuts = list(range(-stream_pos % block, audio.shape[0], block))
        edges = [0] + [c for c in cuts if c > 0] + [audio.shape[0]]
        return np.concatenate([self.finish(audio, context, a, b) for a, b in zip(edges, edges[1:], strict=False)])

    def finish(self, frame: np.ndarray, context: FrameContext, start: int = 0, stop: int | None = None
               ) -> np.ndarray:
        """`frame[start:stop]` finished: master, trim turned down since, clip guard and analysis. `frame`
        is the whole raw frame (from `next_raw`); its pieces are asked for in order, from 0. The result
        may be a view of a frame the graph never writes to again; a caller that keeps it copies it."""
        stop = frame.shape[0] if stop is None else min(stop, frame.shape[0])
        if stop <= start:  # a resampler still filling its delay line hands out nothing at first
            return frame[start:stop]
        if self.mastered:
            values, agc = self.post.step(self.store.snapshot(), (stop - start) / self.output_rate,
                                         context.post_offsets)
            if start == 0 or self._mastered_context is not context:
                self._master_frame(frame, context, values, agc)
            audio = self._trim_down(self._mastered[start:stop], float(values[TRIM]))
        else:
            audio = frame[start:stop]
        if audio.max() > 1.0 or audio.min() < -1.0:  # a ceiling above 0 dBTP, or no master: never past full scale
            self.clipped_samples += int(np.count_nonzero(np.abs(audio) > 1.0))
            audio = np.clip(audio, -1.0, 1.0)
        if self.analysis_active:
            snapshot = context.snapshot
            if self.analysis.wanted or self.mods.listening(snapshot):
                self.analysis.push_output(audio, str(snapshot.values["/analysis/source"]),
                                          context.started + start / self.output_rate)
            else:
                self.analysis.pause()
        return audio

    def _master_frame(self, frame: np.ndarray, context: FrameContext, values: np.ndarray, agc: bool) -> None:
        """The master stage on the whole frame, with the post controls' values now."""
        if frame.shape[1] != self.master.channels:  # a method with other outputs: a master for them
            self.master = MasterStage(self.output_rate, frame.shape[1])
        # The gain ramp starts where the last frame's turned-down trim left the sound, so none jumps back.
        self.master.scale_last_gain(self._down)
        self._down = 1.0
        self._frame_trim_db = float(values[TRIM])
        self.master.target_offset_db = context.target_offset_db
        self.master.release_db_per_s = context.release_db_per_s
        self._mastered = self.master.process(frame, loudness_lufs=float(values[LOUDNESS]), agc=agc,
                                             ceiling_db=float(values[CEILING]), trim_db=self._frame_trim_db)
        self._mastered_context = context

    def _trim_down(self, piece: np.ndarray, trim_db: float) -> np.ndarray:
        """The mastered `piece`, ramped to the trim's fall since the frame was mastered (itself when none)."""
        down = 10.0 ** (min(0.0, trim_db - self._frame_trim_db) / 20.0)
        start, self._down = self._down, down
        if start == 1.0 and down == 1.0:
            return piece
        ramp = np.linspace(start, down, piece.shape[0], endpoint=False, dtype=np.float32)
        return piece * ramp[:, None]
