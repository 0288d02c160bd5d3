"""The decoder thread: renders ahead of the audio clock and keeps the ring `lookahead` blocks full.

Contract: this thread may allocate, call torch and wait; the audio callback never waits for it.
It polls the ring, and whenever fewer than `lookahead_blocks * blocksize` frames are queued (plus
the headroom a model swap asks for while it loads) it finishes one more block from the render graph
(a latent frame is decoded whenever the graph's feed runs out, and mastered whole at its first block;
the controls after the model are read per block) and writes it. The ring's capacity
covers the target plus a block, so a write never has to wait either. A model swap renders old and
new graphs side by side for the crossfade, with equal-power gains, so the audio has no gap.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from engine.audio.adaptive_lookahead import AdaptiveLookahead
from engine.audio.output import Output
from engine.audio.priority import raise_current_thread_priority
from engine.audio.ring import AudioRing
from engine.render.effect_graph import EffectGraph
from engine.render.frame_end import FrameContext
from engine.render.graph import RenderGraph

Graph = RenderGraph | EffectGraph  # both: push_input(), next_frame(), the same clocks and analysis

CROSSFADE_SECONDS = 0.25
STATS_FRAMES = 1 << 16  # decode timings kept for the report (a circular window)


class GraphFeed:
    """Hands out exactly `n` frames at a time from a graph whose frames come in other sizes.

    Frames arrive raw (`next_raw`) and each piece is finished only when handed out (the master once per
    frame, at its first piece), so a trim turned down acts on the very next block
    (engine/render/frame_end.py)."""

    def __init__(self, graph: Graph, channels: int) -> None:
        self.graph = graph
        self.channels = channels
        self._raw: np.ndarray | None = None
        self._context: FrameContext | None = None
        self._pos = 0
        self.decode_seconds: list[float] = []  # filled per decode call, drained by the decoder

    def take(self, n: int) -> np.ndarray:
        pieces = []
        while n > 0:
            if self._raw is None or self._pos >= self._raw.shape[0]:
                decodes = self.graph.decodes_next  # with several frames per call, only the first decodes
                started = time.perf_counter()
                self._raw, self._context = self.graph.next_raw()
                if decodes:
                    self.decode_seconds.append(time.perf_counter() - started)
                self._pos = 0
            assert self._context is not None
            stop = min(self._pos + n, self._raw.shape[0])
            pieces.append(_to_channels(self.graph.finish(self._raw, self._context, self._pos, stop), self.channels))
            n -= stop - self._pos
            self._pos = stop
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _to_channels(frame: np.ndarray, channels: int) -> np.ndarray:
    """A model's channels onto the device's: mono is spread, extra channels wrap around."""
    if frame.shape[1] == channels:
        return frame
    return frame[:, np.arange(channels) % frame.shape[1]]


class Decoder(threading.Thread):
    def __init__(self, graph: Graph, ring: AudioRing, output: Output | None, *, blocksize: int,
                 lookahead_blocks: int, input_ring: AudioRing | None = None,
                 on_block: Callable[[np.ndarray], None] | None = None,
                 lookahead: AdaptiveLookahead | None = None, decode_threads: int = 1) -> None:
        """`lookahead`, when given, moves the fill target (see AdaptiveLookahead); `decode_threads` is
        the torch thread count of this thread's decodes (OpenMP keeps it per thread)."""
        super().__init__(name="decoder", daemon=True)
        self.ring = ring
        self.output = output
        self.blocksize = blocksize
        self.target_frames = lookahead.frames if lookahead is not None else lookahead_blocks * blocksize
        self.lookahead = lookahead
        self.decode_threads = decode_threads  # a model swap may change it: applied before the next block
        self._threads_set = 0
        self.headroom_frames = 0  # queued beyond the target while a model loads (see engine.session.model_swap)
        self.input_ring = input_ring
        self.on_block = on_block
        self.feed = GraphFeed(graph, ring.channels)
        self._incoming: GraphFeed | None = None
        self._fade_pos = 0
        self._fade_len = 1
        self._halt = threading.Event()
        self._poll_seconds = max(0.0005, blocksize / graph.output_rate / 4)
        self._in_block = np.zeros((blocksize, input_ring.channels if input_ring else 1), dtype=np.float32)
        self.decode_ms = np.zeros(STATS_FRAMES)
        self.decoded_frames = 0
        self.blocks_written = 0
        self.error: BaseException | None = None
        self.priority = "not started"
        self.slowdown_seconds = 0.0  # tests: an artificial delay per decode call

    @property
    def graph(self) -> Graph:
        return self.feed.graph

    @property
    def fill_target(self) -> int:
        """Frames to keep queued: the lookahead, plus any headroom, within the ring's capacity."""
        return min(self.target_frames + self.headroom_frames, self.ring.capacity - self.blocksize)

    def prefill(self) -> None:
        while self.ring.read_available < self.target_frames:
            self._write_block()

    def swap(self, graph: Graph) -> None:
        """Crossfade to `graph` (already loaded and warmed up) from the next block on."""
        self._fade_len = max(1, int(CROSSFADE_SECONDS * graph.output_rate))
        self._fade_pos = 0
        self._incoming = GraphFeed(graph, self.ring.channels)

    @property
    def newest_graph(self) -> Graph:
        """The graph crossfading in, else the playing one: where anything loaded for play belongs."""
        incoming = self._incoming
        return incoming.graph if incoming is not None else self.feed.graph

    @property
    def swapping(self) -> bool:
        return self._incoming is not None

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        self.priority = raise_current_thread_priority()
        try:
            while not self._halt.is_set():
                if self.output is not None:
                    self.output.poll()
                if self.input_ring is not None:
                    self._drain_input()
                if self.lookahead is not None:
                    self.target_frames = self.lookahead.observe(
                        self.ring.read_available, time.monotonic(),
                        self.output.underruns if self.output is not None else 0)
                if self.decode_threads != self._threads_set:
                    torch.set_num_threads(self.decode_threads)
                    self._threads_set = self.decode_threads
                if self.ring.read_available >= self.fill_target:
                    time.sleep(self._poll_seconds)
                    continue
                self._write_block()
        except BaseException as exc:  # reported by the engine; the callback keeps playing silence
            self.error = exc

    def _drain_input(self) -> None:
        assert self.input_ring is not None
        while self.input_ring.read_available >= self.blocksize:
            self.input_ring.read_into(self._in_block)
            self.feed.graph.push_input(self._in_block)

    def _write_block(self) -> None:
        block = self.feed.take(self.blocksize)
        if self._incoming is not None:
            block = self._crossfade(block, self._incoming.take(self.blocksize))
        for feed in (self.feed, self._incoming):
            if feed is None:
                continue
            for seconds in feed.decode_seconds:
                if self.slowdown_seconds:
                    time.sleep(self.slowdown_seconds)
                self.decode_ms[self.decoded_frames % STATS_FRAMES] = seconds * 1000.0
                if self.lookahead is not None:
                    self.lookahead.note_decode(seconds)
                self.decoded_frames += 1
            feed.decode_seconds.clear()
        if self.on_block is not None:
            self.on_block(block)
        self.ring.write(block)
        self.blocks_written += 1

    def _crossfade(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        n = old.shape[0]
        pos = (self._fade_pos + np.arange(n)) / self._fade_len
        np.clip(pos, 0.0, 1.0, out=pos)
        gain_new = np.sin(0.5 * math.pi * pos)[:, None].astype(np.float32)
        gain_old = np.cos(0.5 * math.pi * pos)[:, None].astype(np.float32)
        self._fade_pos += n
        mixed = old * gain_old + new * gain_new
        if self._fade_pos >= self._fade_len:
            assert self._incoming is not None
            self.feed, self._incoming = self._incoming, None
            self.feed.graph.analysis_active = True  # it shares the old graph's analysis: carry it on
        return mixed

    def decode_stats(self) -> dict[str, float]:
        n = min(self.decoded_frames, STATS_FRAMES)
        if n == 0:
            return {"median": 0.0, "max": 0.0, "frames": 0}
        window = self.decode_ms[:n]
        return {"median": round(float(np.median(window)), 3), "max": round(float(window.max()), 3),
                "frames": self.decoded_frames}
