"""Small helpers the generators share for moving their own latent: direction vectors and slerp."""

from __future__ import annotations

import hashlib
import math

import numpy as np


def bounded(value: object, low: float, high: float, default: float) -> float:
    """`value` clipped to low..high; `default` where it is not a finite number (a control must not poison z)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return min(high, max(low, number)) if math.isfinite(number) else default


def prompt_direction(text: str, size: int) -> np.ndarray:
    """A deterministic unit vector for a prompt: the same text always points the same way."""
    digest = hashlib.sha256(text.strip().lower().encode("utf-8")).digest()
    vector = np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal(size)
    return vector / np.linalg.norm(vector)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between unit vectors (linear where they are almost parallel)."""
    dot = float(np.clip(np.dot(a, b), -1.0, 1.0))
    omega = math.acos(dot)
    if omega < 1e-4:
        out = (1.0 - t) * a + t * b
    else:
        out = (math.sin((1.0 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
    return out / max(float(np.linalg.norm(out)), 1e-8)
