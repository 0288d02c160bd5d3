"""`explore play ATLAS --cluster N --out F.wav`: hear a cluster as the model plays it.

The cluster's chunks, most typical first, are strung together as one latent loop (their own encoded
frames) and played through the render graph as source A, without texture or chaos, through the master
stage: what the model makes of that part of the collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn

from engine.errors import AtlasError
from engine.explore.atlas import Atlas, file_sha256
from engine.io.audio_files import write_wav
from engine.latent.sources import ReferenceLoop
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph

DEFAULT_PLAY_SECONDS = 30.0  # at most: a short cluster plays once


@dataclass
class PlayResult:
    out: Path
    seconds: float
    chunks: int
    rate: int
    note: str = ""  # set when the model is not the one the atlas was made with


def cluster_frames(atlas: Atlas, cluster: int) -> tuple[np.ndarray, int]:
    """(frames, latent_size) model-space latents of the cluster's chunks, most typical first, and how many chunks."""
    if not 0 <= cluster < atlas.n_clusters:
        raise AtlasError(f"--cluster {cluster}: the atlas has clusters 0..{atlas.n_clusters - 1}")
    members = atlas.cluster_members(cluster)
    order = np.argsort(atlas.frame_chunk, kind="stable")
    bounds = np.searchsorted(atlas.frame_chunk[order], np.arange(atlas.chunks + 1))
    rows = np.concatenate([order[bounds[i]:bounds[i + 1]] for i in members])
    return atlas.frames[rows], len(members)


def play_cluster(atlas_path: Path, cluster: int, out: Path, model_path: Path, *, seconds: float | None = None,
                 seed: int = 0, progress: bool = False) -> PlayResult:
    atlas = Atlas.load(atlas_path)
    model = NNModel.load(model_path)
    atlas.check_model(model.latent_size, model.path.name)
    if seconds is not None and seconds <= 0:
        raise AtlasError(f"--seconds must be positive, got {seconds:g}")
    frames, chunks = cluster_frames(atlas, cluster)
    stats = model.latent_statistics()
    latents = frames.T.astype(np.float64)
    if stats is not None:  # the graph's sources live in the model's normalised space
        latents = (latents - stats[0][:, None]) / stats[1][:, None]
    store = ParamStore(build_param_table(int(atlas.latent_size)))
    store.set_many({"/rave/source/a": "ref1", "/rave/texture": 0.0, "/rave/chaos": 0.0})
    graph = RenderGraph(model, store, seed=seed, references={"ref1": ReferenceLoop(latents, "ref1")})
    length = frames.shape[0] * graph.frame_seconds
    seconds = min(length, DEFAULT_PLAY_SECONDS) if seconds is None else seconds
    total = int(round(seconds * graph.output_rate))
    blocks, done = [], 0
    with Progress(TextColumn(f"cluster {cluster}"), BarColumn(), disable=not progress, transient=True) as bar:
        task = bar.add_task("play", total=total)
        while done < total:
            blocks.append(graph.next_frame())
            done += blocks[-1].shape[0]
            bar.update(task, completed=done)
    write_wav(out, np.concatenate(blocks)[:total], graph.output_rate)
    note = "" if file_sha256(model.path) == atlas.model_sha256 else (
        f"the atlas was made with {atlas.model_name}, not with {model.path.name}: its latents may mean other sounds")
    return PlayResult(out, seconds, chunks, graph.output_rate, note)
