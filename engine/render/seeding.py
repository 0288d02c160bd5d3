"""The one place torch's global random generator is seeded.

A stochastic TorchScript decoder (RAVE v2 noise padding, the default model's phases) can draw only
from torch's global generator; nothing lets a caller hand it another. Reseeding that generator while
a decoder thread decodes would change its noise mid-stream, so it is seeded once, where no other
thread decodes: before offline render's first frame and before the live decoder thread starts.
Everything else random in the engine takes its own numpy Generator from a SeedSequence.
"""

from __future__ import annotations

import torch


def seed_decoder_noise(seed: int) -> None:
    """Seed the generator stochastic decoders draw from; call only while no other thread decodes."""
    torch.manual_seed(seed)
