"""Scenes: named sets of parameter values in `presets/scenes/*.toml`, recalled with a morph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from engine.errors import ParamError, PresetError
from engine.params.param import Value
from engine.params.store import ParamStore
from engine.presets.toml_file import read_toml

SCENES_DIR = Path(__file__).resolve().parents[2] / "presets" / "scenes"


class _SceneFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    params: dict[str, float | int | bool | str]


@dataclass(frozen=True)
class Scene:
    name: str
    description: str
    values: dict[str, Value]
    path: Path


def list_scenes(directory: Path = SCENES_DIR) -> list[str]:
    return sorted(_read(p).name for p in directory.glob("*.toml"))


def find_scene(name: str, directory: Path = SCENES_DIR) -> Path:
    """A scene by name (case-insensitive) or by path to a TOML file."""
    as_path = Path(name)
    if as_path.suffix == ".toml" and as_path.is_file():
        return as_path
    for path in sorted(directory.glob("*.toml")):
        if path.stem.lower() == name.lower() or _read(path).name.lower() == name.lower():
            return path
    known = ", ".join(list_scenes(directory)) or "none"
    raise PresetError(f"unknown scene {name!r} (known: {known})")


def load_scene(name: str, store: ParamStore, directory: Path = SCENES_DIR) -> Scene:
    """Load and validate a scene against the store: every address must exist and every value fit."""
    path = find_scene(name, directory)
    raw = _read(path)
    values: dict[str, Value] = {}
    for address, value in raw.params.items():
        if address.startswith("/rave/latent/") and address not in store:
            continue  # scenes written for a larger latent than this model's: skip the extra dimensions
        if address in store and store.param(address).is_trigger:
            continue  # an event (a hard cut, a pulse) is not part of a state to recall
        try:
            values[address] = store.validate(address, value)
        except ParamError as exc:
            raise PresetError(f"{path}: params.{address!r}: {exc}") from None
    return Scene(raw.name, raw.description, values, path)


def _read(path: Path) -> _SceneFile:
    return read_toml(path, _SceneFile, "scene")
