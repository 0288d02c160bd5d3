"""Themes: TOML files in `presets/themes/` that say how the audio drives the visuals.

A theme is a look a VJ can switch to live: a prompt (with style modifiers, variations and optional
per-pitch-class prompts for the diffusion generator), offsets and clamps for the visual parameters,
feature -> parameter mappings with curves and smoothing, actions fired on beats, an energy-spike
detector, and a palette for the cppn generator. `ThemeMapper` (theme_mapper.py) turns a theme and
the audio features into a `VisualFrame` each video frame.

Everything is validated when the file is read, so the frame loop is plain arithmetic: unknown keys
are refused (a typo must not silently do nothing), and every error names the file, the key path
(`mapping[2].curve`) and the problem.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from engine.analysis.features import FEATURE_NAMES, PITCH_CLASSES
from engine.errors import EngineError, ParamError, PresetError
from engine.params.table import build_param_table
from engine.visual.frame_input import DEFAULT_PALETTE, Colour

THEMES_DIR = Path(__file__).resolve().parents[2] / "presets" / "themes"

VisualParam = Literal["noise_scale", "speed", "zoom", "warp", "hue", "brightness", "feedback"]
VISUAL_PARAMS: tuple[str, ...] = get_args(VisualParam)


def _visual_ranges() -> dict[str, tuple[float, float, float]]:
    """(minimum, maximum, default) of each `/visual/<param>` in the parameter table (engine/params/table.py)."""
    rows = {p.address: p for p in build_param_table(1) if p.address.startswith("/visual/")}
    ranges: dict[str, tuple[float, float, float]] = {}
    for name in VISUAL_PARAMS:
        row = rows.get(f"/visual/{name}")
        if row is None or row.minimum is None or row.maximum is None:
            raise EngineError(f"/visual/{name}: not a ranged parameter in engine/params/table.py")
        ranges[name] = (float(row.minimum), float(row.maximum), float(row.default))
    return ranges


# The engine's range and default of each `/visual/<param>`, read from the parameter table.
_RANGES = _visual_ranges()
PARAM_BOUNDS: dict[str, tuple[float, float]] = {name: (lo, hi) for name, (lo, hi, _) in _RANGES.items()}
PARAM_DEFAULTS: dict[str, float] = {name: default for name, (_, _, default) in _RANGES.items()}
Curve = Literal["linear", "exponential", "logarithmic", "stepped"]
BeatActionName = Literal["pulse_noise", "cache_reset", "prompt_cycle", "transition_trigger"]

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _hex_colour(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError(f"{value!r} is not a colour of the form '#rrggbb'")
    return value


def _feature_name(value: str) -> str:
    if value not in FEATURE_NAMES:
        close = difflib.get_close_matches(value, FEATURE_NAMES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{value!r} is not a feature name ({hint}features: {', '.join(FEATURE_NAMES)})")
    return value


HexColour = Annotated[str, AfterValidator(_hex_colour)]
FeatureName = Annotated[str, AfterValidator(_feature_name)]


class _Strict(BaseModel):
    # strict: "0.5" is not a number and true is not 1; extra="forbid": a misspelt key is an error.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PromptSpec(_Strict):
    base: str = ""  # the subject; `/visual/prompt` replaces it when non-empty
    style: list[str] = []  # modifiers appended to every prompt, comma-separated
    negative: str = ""
    variations: list[str] = []  # cycled (after `base`) by spikes, prompt_cycle and transition_trigger
    blend_seconds: float = Field(2.0, ge=0.0, le=30.0)  # slerp time of a spike or transition_trigger change
    chroma: list[str] | None = None  # 12 prompts, C..B, weighted by the chroma features (diffusion)
    chroma_smoothing_ms: float = Field(250.0, ge=0.0, le=10000.0)

    @field_validator("chroma")
    @classmethod
    def _twelve(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(value) != len(PITCH_CLASSES):
            raise ValueError(f"needs 12 prompts, one per pitch class {PITCH_CLASSES[0]}..{PITCH_CLASSES[-1]}; "
                             f"got {len(value)}")
        return value


class ParamOffsets(_Strict):
    """Added to the engine's value of each `/visual/<param>`, in that parameter's units."""

    noise_scale: float = Field(0.0, ge=-1.0, le=1.0)
    speed: float = Field(0.0, ge=-1.0, le=1.0)
    zoom: float = Field(0.0, ge=-1.0, le=1.0)
    warp: float = Field(0.0, ge=-1.0, le=1.0)
    hue: float = Field(0.0, ge=-1.0, le=1.0)
    brightness: float = Field(0.0, ge=-2.0, le=2.0)
    feedback: float = Field(0.0, ge=-1.0, le=1.0)


class Range(_Strict):
    min: float | None = None
    max: float | None = None


class ParamRanges(_Strict):
    """Clamps per parameter; an omitted bound is the engine's own. Hue wraps unless a range is given."""

    noise_scale: Range | None = None
    speed: Range | None = None
    zoom: Range | None = None
    warp: Range | None = None
    hue: Range | None = None
    brightness: Range | None = None
    feedback: Range | None = None

    def bounds(self, param: str) -> tuple[float, float]:
        lo, hi = PARAM_BOUNDS[param]
        given: Range | None = getattr(self, param)
        if given is None:
            return lo, hi
        return (lo if given.min is None else given.min), (hi if given.max is None else given.max)


