"""What every graph does to its sound at the output rate: the master stage, a last guard against
samples past full scale, and the analysis tap (only while something reads it).

A graph queues each rendered frame with its `FrameContext`; `finish` then runs on any piece of it.
The live decoder finishes one output block at a time, just before the block enters the ring, so the
controls after the model (engine/render/post_controls.py) act within a block; offline render
finishes the same pieces (`finish_frame`), so both produce the same samples.
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
        return np.concatenate([self.finish(audio[a:b], context, a) for a, b in zip(edges, edges[1:], strict=False)])

    def finish(self, audio: np.ndarray, context: FrameContext, offset: int = 0) -> np.ndarray:
        """Master, clip guard and analysis for `audio`, the piece of a frame starting `offset` samples in;
        a new array (the piece itself, untouched, when there is nothing to do)."""
        if audio.shape[0] == 0:  # a resampler still filling its delay line hands out nothing at first
            return audio
        if self.mastered:
            if audio.shape[1] != self.master.channels:  # a method with other outputs: a master for them
                self.master = MasterStage(self.output_rate, audio.shape[1])
            values, agc = self.post.step(self.store.snapshot(), audio.shape[0] / self.output_rate,
                                         context.post_offsets)
            self.master.target_offset_db = context.target_offset_db
            self.master.release_db_per_s = context.release_db_per_s
            audio = self.master.process(audio, loudness_lufs=float(values[LOUDNESS]), agc=agc,
                                        ceiling_db=float(values[CEILING]), trim_db=float(values[TRIM]))
        if audio.max() > 1.0 or audio.min() < -1.0:  # a ceiling above 0 dBTP, or no master: never past full scale
            self.clipped_samples += int(np.count_nonzero(np.abs(audio) > 1.0))
            audio = np.clip(audio, -1.0, 1.0)
        if self.analysis_active:
            snapshot = context.snapshot
            if self.analysis.wanted or self.mods.listening(snapshot):
                self.analysis.push_output(audio, str(snapshot.values["/analysis/source"]),
                                          context.started + offset / self.output_rate)
            else:
                self.analysis.pause()
        return audio
