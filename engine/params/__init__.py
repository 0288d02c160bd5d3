"""One parameter space: every control is a Param with an OSC-style address."""

from engine.params.param import Kind, Param, Value
from engine.params.store import ParamStore, Snapshot
from engine.params.table import build_param_table

__all__ = ["Kind", "Param", "ParamStore", "Snapshot", "Value", "build_param_table"]
