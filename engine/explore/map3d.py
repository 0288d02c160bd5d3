"""The atlas's 3D map: UMAP (umap-learn) where it is installed and the collection is large enough, PCA
otherwise. Each axis is scaled into -1..1 (about its centre), so `/explore/point X Y Z` means the same
on every atlas."""

from __future__ import annotations

import importlib.util
import logging

import numpy as np

log = logging.getLogger(__name__)

UMAP_MIN_CHUNKS = 16  # fewer points than this: UMAP's neighbour graph means little; PCA is exact


def umap_available() -> bool:
    return importlib.util.find_spec("umap") is not None


def map_3d(points: np.ndarray, *, seed: int = 0, method: str = "auto") -> tuple[np.ndarray, str]:
    """(N, 3) float32 positions in -1..1 for (N, D) points, and the method used ("umap" or "pca")."""
    points = np.asarray(points, dtype=np.float64)
    if method not in ("auto", "umap", "pca"):
        raise ValueError(f"map method must be auto, umap or pca, got {method!r}")
    use_umap = method == "umap" or (method == "auto" and umap_available() and points.shape[0] >= UMAP_MIN_CHUNKS)
    if use_umap:
        import umap  # optional: pulls numba and pynndescent

        reducer = umap.UMAP(n_components=3, n_neighbors=min(15, points.shape[0] - 1), random_state=seed,
                            n_jobs=1, init="random" if points.shape[0] < 32 else "spectral")
        positions = reducer.fit_transform(points)
        return _unit_box(positions), "umap"
    return _unit_box(_pca(points, 3)), "pca"


def _pca(points: np.ndarray, components: int) -> np.ndarray:
    centred = points - points.mean(axis=0)
    if centred.shape[0] < 2:
        return np.zeros((points.shape[0], components))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ vt[:components].T
    # Signs made deterministic: the largest loading of each component positive.
    signs = np.sign(vt[:components][np.arange(min(components, vt.shape[0])),
                                    np.abs(vt[:components]).argmax(axis=1)])
    projected = projected * np.where(signs == 0, 1.0, signs)
    if projected.shape[1] < components:  # fewer dimensions than axes: the rest stay at 0
        projected = np.pad(projected, ((0, 0), (0, components - projected.shape[1])))
    return projected


def _unit_box(positions: np.ndarray) -> np.ndarray:
    centred = positions - (positions.max(axis=0) + positions.min(axis=0)) / 2
    half = np.abs(centred).max(axis=0)
    return (centred / np.where(half > 0, half, 1.0)).astype(np.float32)
