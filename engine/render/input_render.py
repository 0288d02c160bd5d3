"""`render --input FILE`: a file plays the part of the live input (offline timbre transfer).

The file is pushed into the graph a little at a time, exactly as the decoder thread pushes live input,
so an offline render with `--input` hears what `live --input` would, frame for frame.
"""

from __future__ import annotations

import math
from collections.abc import Sized
from typing import Protocol

import numpy as np

from engine.models.resample import resample


class InputGraph(Protocol):
    output_rate: int
    model_rate: int
    frame_samples: int

    @property
    def input_frames(self) -> Sized: ...

    def push_input(self, block: np.ndarray) -> None: ...


class InputFeeder:
    """Pushes the input into a graph until it holds one frame to play; silence after the file's end."""

    def __init__(self, graph: InputGraph, audio: np.ndarray) -> None:
        """`audio`: float32 (frames, channels) at the graph's output rate."""
        self.graph = graph
        self.audio = audio
        self._pos = 0
        # Input samples (output rate) per frame: pushing one frame's worth at a time keeps the
        # frames played and the frames pushed in step when a resampler sits between them.
        self._chunk = max(1, math.ceil(graph.frame_samples * graph.output_rate / graph.model_rate))

    @classmethod
    def from_audio(cls, graph: InputGraph, audio: np.ndarray, rate: int) -> InputFeeder:
        """A file's samples at its own `rate`, brought to the graph's output rate."""
        if rate != graph.output_rate:
            audio = resample(audio, rate, graph.output_rate)
        return cls(graph, audio)

    @property
    def seconds(self) -> float:
        return self.audio.shape[0] / self.graph.output_rate

    def feed(self) -> None:
        """Call before each `next_frame()`."""
        while len(self.graph.input_frames) == 0:
            block = self.audio[self._pos: self._pos + self._chunk]
            if block.shape[0] < self._chunk:  # past the end: silence flushes the last frame through
                block = np.concatenate([block, np.zeros((self._chunk - block.shape[0], self.audio.shape[1]),
                                                        dtype=np.float32)])
            self._pos += self._chunk
            self.graph.push_input(block)
