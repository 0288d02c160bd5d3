"""Codebook resynthesis: each latent frame replaced by its K nearest atlas latent frames, blended with
inverse-distance weights ("the target's structure with the collection's timbre").

The source is first moved onto the collection: each frame is looked up as `z - m + c`, where m is the
source's own running mean (5 s, causal, the same offline and live) and c the collection's mean. Without
that shift a source far from the collection (a drum loop against a folder of pads) finds only the
collection's edge nearest to it (its quietest frames) and keeps its own timbre; with it, the source's
movements around its centre pick the collection's frames around the collection's centre. Measured on
the v4 default model: a hats-and-clicks target through the Vibe Ace excerpt lands 7.3 dB from the
collection's long-term spectrum and 16.7 dB from its own (bench/bench_explore.py); unshifted, 13.9
and 8.8 dB.

Built once off the audio path (`from_atlas`), then `project` runs per frame on the render thread:
matrix-vector products into a preallocated buffer, in blocks small enough that the BLAS keeps them on
the calling thread, and K passes of argmin (no sort, no array the size of the codebook allocated per
frame): 32768 entries of 16 dimensions cost about 0.1 ms of CPU (bench/bench_explore.py).
"""

from __future__ import annotations

import numpy as np

from engine.explore.atlas import Atlas
from engine.params.table import MAX_CODEBOOK_K as MAX_K

MAX_ENTRIES = 32768  # beyond this the atlas's frames are taken at an even stride
# Rows x dims per matrix-vector product: OpenBLAS hands larger products to its worker threads, and a
# render thread must not wait on other threads (32768 x 16 at once: 2.6 ms on a busy machine; in
# blocks of this size: about 60 us, all on the calling thread).
BLOCK_ELEMENTS = 131072
FOLLOW_SECONDS = 5.0  # time constant of the source's running mean
_EPS = 1e-6


class Codebook:
    def __init__(self, entries: np.ndarray, frame_seconds: float) -> None:
        """`entries`: (M, D) latents in the space the frames to project live in (the graph's normalised
        one); `frame_seconds`: the time between two `project` calls."""
        if entries.ndim != 2 or entries.shape[0] < 1:
            raise ValueError(f"codebook entries must be (entries, dims), got {entries.shape}")
        self.entries = np.ascontiguousarray(entries, dtype=np.float64)
        self.entries.flags.writeable = False
        self.centre = self.entries.mean(axis=0)
        self._follow = min(1.0, frame_seconds / FOLLOW_SECONDS)
        self._source_mean = np.zeros(self.entries.shape[1])
        self._seen = 0
        self._norms = np.einsum("ij,ij->i", self.entries, self.entries)
        self._dist = np.empty(self.entries.shape[0])
        rows = max(1, BLOCK_ELEMENTS // self.entries.shape[1])
        self._blocks = [(self.entries[a:a + rows], self._dist[a:a + rows])
                        for a in range(0, self.entries.shape[0], rows)]
        self._index = np.empty(MAX_K, dtype=np.intp)
        self._weight = np.empty(MAX_K)

    @classmethod
    def from_atlas(cls, atlas: Atlas, mean: np.ndarray, std: np.ndarray, frame_seconds: float) -> Codebook:
        """Every latent frame of the atlas (at most MAX_ENTRIES, evenly strided), normalised by the
        playing model's `mean`/`std` (zeros and ones for a model without statistics)."""
        frames = atlas.frames
        if frames.shape[0] > MAX_ENTRIES:
            frames = frames[np.linspace(0, frames.shape[0] - 1, MAX_ENTRIES).astype(np.intp)]
        return cls((frames.astype(np.float64) - mean) / std, frame_seconds)

    @property
    def size(self) -> int:
        return self.entries.shape[0]

    @property
    def latent_size(self) -> int:
        return self.entries.shape[1]

    def nearest(self, z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and distances of the `k` entries nearest `z`, nearest first (views of internal
        buffers: valid until the next call)."""
        k = max(1, min(k, MAX_K, self.size))
        dist = self._dist
        for rows, out in self._blocks:
            np.dot(rows, z, out=out)
        dist *= -2.0
        dist += self._norms
        zz = float(z @ z)
        for j in range(k):
            i = int(dist.argmin())
            self._index[j] = i
            self._weight[j] = max(float(dist[i]) + zz, 0.0) ** 0.5
            dist[i] = np.inf
        return self._index[:k], self._weight[:k]

    def project(self, z: np.ndarray, k: int) -> np.ndarray:
        """The next frame of the source, `z`, as a new (D,) latent: the `k` entries nearest the shifted
        frame, blended by inverse distance (k=1: the nearest)."""
        self._seen += 1
        self._source_mean += max(self._follow, 1.0 / self._seen) * (z - self._source_mean)
        index, distance = self.nearest(z - self._source_mean + self.centre, k)
        if index.shape[0] == 1:
            return self.entries[index[0]].copy()
        weight = 1.0 / (distance + _EPS)
        weight /= weight.sum()
        return weight @ self.entries[index]
