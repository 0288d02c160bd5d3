"""k-means clusters of an atlas's chunks (scikit-learn), on the normalised chunk latents."""

from __future__ import annotations

import numpy as np

DEFAULT_CLUSTERS = 8


def cluster_chunks(points: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """int32 cluster per row of `points` (N, D); at most N clusters, numbered by size (0 the largest)."""
    from sklearn.cluster import KMeans

    points = np.asarray(points, dtype=np.float64)
    k = max(1, min(k, points.shape[0]))
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(points)
    # Numbered by size, then first appearance: stable names for the same collection.
    order = sorted(np.unique(labels), key=lambda c: (-np.count_nonzero(labels == c), np.argmax(labels == c)))
    renumber = np.empty(labels.max() + 1, dtype=np.int32)
    renumber[order] = np.arange(len(order), dtype=np.int32)
    return renumber[labels]