class FeatureMapping(_Strict):
    feature: FeatureName
    param: VisualParam
    curve: Curve = "linear"
    steps: int | None = Field(None, ge=2, le=64)  # levels of a stepped curve (default 4)
    sensitivity: float = Field(1.0, ge=0.0)  # input gain before the curve (input clipped to 0..1)
    amount: float  # signed, in the parameter's units: what a full-scale input adds
    smoothing_ms: float = Field(0.0, ge=0.0, le=30000.0)  # one-pole time constant on the input
    attack_ms: float | None = Field(None, ge=0.0, le=30000.0)  # override smoothing_ms for rises
    release_ms: float | None = Field(None, ge=0.0, le=30000.0)  # and for falls


class BeatAction(_Strict):
    """What a beat does. `amount`: pulse_noise's boost (0.3), transition_trigger's palette steps (1).
    `decay_ms`: pulse_noise's fall time (300), transition_trigger's blend (prompt.blend_seconds)."""

    action: BeatActionName
    every: int = Field(1, ge=1, le=1024)  # fire on every Nth beat (N, 2N, ...) since the theme started
    amount: float | None = None
    decay_ms: float | None = Field(None, ge=0.0, le=30000.0)


class Spike(_Strict):
    """A rise of `feature` by more than `threshold` above its slow running mean -> the next variation."""

    feature: FeatureName = "level"
    threshold: float = Field(0.2, gt=0.0, le=1.0)
    window_seconds: float = Field(4.0, gt=0.0, le=120.0)  # time constant of the running mean
    cooldown_seconds: float = Field(4.0, ge=0.0, le=600.0)
    blend_seconds: float | None = Field(None, ge=0.0, le=30.0)  # default: prompt.blend_seconds


