"""Automation files: timed parameter changes, ramps and scene morphs for offline render.

```toml
[[event]]
time = 2.0                 # seconds from the start
address = "/rave/energy"
value = 1.6
ramp = 4.0                 # optional: glide there over 4 s (continuous parameters)

[[event]]
time = 8.0
scene = "Intense"          # recall a scene, morphing over `ramp` seconds
ramp = 3.0
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.errors import ParamError, PresetError
from engine.params.param import Value
from engine.params.store import ParamStore
from engine.presets.scenes import load_scene
from engine.presets.toml_file import read_toml
from engine.render.timeline import Timeline


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: float = Field(ge=0.0)
    address: str | None = None
    value: float | int | bool | str | None = None
    scene: str | None = None
    ramp: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _one_kind(self) -> _Event:
        if (self.scene is None) == (self.address is None):
            raise ValueError("each event needs either `address` and `value`, or `scene`")
        if self.address is not None and self.value is None:
            raise ValueError(f"event for {self.address} has no `value`")
        return self


class _AutomationFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: list[_Event] = Field(default_factory=list)


@dataclass(frozen=True)
class Automation:
    path: Path
    events: tuple[tuple[float, dict[str, Value], float], ...]  # (time, values, ramp seconds)

    def schedule(self, timeline: Timeline) -> None:
        for time, values, ramp in self.events:
            timeline.schedule(time, values, ramp)


def load_automation(path: str | Path, store: ParamStore) -> Automation:
    """Parse and validate every event up front, so a typo fails before the render starts."""
    path = Path(path)
    raw = read_toml(path, _AutomationFile, "automation")
    events = []
    for n, event in enumerate(raw.event):
        if event.scene is not None:
            values = load_scene(event.scene, store).values
        else:
            assert event.address is not None
            try:
                value = event.value if not isinstance(event.value, str) else store.parse(event.address, event.value)
                values = {event.address: store.validate(event.address, value)}
            except ParamError as exc:
                raise PresetError(f"{path}: event[{n}]: {exc}") from None
        events.append((event.time, values, event.ramp))
    return Automation(path, tuple(sorted(events, key=lambda e: e[0])))
