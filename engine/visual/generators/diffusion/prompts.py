"""Prompt embeddings: an encoding cache, weighted blends of several prompts, slerped transitions.

Why a cache: a live set returns to the same few texts, and encoding them every frame would add text
encoder passes to every frame; each distinct text is encoded once (LRU, EMBEDDING_CACHE of them).
Why slerp: a change of prompt set should morph the picture, not cut to it. Each token embedding moves
along the sphere over `transition_frames`, its norm interpolated linearly, so the intermediates keep
norms between the two ends where a straight lerp would shrink them midway.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.visual.frame_input import VisualFrame

MAX_PROMPTS = 12
EMBEDDING_CACHE = 64  # distinct prompt texts kept encoded; a live performance types new ones
BASE_PROMPT_SHARE = 0.5  # with weighted `prompts`, the share of `prompt` itself in the blend


@dataclass
class Embedding:
    """One conditioning: token embeddings (1, L, D) and, for SDXL, the pooled text embedding (1, P)."""

    tokens: torch.Tensor
    pooled: torch.Tensor | None = None


def slerp_tokens(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Per-token spherical interpolation (last axis), norms interpolated linearly; float32 math."""
    a32, b32 = a.float(), b.float()
    na = a32.norm(dim=-1, keepdim=True)
    nb = b32.norm(dim=-1, keepdim=True)
    ua = a32 / na.clamp_min(1e-8)
    ub = b32 / nb.clamp_min(1e-8)
    omega = (ua * ub).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0).acos()
    sin_omega = omega.sin()
    parallel = sin_omega < 1e-4  # almost the same direction: plain lerp is exact enough and stable
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    wa = torch.where(parallel, torch.full_like(omega, 1.0 - t), ((1.0 - t) * omega).sin() / safe)
    wb = torch.where(parallel, torch.full_like(omega, t), (t * omega).sin() / safe)
    direction = wa * ua + wb * ub
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return (direction * ((1.0 - t) * na + t * nb)).to(a.dtype)


def slerp_embedding(a: Embedding, b: Embedding, t: float) -> Embedding:
    pooled = None
    if a.pooled is not None and b.pooled is not None:
        pooled = slerp_tokens(a.pooled, b.pooled, t)
    return Embedding(slerp_tokens(a.tokens, b.tokens, t), pooled)


def weighted_embedding(parts: Sequence[Embedding], weights: Sequence[float]) -> Embedding:
    tokens = torch.zeros_like(parts[0].tokens, dtype=torch.float32)
    for w, part in zip(weights, parts, strict=True):
        tokens += w * part.tokens.float()
    pooled = None
    pooled_parts = [p.pooled for p in parts if p.pooled is not None]
    if len(pooled_parts) == len(parts):
        pooled = torch.zeros_like(pooled_parts[0], dtype=torch.float32)
        for w, vector in zip(weights, pooled_parts, strict=True):
            pooled += w * vector.float()
        pooled = pooled.to(pooled_parts[0].dtype)
    return Embedding(tokens.to(parts[0].tokens.dtype), pooled)


