"""Where in the latent space each cluster and each chunk of an atlas lives: a centre and a spread per
dimension, in the playing model's normalised space. The walk glides into one of them (steering.py);
`nearest_chunk` answers `/explore/point X Y Z` on the 3D map."""

from __future__ import annotations

import numpy as np

from engine.explore.atlas import Atlas

MIN_SPREAD = 0.05  # a region never collapses to a point: the walk keeps moving inside it


class AtlasRegions:
    def __init__(self, atlas: Atlas, mean: np.ndarray, std: np.ndarray) -> None:
        frames = (atlas.frames.astype(np.float64) - mean) / std
        chunks = atlas.chunks
        self.n_clusters = atlas.n_clusters
        self.chunks = chunks
        self.positions = np.ascontiguousarray(atlas.positions, dtype=np.float64)
        d = frames.shape[1]
        self.centres = np.zeros((self.n_clusters + chunks, d))
        self.spreads = np.ones((self.n_clusters + chunks, d))
        frame_cluster = atlas.clusters[atlas.frame_chunk]
        for c in range(self.n_clusters):
            self._fill(c, frames[frame_cluster == c])
        order = np.argsort(atlas.frame_chunk, kind="stable")
        bounds = np.searchsorted(atlas.frame_chunk[order], np.arange(chunks + 1))
        for i in range(chunks):
            self._fill(self.n_clusters + i, frames[order[bounds[i]:bounds[i + 1]]])
        self.centres.flags.writeable = self.spreads.flags.writeable = False

    def _fill(self, row: int, frames: np.ndarray) -> None:
        if frames.shape[0] == 0:
            return
        self.centres[row] = frames.mean(axis=0)
        self.spreads[row] = np.maximum(frames.std(axis=0), MIN_SPREAD)

    def cluster(self, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(centre, spread) of cluster n, or None when the atlas has no such cluster."""
        return (self.centres[n], self.spreads[n]) if 0 <= n < self.n_clusters else None

    def chunk(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        row = self.n_clusters + i
        return (self.centres[row], self.spreads[row]) if 0 <= i < self.chunks else None

    def nearest_chunk(self, x: float, y: float, z: float) -> int:
        """The chunk whose map position is nearest (x, y, z)."""
        d = self.positions - np.array([x, y, z])
        return int(np.einsum("ij,ij->i", d, d).argmin())

    def position_of(self, latent: np.ndarray, k: int = 3) -> tuple[float, float, float]:
        """Where a latent frame (normalised) sits on the map: its `k` nearest chunks' positions,
        weighted by inverse distance."""
        centres = self.centres[self.n_clusters:]
        distance = np.sqrt(np.einsum("ij,ij->i", centres - latent, centres - latent))
        k = min(k, distance.shape[0])
        nearest = np.argpartition(distance, k - 1)[:k]
        weight = 1.0 / (distance[nearest] + 1e-6)
        x, y, z = (weight @ self.positions[nearest]) / weight.sum()
        return float(x), float(y), float(z)
