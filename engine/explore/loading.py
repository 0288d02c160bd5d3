"""Turning `/rave/codebook` and `/explore/atlas` values into what a graph's AtlasSteering plays.

Offline render reads both once, before the first frame (paths as the command line gives them); the
live session loads them on its own thread (engine/session/atlas_loader.py) with paths confined like
models.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from engine.explore.atlas import Atlas
from engine.explore.codebook import Codebook
from engine.explore.regions import AtlasRegions
from engine.explore.steering import AtlasSteering
from engine.params.param import Value

OFF = ("", "off")
ATLAS_PATHS = ("/rave/codebook", "/explore/atlas")  # the addresses whose value is an atlas file


def requested(value: Value) -> str | None:
    """The atlas path a `/rave/codebook` or `/explore/atlas` value names; None for empty or `off`."""
    text = str(value).strip()
    return None if text.lower() in OFF else text


def load_checked(path: str | Path, latent_size: int, model_name: str) -> Atlas:
    """Load an atlas the playing model can use (same latent size), or raise one AtlasError."""
    atlas = Atlas.load(path)
    atlas.check_model(latent_size, model_name)
    return atlas


def apply_before_render(steering: AtlasSteering, values: Mapping[str, Value],
                        statistics: tuple[np.ndarray, np.ndarray], model_name: str) -> None:
    """Offline: load what `/rave/codebook` and `/explore/atlas` name into `steering`, at once (no fade)."""
    loaded: dict[str, Atlas] = {}
    for address in ATLAS_PATHS:
        path = requested(values[address])
        if path is None:
            continue
        if path not in loaded:
            loaded[path] = load_checked(path, steering.latent_size, model_name)
        if address == "/rave/codebook":
            steering.use_codebook(Codebook.from_atlas(loaded[path], *statistics, steering.frame_seconds), fade=False)
        else:
            steering.use_regions(AtlasRegions(loaded[path], *statistics))