class Theme(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    prompt: PromptSpec = PromptSpec()
    offset: ParamOffsets = ParamOffsets()
    range: ParamRanges = ParamRanges()
    mapping: list[FeatureMapping] = []
    beat: list[BeatAction] = []
    spike: Spike | None = None
    palette: list[HexColour] | None = None  # 2..8 colours for the cppn generator

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("palette")
    @classmethod
    def _palette_size(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not 2 <= len(value) <= 8:
            raise ValueError(f"needs 2 to 8 colours, got {len(value)}")
        return value

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def colours(self) -> tuple[Colour, ...]:
        if self.palette is None:
            return DEFAULT_PALETTE
        return tuple((int(c[1:3], 16) / 255.0, int(c[3:5], 16) / 255.0, int(c[5:7], 16) / 255.0)
                     for c in self.palette)

    def matches(self, name: str) -> bool:
        """Whether `name` (a theme name, file stem or path) refers to this theme."""
        lowered = name.lower()
        if lowered == self.name.lower():
            return True
        return self._path is not None and (lowered == self._path.stem.lower() or Path(name) == self._path)


def _cross_checks(theme: Theme) -> list[tuple[str, str]]:
    """What a single field cannot check: references between sections."""
    problems: list[tuple[str, str]] = []
    for param in VISUAL_PARAMS:
        given: Range | None = getattr(theme.range, param)
        if given is None:
            continue
        lo, hi = PARAM_BOUNDS[param]
        for bound in ("min", "max"):
            value = getattr(given, bound)
            if value is not None and not lo <= value <= hi:
                problems.append((f"range.{param}.{bound}", f"{value:g} is outside {param}'s range {lo:g}..{hi:g}"))
        low, high = theme.range.bounds(param)
        if low > high:
            problems.append((f"range.{param}", f"min {low:g} is above max {high:g}"))
    if not theme.prompt.variations:
        for i, action in enumerate(theme.beat):
            if action.action == "prompt_cycle":
                problems.append((f"beat[{i}].action", "prompt_cycle needs prompt.variations (none given)"))
        if theme.spike is not None:
            problems.append(("spike", "an energy spike selects a prompt variation: prompt.variations is empty"))
    for i, mapping in enumerate(theme.mapping):
        if mapping.steps is not None and mapping.curve != "stepped":
            problems.append((f"mapping[{i}].steps", f"only a stepped curve has steps (curve is {mapping.curve!r})"))
    return problems


def _key_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _unwrap(hint: object) -> object:
    """`X | None` -> X; Annotated[X, ...] -> X."""
    while True:
        origin = get_origin(hint)
        if origin is typing.Annotated:
            hint = get_args(hint)[0]
        elif origin in (typing.Union, types.UnionType):
            hint = next(a for a in get_args(hint) if a is not type(None))
        else:
            return hint


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the schema accepts at `loc` (where an unknown key was found)."""
    hint: object = Theme
    for part in loc:
        hint = _unwrap(hint)
        if isinstance(hint, type) and issubclass(hint, BaseModel) and isinstance(part, str):
            if part not in hint.model_fields:
                return []
            hint = hint.model_fields[part].annotation
        elif get_origin(hint) is list and isinstance(part, int):
            hint = get_args(hint)[0]
        else:
            return []
    hint = _unwrap(hint)
    return list(hint.model_fields) if isinstance(hint, type) and issubclass(hint, BaseModel) else []


def _problem(error: Any) -> str:
    kind = error["type"]
    if kind == "literal_error":
        choices = str(error["ctx"]["expected"]).replace("'", "").replace(" or ", ", ")
        return f"{error['input']!r} is not one of {choices}"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        allowed = _allowed_keys(tuple(error["loc"][:-1]))
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key {key!r} ({hint}allowed: {', '.join(allowed)})"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "missing":
        return "required, but missing"
    return f"{error['msg']}, got {error['input']!r}"


def read_theme(path: Path) -> Theme:
    """Read and validate one theme file; every problem raises PresetError naming file, key and problem."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise PresetError(f"{path}: no such theme file") from None
    except tomllib.TOMLDecodeError as exc:  # its message carries "(at line L, column C)"
        raise PresetError(f"{path}: not valid TOML: {exc}") from None
    data.setdefault("name", path.stem)
    try:
        theme = Theme.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        first = errors[0]
        raise PresetError(f"{path}: {_key_path(tuple(first['loc']))}: {_problem(first)}{more}") from None
    problems = _cross_checks(theme)
    if problems:
        key, problem = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PresetError(f"{path}: {key}: {problem}{more}")
    theme._path = path
    return theme


def list_themes(directory: Path = THEMES_DIR) -> list[str]:
    """Theme names (file stems) in `directory`, sorted; files are not parsed, so one bad file hides none."""
    return sorted(p.stem for p in directory.glob("*.toml"))


def find_theme(name_or_path: str, directory: Path = THEMES_DIR) -> Path:
    """A theme by name (the file stem, case-insensitive) or by path to a TOML file."""
    as_path = Path(name_or_path)
    if as_path.suffix == ".toml" or len(as_path.parts) > 1:
        if not as_path.is_file():
            raise PresetError(f"{as_path}: no such theme file")
        return as_path
    for path in sorted(directory.glob("*.toml")):
        if path.stem.lower() == name_or_path.lower():
            return path
    known = ", ".join(list_themes(directory)) or "none"
    raise PresetError(f"unknown theme {name_or_path!r} (known: {known})")


def load_theme(name_or_path: str, directory: Path = THEMES_DIR) -> Theme:
    return read_theme(find_theme(name_or_path, directory))


def check_theme_name(value: object) -> None:
    """The parameter store's check on `/visual/theme`: a theme in presets/themes that loads. Names only:
    a path from the network must not probe the file system."""
    name = str(value)
    if "/" in name or "\\" in name or name.endswith(".toml"):
        raise ParamError(f"/visual/theme: {name!r} is a path; give a theme name from presets/themes "
                         f"({', '.join(list_themes())})")
    try:
        load_theme(name)
    except EngineError as exc:
        raise ParamError(f"/visual/theme: {exc}") from None
