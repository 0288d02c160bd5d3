"""The atlas: a collection encoded into latent chunks, with a 3D map, clusters and descriptors.

Saved as one `.npz` (numpy arrays, no pickles) holding a JSON header with a format version. Latents
are stored in the model's own space (what `encode` returns), so any player normalises them with the
model it plays; the header names the model and its latent size, and `check_model` refuses an atlas
made for another latent size with one line.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import AtlasError

FORMAT = "rave-engine-atlas"
FORMAT_VERSION = 1
DESCRIPTOR_NAMES = ("loudness_db", "centroid_hz", "onset_rate", *(f"chroma_{p}" for p in (
    "C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")))
_ARRAYS = ("chunk_file", "chunk_start", "chunk_seconds", "chunk_latent", "chunk_latent_std", "positions",
           "clusters", "descriptors", "frames", "frame_chunk")


@dataclass
class Atlas:
    """Per chunk i: `chunk_latent[i]` (mean latent), `positions[i]` (3D map, each axis in -1..1),
    `clusters[i]`, `descriptors[i]` (DESCRIPTOR_NAMES), file `files[chunk_file[i]]` from
    `chunk_start[i]` for `chunk_seconds[i]`. `frames` holds every latent frame (rows), `frame_chunk`
    the chunk each belongs to: the codebook and `explore play` read them."""

    latent_size: int
    model_name: str
    model_sha256: str
    model_rate: int
    frame_seconds: float
    map_method: str  # "umap" or "pca"
    files: list[str]
    chunk_file: np.ndarray
    chunk_start: np.ndarray
    chunk_seconds: np.ndarray
    chunk_latent: np.ndarray
    chunk_latent_std: np.ndarray
    positions: np.ndarray
    clusters: np.ndarray
    descriptors: np.ndarray
    frames: np.ndarray
    frame_chunk: np.ndarray
    collection: str = ""
    skipped: list[str] = field(default_factory=list)  # files that could not be read, with the reason

    @property
    def chunks(self) -> int:
        return int(self.chunk_latent.shape[0])

    @property
    def n_clusters(self) -> int:
        return int(self.clusters.max()) + 1 if self.chunks else 0

    def cluster_members(self, cluster: int) -> np.ndarray:
        """Chunk indices of `cluster`, most typical first (nearest its centroid in the latent space)."""
        members = np.flatnonzero(self.clusters == cluster)
        if members.size == 0:
            return members
        latents = self.chunk_latent[members].astype(np.float64)
        spread = latents.std(axis=0) + 1e-9
        distance = np.linalg.norm((latents - latents.mean(axis=0)) / spread, axis=1)
        return members[np.argsort(distance, kind="stable")]

    def check_model(self, latent_size: int | None, model_name: str = "the model") -> None:
        """AtlasError when the atlas's latents cannot be played by a model of `latent_size`."""
        if latent_size != self.latent_size:
            raise AtlasError(f"atlas made with {self.model_name} (latent size {self.latent_size}) cannot play "
                             f"on {model_name} (latent size {latent_size}): map the collection again with "
                             f"`explore --model` that model")

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            raise AtlasError(f"{path}: an atlas file ends in .npz")
        if not path.parent.is_dir():
            raise AtlasError(f"{path}: folder {path.parent} does not exist")
        header = {"format": FORMAT, "version": FORMAT_VERSION, "latent_size": self.latent_size,
                  "model_name": self.model_name, "model_sha256": self.model_sha256,
                  "model_rate": self.model_rate, "frame_seconds": self.frame_seconds,
                  "map_method": self.map_method, "files": self.files, "collection": self.collection,
                  "skipped": self.skipped, "descriptor_names": list(DESCRIPTOR_NAMES)}
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        tmp = path.with_name(path.name + ".part.npz")
        np.savez_compressed(tmp, header=np.array(json.dumps(header)), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Atlas:
        """Read an atlas; every problem (missing, not an atlas, another version, damaged) is one AtlasError."""
        path = Path(path)
        if not path.is_file():
            raise AtlasError(f"{path}: no such atlas file")
        if not zipfile.is_zipfile(path):
            raise AtlasError(f"{path} is not an atlas (not an .npz archive; make one with `explore --collection`)")
        try:
            with np.load(path, allow_pickle=False) as data:
                if "header" not in data.files:
                    raise AtlasError(f"{path} is not an atlas (no header; make one with `explore --collection`)")
                header = json.loads(str(data["header"]))
                if header.get("format") != FORMAT:
                    raise AtlasError(f"{path} is not an atlas (format {header.get('format')!r})")
                if header.get("version") != FORMAT_VERSION:
                    raise AtlasError(f"{path}: atlas format version {header.get('version')}, this engine reads "
                                     f"version {FORMAT_VERSION}: map the collection again")
                missing = [name for name in _ARRAYS if name not in data.files]
                if missing:
                    raise AtlasError(f"{path}: damaged atlas, missing {', '.join(missing)}")
                arrays = {name: data[name] for name in _ARRAYS}
        except AtlasError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, KeyError) as exc:
            raise AtlasError(f"{path} is not an atlas: {str(exc).splitlines()[0][:120]}") from None
        atlas = cls(latent_size=int(header["latent_size"]), model_name=str(header["model_name"]),
                    model_sha256=str(header["model_sha256"]), model_rate=int(header["model_rate"]),
                    frame_seconds=float(header["frame_seconds"]), map_method=str(header["map_method"]),
                    files=[str(f) for f in header["files"]], collection=str(header.get("collection", "")),
                    skipped=[str(s) for s in header.get("skipped", [])], **arrays)
        atlas.validate(path)
        return atlas

    def validate(self, where: str | Path = "atlas") -> None:
        """Shapes that agree with each other; AtlasError naming the first that does not."""
        n, d = self.chunk_latent.shape if self.chunk_latent.ndim == 2 else (-1, -1)
        problems = []
        if n < 1 or d != self.latent_size:
            problems.append(f"chunk_latent {self.chunk_latent.shape} for latent size {self.latent_size}")
        for name, shape in (("chunk_file", (n,)), ("chunk_start", (n,)), ("chunk_seconds", (n,)),
                            ("chunk_latent_std", (n, d)), ("positions", (n, 3)), ("clusters", (n,)),
                            ("descriptors", (n, len(DESCRIPTOR_NAMES)))):
            if getattr(self, name).shape != shape:
                problems.append(f"{name} {getattr(self, name).shape}, expected {shape}")
        if self.frames.ndim != 2 or self.frames.shape[1] != d or self.frame_chunk.shape != (self.frames.shape[0],):
            problems.append(f"frames {self.frames.shape} / frame_chunk {self.frame_chunk.shape}")
        if not problems and (self.chunk_file.max() >= len(self.files) or self.clusters.min() < 0
                             or self.frame_chunk.max(initial=0) >= n
                             or not np.isfinite(self.chunk_latent).all() or not np.isfinite(self.frames).all()):
            problems.append("indices out of range or non-finite latents")
        if problems:
            raise AtlasError(f"{where}: damaged atlas: {problems[0]}")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
