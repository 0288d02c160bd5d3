"""Causal, cache-based streaming building blocks (our own implementation).

Every block can run in two modes, chosen by the ``streaming`` constructor flag (or
:func:`set_streaming` on a whole model before export):

* training / offline (``streaming=False``): the left context is zeros, nothing is cached;
* streaming (``streaming=True``): each block keeps the input context it needs in a buffer named
  ``cache`` shaped ``(MAX_BATCH, channels, context)`` and updates it in place, so that feeding a
  signal in consecutive chunks gives exactly the same output as one long call.

Because the offline mode starts from the same zero state as a fresh stream, training and
streaming inference compute the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MAX_BATCH = 8


class CausalConv1d(nn.Module):
    """Conv1d with left padding only; streams exactly when input lengths are multiples of ``stride``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        bias: bool = True,
        streaming: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, bias=bias
        )
        # Context so that output frame j ends exactly at the end of input block j (no look-ahead).
        self.pad: int = (kernel_size - 1) * dilation + 1 - stride
        if self.pad < 0:
            raise ValueError("kernel span must be at least the stride")
        self.streaming: bool = streaming
        self.register_buffer("cache", torch.zeros(MAX_BATCH, in_channels, self.pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad > 0:
            if self.streaming:
                batch = x.shape[0]
                x = torch.cat([self.cache[:batch], x], dim=-1)
                self.cache[:batch].copy_(x[..., -self.pad :])
            else:
                x = F.pad(x, (self.pad, 0))
        return self.conv(x)


class CausalUpsample(nn.Module):
    """Nearest-neighbour repeat followed by a causal conv; repeat is pointwise in time so it streams."""

    def __init__(
        self, in_channels: int, out_channels: int, factor: int, kernel_size: int = 3, streaming: bool = False
    ) -> None:
        super().__init__()
        self.factor = factor
        self.conv = CausalConv1d(in_channels, out_channels, kernel_size, streaming=streaming)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.repeat_interleave(x, self.factor, dim=-1))


class StreamingOverlapAdd(nn.Module):
    """Overlap-adds frames of length ``2 * hop`` at hop ``hop``; the half-frame tail is cached.

    Input ``(B, L, 2 * hop)`` frames, output ``(B, C=1, L * hop)`` samples. Offline the last tail is
    dropped, which is exactly what a fresh stream has emitted after L frames.
    """

    def __init__(self, hop: int, channels: int = 1, streaming: bool = False) -> None:
        super().__init__()
        self.hop = hop
        self.streaming: bool = streaming
        self.register_buffer("cache", torch.zeros(MAX_BATCH, channels, hop))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        batch, length = frames.shape[0], frames.shape[1]
        heads = frames[..., : self.hop].reshape(batch, 1, length * self.hop)
        tails = frames[..., self.hop :].reshape(batch, 1, length * self.hop)
        # Tail of frame l lands on block l + 1: shift right by one hop.
        out = heads + F.pad(tails, (self.hop, 0))[..., : length * self.hop]
        if self.streaming:
            out = torch.cat([out[..., : self.hop] + self.cache[:batch], out[..., self.hop :]], dim=-1)
            self.cache[:batch].copy_(tails[..., -self.hop :])
        return out


class StreamingConvTranspose1d(nn.Module):
    """ConvTranspose1d with kernel ``2 * stride``: a learned overlap-add synthesis basis.

    The output of L frames spans ``(L + 1) * stride`` samples; the final ``stride`` samples overlap
    the next call and are cached (streaming) or dropped (offline). The bias is added after the
    overlap-add so the overlapped region does not receive it twice.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, streaming: bool = False) -> None:
        super().__init__()
        self.stride = stride
        self.convt = nn.ConvTranspose1d(in_channels, out_channels, 2 * stride, stride=stride, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.streaming: bool = streaming
        self.register_buffer("cache", torch.zeros(MAX_BATCH, out_channels, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length = x.shape[0], x.shape[2]
        y = self.convt(x)
        body = y[..., : length * self.stride]
        if self.streaming:
            body = torch.cat(
                [body[..., : self.stride] + self.cache[:batch], body[..., self.stride :]], dim=-1
            )
            self.cache[:batch].copy_(y[..., length * self.stride :])
        return body + self.bias.view(1, -1, 1)


STREAMING_BLOCKS = (CausalConv1d, StreamingOverlapAdd, StreamingConvTranspose1d)


def set_streaming(model: nn.Module, enabled: bool) -> None:
    """Switch every streaming block in ``model`` on or off and zero their caches."""
    for module in model.modules():
        if isinstance(module, STREAMING_BLOCKS):
            module.streaming = enabled
            module.cache.zero_()
