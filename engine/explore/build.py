"""`explore --collection DIR`: encode every audio file of a folder into latent chunks and map them.

Each file is read in blocks, mixed to mono, described with librosa (descriptors.py), brought to the
model's rate and encoded (streaming state kept within a file, reset between files); its latent frames
are cut into chunks of `chunk_seconds`, each summarised by its mean latent (and spread) and its
descriptors. The chunks' normalised
latents are then laid out in 3D (map3d.py) and clustered with k-means (clusters.py).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from engine.errors import AtlasError, AudioFileError
from engine.explore.atlas import Atlas, file_sha256
from engine.explore.clusters import DEFAULT_CLUSTERS, cluster_chunks
from engine.explore.descriptors import DescriptorFrames
from engine.explore.map3d import map_3d
from engine.io.audio_files import audio_files
from engine.models.default import DEFAULT_MODEL
from engine.models.nn_tilde import NNModel
from engine.models.resample import Resampler
from engine.params.table import MAX_ATLAS_CLUSTERS

DEFAULT_CHUNK_SECONDS = 2.0
READ_BLOCK_SECONDS = 30.0  # audio read, described and encoded at a time: long files never sit whole in memory


@dataclass
class ExploreRequest:
    collection: Path
    out: Path | None = None
    model: Path = DEFAULT_MODEL
    clusters: int = DEFAULT_CLUSTERS
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    seed: int = 0
    map_method: str = "auto"  # auto (UMAP where installed), umap or pca
    progress: bool = False


@dataclass
class ExploreResult:
    atlas: Atlas
    audio_seconds: float
    wall_seconds: float
    stages: dict[str, float]  # seconds spent encoding, describing, mapping, clustering


def find_audio(collection: Path) -> list[Path]:
    """Every audio file under `collection`, sorted; AtlasError for a missing folder or one with none."""
    if not collection.exists():
        raise AtlasError(f"{collection}: no such folder")
    if not collection.is_dir():
        raise AtlasError(f"{collection}: not a folder (give the folder that holds the collection)")
    files = audio_files(collection)
    if not files:
        raise AtlasError(f"{collection}: no audio files (wav, flac, ogg, mp3, aiff) in it or its subfolders")
    return files


def _check(request: ExploreRequest) -> None:
    if not 1 <= request.clusters <= MAX_ATLAS_CLUSTERS:
        raise AtlasError(f"--clusters must be 1..{MAX_ATLAS_CLUSTERS}, got {request.clusters}")
    if not 0.05 <= request.chunk_seconds <= 60:
        raise AtlasError(f"--chunk-seconds must be 0.05..60, got {request.chunk_seconds:g}")
    if request.out is not None and request.out.suffix != ".npz":
        raise AtlasError(f"--out {request.out}: an atlas file ends in .npz")
    if request.out is not None and not request.out.parent.is_dir():
        raise AtlasError(f"--out {request.out}: folder {request.out.parent} does not exist")


class FileEncoder:
    """Encodes one file's audio (mono, model rate) pushed in blocks; the streaming state runs on
    across blocks and is reset at the start and the end of the file."""

    def __init__(self, model: NNModel) -> None:
        self.model = model
        spec = model.require("encode")
        self._channels = spec.in_channels
        self._ratio = max(1, spec.out_ratio // spec.in_ratio)  # input samples per latent frame
        self._pending = np.zeros(0, dtype=np.float32)
        self._latents: list[np.ndarray] = []
        model.reset()

    def push(self, mono: np.ndarray) -> None:
        self._pending = np.concatenate([self._pending, mono.astype(np.float32)])
        whole = self._pending.shape[0] // self._ratio * self._ratio
        if whole:
            self._encode(self._pending[:whole])
            self._pending = self._pending[whole:]

    def finish(self) -> np.ndarray:
        """(frames, latent_size): the rest padded with silence to a whole frame (at least one frame)."""
        if self._pending.shape[0] or not self._latents:
            padded = np.zeros(self._ratio, dtype=np.float32)
            padded[: self._pending.shape[0]] = self._pending
            self._encode(padded)
        self.model.reset()
        latents = np.concatenate(self._latents).astype(np.float32)
        if not np.isfinite(latents).all():
            raise AtlasError(f"{self.model.path.name}: the encoder gave non-finite latents")
        return latents

    def _encode(self, samples: np.ndarray) -> None:
        x = torch.from_numpy(np.ascontiguousarray(samples)).reshape(1, 1, -1)
        z = self.model.encode(x.expand(1, self._channels, x.shape[-1]).contiguous())[0]
        self._latents.append(z[: self.model.latent_size].numpy().T)


def encode_file(model: NNModel, mono: np.ndarray) -> np.ndarray:
    """(frames, latent_size) latents of mono audio at the model's rate."""
    encoder = FileEncoder(model)
    encoder.push(mono)
    return encoder.finish()


def _read_file(path: Path, model: NNModel, rate: int, stages: dict[str, float]
               ) -> tuple[np.ndarray, DescriptorFrames, float]:
    """Read `path` block by block: its latents, its descriptor frames and its length in seconds (the
    time spent describing and encoding added to `stages`). AudioFileError for a file that cannot be
    read or holds nothing."""
    try:
        with sf.SoundFile(str(path)) as handle:
            file_rate = handle.samplerate
            resampler = Resampler(file_rate, rate, 1) if file_rate != rate else None
            encoder, described, samples = FileEncoder(model), DescriptorFrames(file_rate), 0
            size = int(READ_BLOCK_SECONDS * file_rate)
            for block in handle.blocks(blocksize=size, dtype="float32", always_2d=True):
                mono = block.mean(axis=1)
                samples += mono.shape[0]
                t0 = time.perf_counter()
                described.add(mono)
                t1 = time.perf_counter()
                encoder.push(resampler.process(mono)[:, 0] if resampler is not None else mono)
                stages["describe"] += t1 - t0
                stages["encode"] += time.perf_counter() - t1
            if resampler is not None:
                encoder.push(resampler.flush()[:, 0])
            described.finish()
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioFileError(f"{path}: cannot read audio: {exc}") from None
    if samples == 0:
        raise AudioFileError(f"{path}: the file holds no samples")
    return encoder.finish(), described, samples / file_rate


