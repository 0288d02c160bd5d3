"""The generator interface and the registry the visual process picks from by name."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import numpy as np

from engine.errors import VisualError
from engine.visual.frame_input import VisualFrame
from engine.visual.frame_size import check_frame_size

# name -> "module:Class"; imported on demand so `cppn` never imports diffusers.
GENERATORS: dict[str, str] = {
    "cppn": "engine.visual.generators.cppn:CppnGenerator",
    "diffusion": "engine.visual.generators.diffusion:DiffusionGenerator",
    "texture": "engine.visual.generators.latent_texture:TextureGenerator",
}


class Generator(Protocol):
    name: ClassVar[str]
    width: int
    height: int

    def render(self, frame: VisualFrame) -> np.ndarray:
        """The next image: (height, width, 3) uint8, C-contiguous."""
        ...

    def close(self) -> None: ...


def create_generator(name: str, width: int, height: int, *, seed: int = 0,
                     options: Mapping[str, Any] | None = None) -> Generator:
    if name not in GENERATORS:
        raise VisualError(f"generator {name!r} is unknown; choose one of {', '.join(GENERATORS)}")
    check_frame_size(width, height)
    module_name, class_name = GENERATORS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(width, height, seed=seed, **dict(options or {}))
