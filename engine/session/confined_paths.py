"""Where files named over OSC may come from: a client must not make the engine read any file it likes.

A relative path names a file inside one of the engine's own folders (models/ for models; models/ or
presets/ for reference audio); an absolute one must sit inside one of those or under a folder the
performer allowed with --allow-model-dir. Symlinks and `..` are resolved before the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.errors import ParamError
from engine.models.default import MODELS_DIR

PRESETS_DIR = MODELS_DIR.parent / "presets"
MODEL_ROOTS = (MODELS_DIR,)
AUDIO_ROOTS = (MODELS_DIR, PRESETS_DIR)


def _inside(path: Path, folder: Path) -> bool:
    folder = folder.resolve()
    return folder == path.parent or folder in path.parents


def resolve_confined(request: str, address: str, roots: Sequence[Path], allowed_dirs: Sequence[Path]) -> Path:
    """The file `request` names, resolved; ParamError (naming `address`) when it leaves the folders."""
    path = Path(request)
    if not path.is_absolute():
        candidates = [(root / path).resolve() for root in roots]
        for root, candidate in zip(roots, candidates, strict=True):
            if _inside(candidate, root) and (candidate.exists() or root is roots[-1]):
                return candidate
        raise ParamError(f"{address}: {request!r} leaves the {' and '.join(r.name for r in roots)} folder")
    path = path.resolve()
    if not any(_inside(path, d) for d in (*roots, *allowed_dirs)):
        names = " and ".join(f"{r.name}/" for r in roots)
        raise ParamError(f"{address}: {request} is outside {names} and no --allow-model-dir covers it")
    return path
