"""What an atlas does to one render graph, once per latent frame on the render thread:

- navigation: `/explore/cluster N` or `/explore/chunk I` moves the prior walk's region (its centre and
  spread per dimension) to that cluster's or chunk's, gliding over `/scene/morph_time`; -1 for both is
  the free walk (centre 0, spread 1, the prior);
- the codebook: `/rave/codebook` on, each finished latent frame (whatever its source: walk, reference,
  input) is replaced by its `/rave/codebook_k` nearest atlas frames, with a 250 ms fade when it is
  switched on, off or to another atlas.

The atlas-derived data (AtlasRegions, Codebook) are built on another thread and handed over by one
reference assignment each; the render thread reads each reference once per frame and never locks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.explore.codebook import Codebook
from engine.explore.regions import AtlasRegions
from engine.params.param import Value

FADE_SECONDS = 0.25
FREE = (-1, -1)  # (kind, index) of no target: the walk as the prior


class AtlasSteering:
    def __init__(self, latent_size: int, frame_seconds: float) -> None:
        self.latent_size = latent_size
        self.frame_seconds = frame_seconds
        self._fade_step = min(1.0, frame_seconds / FADE_SECONDS)
        # Handed over by other threads (one reference each):
        self.regions: AtlasRegions | None = None
        self.codebook_wanted: Codebook | None = None
        # Render-thread state:
        self._codebook: Codebook | None = None
        self._mix = 0.0
        self._seen: tuple[int, int] | None = None  # (/explore/cluster, /explore/chunk) last frame
        self._seen_regions: AtlasRegions | None = None
        self._target: tuple[int, int] = FREE  # (0: cluster / 1: chunk, index)
        self._from = (np.zeros(latent_size), np.ones(latent_size))
        self._to = self._from
        self._glide_frames = 0
        self._glide_done = 0

    # --- handed over from other threads ----------------------------------------------------
    def use_codebook(self, codebook: Codebook | None, *, fade: bool = True) -> None:
        """Play through `codebook` (None: off). `fade=False` switches at once: only before rendering."""
        if codebook is not None and codebook.latent_size != self.latent_size:
            raise ValueError(f"codebook latent size {codebook.latent_size}, graph {self.latent_size}")
        self.codebook_wanted = codebook
        if not fade:
            self._codebook, self._mix = codebook, 1.0 if codebook is not None else 0.0

    def use_regions(self, regions: AtlasRegions | None) -> None:
        if regions is not None and regions.centres.shape[1] != self.latent_size:
            raise ValueError(f"atlas latent size {regions.centres.shape[1]}, graph {self.latent_size}")
        self.regions = regions

    @property
    def codebook_active(self) -> bool:
        return self._codebook is not None and self._mix > 0

    # --- per frame, on the render thread -----------------------------------------------------
    def steer_walk(self, values: Mapping[str, Value], centre: np.ndarray, spread: np.ndarray) -> None:
        """Move the walk's region (written into `centre` and `spread` in place) one frame along."""
        regions = self.regions
        seen = (int(values["/explore/cluster"]), int(values["/explore/chunk"]))
        if seen != self._seen or regions is not self._seen_regions:
            first = self._seen is None
            self._retarget(seen, regions, float(values["/scene/morph_time"]), first)
            self._seen, self._seen_regions = seen, regions
        if self._glide_done < self._glide_frames:
            self._glide_done += 1
            t = self._glide_done / self._glide_frames
            np.multiply(self._from[0], 1.0 - t, out=centre)
            centre += t * self._to[0]
            np.multiply(self._from[1], 1.0 - t, out=spread)
            spread += t * self._to[1]

    def _retarget(self, seen: tuple[int, int], regions: AtlasRegions | None, seconds: float, first: bool) -> None:
        cluster, chunk = seen
        previous = self._seen or FREE
        # The control moved last wins: a new cluster after a point goes to the cluster, and back.
        if chunk != previous[1] and chunk >= 0 or cluster < 0 <= chunk:
            target = (1, chunk)
        elif cluster >= 0:
            target = (0, cluster)
        else:
            target = FREE
        region = None
        if regions is not None and target != FREE:
            region = regions.cluster(target[1]) if target[0] == 0 else regions.chunk(target[1])
        to = region if region is not None else (np.zeros(self.latent_size), np.ones(self.latent_size))
        self._target = target if region is not None else FREE
        if self._glide_done < self._glide_frames:  # mid-glide: start from where the walk is now
            t = self._glide_done / self._glide_frames
            self._from = tuple(a * (1.0 - t) + b * t for a, b in zip(self._from, self._to, strict=True))
        else:
            self._from = self._to
        self._to = to
        self._glide_frames = 1 if first else max(1, round(seconds / self.frame_seconds))
        self._glide_done = 0

    @property
    def target(self) -> tuple[str, int] | None:
        """("cluster", N) or ("chunk", I) the walk is in or gliding to; None for the free walk."""
        kind, index = self._target
        return None if kind < 0 else ("cluster" if kind == 0 else "chunk", index)

    def codebook_frame(self, latent: np.ndarray, values: Mapping[str, Value]) -> np.ndarray:
        """The frame through the codebook (mixed in or out over the fade)."""
        wanted = self.codebook_wanted
        if wanted is not self._codebook:
            if self._codebook is None or self._mix <= 0.0:
                self._codebook, self._mix = wanted, 0.0
            else:
                self._mix = max(0.0, self._mix - self._fade_step)
        elif self._codebook is not None and self._mix < 1.0:
            self._mix = min(1.0, self._mix + self._fade_step)
        codebook = self._codebook
        if codebook is None or self._mix <= 0.0:
            return latent
        projected = codebook.project(latent, int(values["/rave/codebook_k"]))
        if self._mix >= 1.0:
            return projected
        return latent + self._mix * (projected - latent)
