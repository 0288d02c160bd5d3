"""One control: address, kind, range, default, unit and smoothing, with its own validation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from engine.errors import ParamError

Value = float | int | bool | str

MAX_STRING_LENGTH = 256


TRIGGER = "trigger"  # unit of INT params where every non-zero write counts one event (ParamStore.set_many)


class Kind(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    ENUM = "enum"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter record in the table; values outside [minimum, maximum] are clamped, never refused."""

    address: str
    kind: Kind
    default: Value
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    smoothing_ms: float = 0.0
    choices: tuple[str, ...] = ()
    description: str = ""

    @property
    def is_trigger(self) -> bool:
        """An event, not a state: never saved in or recalled from a scene."""
        return self.unit == TRIGGER

    @property
    def continuous(self) -> bool:
        """Float parameters are smoothed, modulated by LFOs and interpolated by scene morphs."""
        return self.kind is Kind.FLOAT

    def coerce(self, value: object) -> Value:
        """Return `value` as this parameter's type, clamped to its range; raise ParamError otherwise.

        Ints are accepted for floats, integral floats for ints, 0/1 for bools (OSC senders such as
        Pure Data only send floats). Strings are refused for numbers: use `parse` for text input.
        """
        if self.kind is Kind.FLOAT:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._type_error(value, "a number")
            number = float(value)
            if not math.isfinite(number):
                raise ParamError(f"{self.address}: {value!r} is not a finite number")
            return self._clamp(number)
        if self.kind is Kind.INT:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._type_error(value, "an integer")
            if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
                raise ParamError(f"{self.address}: {value!r} is not an integer")
            return int(self._clamp(int(value)))
        if self.kind is Kind.BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, int | float) and value in (0, 1):
                return bool(value)
            raise self._type_error(value, "true/false or 0/1")
        if not isinstance(value, str):
            raise self._type_error(value, "a string")
        if len(value) > MAX_STRING_LENGTH:
            raise ParamError(f"{self.address}: string of {len(value)} characters exceeds {MAX_STRING_LENGTH}")
        if self.kind is Kind.ENUM and value not in self.choices:
            raise ParamError(f"{self.address}: {value!r} is not one of {', '.join(self.choices)}")
        return value

    def parse(self, text: str) -> Value:
        """Parse a value written as text (command line, automation) and coerce it."""
        if self.kind in (Kind.FLOAT, Kind.INT):
            try:
                number: object = float(text)
            except ValueError:
                raise ParamError(f"{self.address}: {text!r} is not a number") from None
            return self.coerce(number)
        if self.kind is Kind.BOOL:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "on", "yes"):
                return True
            if lowered in ("0", "false", "off", "no"):
                return False
            raise ParamError(f"{self.address}: {text!r} is not true/false")
        return self.coerce(text)

    def describe_range(self) -> str:
        if self.kind is Kind.ENUM:
            return ", ".join(self.choices)
        if self.kind is Kind.BOOL:
            return "0, 1"
        if self.kind is Kind.STRING:
            return "text"
        return f"{self.minimum:g}..{self.maximum:g}"

    def _clamp(self, number: float) -> float:
        assert self.minimum is not None and self.maximum is not None
        return min(max(number, self.minimum), self.maximum)

    def _type_error(self, value: object, expected: str) -> ParamError:
        return ParamError(f"{self.address}: expected {expected}, got {type(value).__name__} {value!r}")
