"""The stochastic similarity filter: skip the denoise of a frame that would look like the last one.

Why a "condition" vector: StreamDiffusion compares camera frames, but here there is no input image,
so what the picture depends on (audio latent, motion controls, prompt weights) stands in for it. When
its cosine similarity to the last denoised frame's passes the threshold, the frame is skipped with a
probability rising to 1 at identity: random rather than a hard cut-off, so a slowly drifting input
still gets some fresh frames.
Never more than `max_skip_frames` in a row; the caller forces a denoise on a beat, a reset or during a
prompt transition.
"""

from __future__ import annotations

import numpy as np

from engine.visual.frame_input import VisualFrame


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two condition vectors; two (near) zero vectors are similar only if equal."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-9 or nb < 1e-9:
        return 1.0 if float(np.linalg.norm(a - b)) < 1e-9 else 0.0
    return float(np.dot(a, b) / (na * nb))


def frame_condition(frame: VisualFrame) -> np.ndarray:
    """What the picture depends on, centred so a shared offset does not hide small moves."""
    controls = np.array([frame.noise_scale, frame.speed, frame.zoom, frame.warp, frame.feedback],
                        dtype=np.float64) - 0.5
    latent = np.asarray(frame.latent, dtype=np.float64).ravel()
    weights = (np.asarray(frame.prompt_weights, dtype=np.float64).ravel()
               if frame.prompt_weights is not None and frame.prompts else np.zeros(0))
    if weights.size:
        weights = weights - weights.mean()
    return np.nan_to_num(np.concatenate([controls, latent, weights]))


class SimilarityFilter:
    def __init__(self, threshold: float, max_skip_frames: int) -> None:
        self.threshold = threshold  # 1 turns the filter off
        self.max_skip_frames = max_skip_frames
        self.seed(0)
        self.reset()

    def seed(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 0x51F])

    def reset(self) -> None:
        """Forget the last denoised frame: the next one is always denoised."""
        self.reference: np.ndarray | None = None  # the condition of the last denoised frame
        self.skips_in_row = 0

    def skip(self, condition: np.ndarray) -> bool:
        """The more alike, the likelier a skip; never too many in a row. Counts the skip."""
        if (self.reference is None or self.threshold >= 1.0 or self.skips_in_row >= self.max_skip_frames
                or condition.shape != self.reference.shape):
            return False
        similarity = cosine_similarity(condition, self.reference)
        probability = max(0.0, 1.0 - (1.0 - similarity) / (1.0 - self.threshold))
        skipped = bool(self._rng.random() < probability)
        if skipped:
            self.skips_in_row += 1
        return skipped

    def denoised(self, condition: np.ndarray) -> None:
        """A frame was denoised: it is the reference now."""
        self.skips_in_row = 0
        self.reference = condition
