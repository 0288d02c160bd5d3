"""Each decoder's own noise stream.

A stochastic TorchScript decoder (RAVE v2 noise padding, the default model's phases) can draw only
from torch's global generator; nothing lets a caller hand it another. So each voice keeps its own
generator state and swaps it in for its decode calls only (`DecoderNoise`): whatever other threads
draw from the global generator, or rewind with `fork_rng` (a model charted on a loader thread while
another plays), the voice's noise, and so its sound, is a function of its seed alone. Everything else
random in the engine takes its own numpy Generator from a SeedSequence.
"""

from __future__ import annotations

from types import TracebackType

import torch


class DecoderNoise:
    """`with noise:` around a decode call: the call draws from this stream, which carries on from where
    its last call left it; the global generator is put back as it was."""

    def __init__(self, seed: int) -> None:
        self._state = torch.Generator().manual_seed(seed).get_state()  # what torch.manual_seed(seed) gives
        self._host = self._state

    def __enter__(self) -> None:
        self._host = torch.get_rng_state()
        torch.set_rng_state(self._state)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._state = torch.get_rng_state()
        torch.set_rng_state(self._host)