def build_atlas(request: ExploreRequest, model: NNModel | None = None) -> ExploreResult:
    _check(request)
    files = find_audio(request.collection)
    model = model or NNModel.load(request.model)
    model.require("encode")
    model.require("decode")
    if model.latent_size is None:
        raise AtlasError(f"{model.path}: latent size unknown")
    rate = model.sample_rate or 48000
    frame_seconds = model.decode_ratio / rate
    per_chunk = max(1, round(request.chunk_seconds / frame_seconds))
    total_seconds = sum(_duration(p) for p in files)
    started = time.perf_counter()
    stages = {"encode": 0.0, "describe": 0.0, "map": 0.0, "cluster": 0.0}
    names: list[str] = []
    skipped: list[str] = []
    chunk_file, chunk_start, chunk_seconds, means, stds, descriptors, frames, frame_chunk = ([] for _ in range(8))
    audio_seconds = 0.0
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:.0f}/{task.total:.0f} s of audio"), TimeRemainingColumn(),
                  disable=not request.progress, transient=True) as progress:
        task = progress.add_task("encoding", total=max(total_seconds, 1e-9))
        for path in files:
            progress.update(task, description=f"encoding {path.name[:40]}")
            try:
                latents, described, seconds = _read_file(path, model, rate, stages)
            except AudioFileError as exc:
                skipped.append(str(exc))
                continue
            spans = _chunk_spans(latents.shape[0], per_chunk)
            file_index = len(names)
            names.append(path.relative_to(request.collection).as_posix())
            t0 = time.perf_counter()
            descriptors.append(described.chunks([(a * frame_seconds, (b - a) * frame_seconds) for a, b in spans]))
            stages["describe"] += time.perf_counter() - t0
            for a, b in spans:
                frame_chunk.append(np.full(b - a, len(means), dtype=np.int32))
                frames.append(latents[a:b])
                means.append(latents[a:b].mean(axis=0))
                stds.append(latents[a:b].std(axis=0))
                chunk_file.append(file_index)
                chunk_start.append(a * frame_seconds)
                chunk_seconds.append(min((b - a) * frame_seconds, max(seconds - a * frame_seconds, 0.0)))
            audio_seconds += seconds
            progress.update(task, advance=seconds)
    if not means:
        raise AtlasError(f"{request.collection}: none of its {len(files)} audio files could be read "
                         f"({skipped[0]})")
    chunk_latent = np.stack(means).astype(np.float32)
    points = normalised(model, chunk_latent)
    status = Console(stderr=True).status if request.progress else _quiet
    with status(f"mapping {len(means)} chunks in 3D and clustering them"):
        t0 = time.perf_counter()
        positions, method = map_3d(points, seed=request.seed, method=request.map_method)
        stages["map"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        clusters = cluster_chunks(points, request.clusters, seed=request.seed)
        stages["cluster"] = time.perf_counter() - t0
    atlas = Atlas(latent_size=int(model.latent_size), model_name=model.path.name,
                  model_sha256=file_sha256(model.path), model_rate=rate, frame_seconds=frame_seconds,
                  map_method=method, files=names, collection=str(request.collection.resolve()),
                  skipped=skipped, chunk_file=np.array(chunk_file, dtype=np.int32),
                  chunk_start=np.array(chunk_start, dtype=np.float32),
                  chunk_seconds=np.array(chunk_seconds, dtype=np.float32), chunk_latent=chunk_latent,
                  chunk_latent_std=np.stack(stds).astype(np.float32), positions=positions, clusters=clusters,
                  descriptors=np.concatenate(descriptors), frames=np.concatenate(frames),
                  frame_chunk=np.concatenate(frame_chunk))
    atlas.validate()
    if request.out is not None:
        atlas.save(request.out)
    return ExploreResult(atlas, audio_seconds, time.perf_counter() - started, stages)


def normalised(model: NNModel, latents: np.ndarray) -> np.ndarray:
    """Rows of model-space latents in the model's normalised space (its latent_mean/std), or z-scored
    over the rows for a model that ships no statistics: distances then weigh every dimension alike."""
    stats = model.latent_statistics()
    latents = latents.astype(np.float64)
    if stats is not None:
        return (latents - stats[0]) / stats[1]
    spread = latents.std(axis=0)
    return (latents - latents.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def _chunk_spans(n_frames: int, per_chunk: int) -> list[tuple[int, int]]:
    """(first, end) frame ranges; a last piece under half a chunk joins the one before it."""
    spans = [(a, min(a + per_chunk, n_frames)) for a in range(0, n_frames, per_chunk)]
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < per_chunk / 2:
        spans[-2:] = [(spans[-2][0], spans[-1][1])]
    return spans


def _quiet(_: str) -> AbstractContextManager[None]:
    return nullcontext()


def _duration(path: Path) -> float:
    try:
        info = sf.info(str(path))
        return float(info.frames) / float(info.samplerate)
    except Exception:  # unreadable: counted as nothing here, reported as skipped when read
        return 0.0
