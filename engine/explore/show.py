"""`explore show ATLAS [--json]`: what a collection holds, cluster by cluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from engine.explore.atlas import DESCRIPTOR_NAMES, Atlas

TYPICAL = 3  # most typical chunks listed per cluster
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def summary(atlas: Atlas, path: Path) -> dict[str, object]:
    """One JSON-able object: `chunks`, `clusters` (size, seconds, mean descriptors, most typical
    chunks), `files`, `latent_size` and how the atlas was made."""
    clusters = []
    for c in range(atlas.n_clusters):
        members = atlas.cluster_members(c)
        described = atlas.descriptors[members].mean(axis=0)
        descriptors = {name: round(float(v), 3) for name, v in zip(DESCRIPTOR_NAMES[:3], described[:3],
                                                                   strict=True)}
        descriptors["chroma"] = [round(float(v), 3) for v in described[3:]]
        descriptors["pitch_class"] = PITCH_CLASSES[int(np.argmax(described[3:]))]
        clusters.append({
            "cluster": c, "size": int(members.size), "seconds": round(float(atlas.chunk_seconds[members].sum()), 2),
            "position": [round(float(v), 3) for v in atlas.positions[members].mean(axis=0)],
            "descriptors": descriptors,
            "typical": [{"chunk": int(i), "file": atlas.files[atlas.chunk_file[i]],
                         "start": round(float(atlas.chunk_start[i]), 2)} for i in members[:TYPICAL]],
        })
    return {"atlas": str(path), "chunks": atlas.chunks, "clusters": clusters, "files": atlas.files,
            "latent_size": atlas.latent_size, "model": atlas.model_name, "map_method": atlas.map_method,
            "frames": int(atlas.frames.shape[0]), "seconds": round(float(atlas.chunk_seconds.sum()), 2),
            "skipped": atlas.skipped}


def show(path: Path, console: Console, *, as_json: bool = False) -> None:
    atlas = Atlas.load(path)
    info = summary(atlas, path)
    if as_json:
        print(json.dumps(info))
        return
    console.print(f"{path}: {info['chunks']} chunks ({info['seconds']} s) from {len(atlas.files)} files, "
                  f"{atlas.n_clusters} clusters, latent size {atlas.latent_size} ({atlas.model_name}), "
                  f"map: {atlas.map_method}", highlight=False)
    table = Table("cluster", "chunks", "seconds", "loudness dB", "centroid Hz", "onsets/s", "pitch",
                  "most typical chunks")
    for cluster in info["clusters"]:  # type: ignore[union-attr]
        d = cluster["descriptors"]
        typical = ", ".join(f"{t['file']}@{t['start']:.1f}s" for t in cluster["typical"])
        table.add_row(str(cluster["cluster"]), str(cluster["size"]), f"{cluster['seconds']:.1f}",
                      f"{d['loudness_db']:.1f}", f"{d['centroid_hz']:.0f}", f"{d['onset_rate']:.2f}",
                      d["pitch_class"], typical)
    console.print(table)
    for line in atlas.skipped:
        console.print(f"skipped: {line}", highlight=False)
