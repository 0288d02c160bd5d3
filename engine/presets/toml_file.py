"""Reading a TOML preset into its pydantic schema, with errors that name the file, the key and the problem."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import PresetError

Schema = TypeVar("Schema", bound=BaseModel)


def read_toml(path: Path, schema: type[Schema], what: str = "preset") -> Schema:
    try:
        with path.open("rb") as f:
            return schema.model_validate(tomllib.load(f))
    except FileNotFoundError:
        raise PresetError(f"{path}: no such {what} file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise PresetError(f"{path}: {key}: {first['msg']}") from None