class PromptEncoder:
    """Texts to embeddings through the text encoder(s), each distinct text encoded once."""

    def __init__(self, tokenizer: Any, text_encoder: Any, tokenizer_2: Any, text_encoder_2: Any, *,
                 sdxl: bool, device: torch.device, dtype: torch.dtype) -> None:
        self.tokenizer, self.text_encoder = tokenizer, text_encoder
        self.tokenizer_2, self.text_encoder_2 = tokenizer_2, text_encoder_2
        self.sdxl, self.device, self.dtype = sdxl, device, dtype
        self.embeddings: OrderedDict[str, Embedding] = OrderedDict()  # least recently used first

    def encode(self, texts: Sequence[str]) -> None:
        """Encode the texts not yet cached, in one batch."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.embeddings))
        if missing:
            tokens, pooled = self._run_text_encoders(missing)
            for i, text in enumerate(missing):
                row = None if pooled is None else pooled[i:i + 1]
                self.embeddings[text] = Embedding(tokens[i:i + 1], row)
        for text in texts:
            self.embeddings.move_to_end(text)
        while len(self.embeddings) > max(EMBEDDING_CACHE, len(texts)):
            self.embeddings.popitem(last=False)

    def embedding(self, text: str) -> Embedding:
        self.encode([text])
        return self.embeddings[text]

    def target(self, frame: VisualFrame) -> Embedding:
        """What the frame asks for: `prompt`, or `prompts` blended by `prompt_weights` around it."""
        prompts = tuple(frame.prompts)[:MAX_PROMPTS]
        if not prompts:
            return self.embedding(frame.prompt)
        raw = frame.prompt_weights if frame.prompt_weights is not None else np.ones(len(prompts))
        weights = np.resize(np.asarray(raw, dtype=np.float64).ravel(), len(prompts))
        weights = np.clip(np.nan_to_num(weights), 0.0, None)
        total = float(weights.sum())
        weights = weights / total if total > 1e-9 else np.full(len(prompts), 1.0 / len(prompts))
        texts = list(prompts)
        if frame.prompt:  # the subject stays in the picture; the weighted prompts colour it
            texts.append(frame.prompt)
            weights = np.append(weights * (1.0 - BASE_PROMPT_SHARE), BASE_PROMPT_SHARE)
        self.encode(texts)
        return weighted_embedding([self.embeddings[t] for t in texts], weights.tolist())

    def close(self) -> None:
        self.text_encoder = self.text_encoder_2 = None
        self.embeddings.clear()

    def _token_ids(self, tokenizer: Any, encoder: Any, texts: Sequence[str]) -> torch.Tensor:
        limit = int(getattr(encoder.config, "max_position_embeddings", 77))
        length = min(int(getattr(tokenizer, "model_max_length", limit) or limit), limit)
        ids = tokenizer(list(texts), padding="max_length", max_length=length, truncation=True,
                        return_tensors="pt").input_ids
        return ids.to(self.device)

    @torch.inference_mode()
    def _run_text_encoders(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.sdxl:
            out = self.text_encoder(self._token_ids(self.tokenizer, self.text_encoder, texts))
            return out[0].to(self.dtype), None
        # SDXL: both encoders' penultimate hidden states side by side, the second one's pooled projection.
        hidden = []
        pooled = None
        pairs = ((self.tokenizer, self.text_encoder), (self.tokenizer_2, self.text_encoder_2))
        for tokenizer, encoder in pairs:
            out = encoder(self._token_ids(tokenizer, encoder, texts), output_hidden_states=True)
            hidden.append(out.hidden_states[-2])
            pooled = out[0]
        assert pooled is not None
        return torch.cat(hidden, dim=-1).to(self.dtype), pooled.to(self.dtype)


class PromptTransition:
    """The embedding on screen: a new prompt set is reached from it by a slerp over transition_frames."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.start: Embedding | None = None
        self.shown: Embedding | None = None
        self.progress = 1.0

    def update(self, frame: VisualFrame, target: Embedding) -> tuple[Embedding, bool]:
        """The embedding this frame shows, and whether a prompt transition is under way."""
        key = (frame.prompt, tuple(frame.prompts)[:MAX_PROMPTS])
        if self.shown is None:
            self.shown, self.progress = target, 1.0
        elif key != self.key:  # a new prompt set: slerp from wherever the picture is now
            self.start, self.progress = self.shown, 0.0
        self.key = key
        changing = self.progress < 1.0
        if changing and self.start is not None:
            self.progress = min(1.0, self.progress + 1.0 / max(1, int(frame.transition_frames)))
            p = self.progress
            eased = p * p * (3.0 - 2.0 * p)  # smoothstep: no jolt at either end
            self.shown = slerp_embedding(self.start, target, eased)
        else:
            self.shown = target
        return self.shown, changing
