"""`models inspect PATH [--json]`: show what an nn~ model offers before performing with it."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.table import Table

from engine.console import cli_console
from engine.models.nn_tilde import NNModel

_MAX_VALUE_CHARS = 60
_MAX_LIST_ITEMS = 4


def summarize_value(value: object) -> str:
    """A short, single-line rendering: long lists (e.g. a 256-float wavetable) become a summary."""
    if isinstance(value, list) and len(value) > _MAX_LIST_ITEMS:
        head = ", ".join(_format_scalar(v) for v in value[:_MAX_LIST_ITEMS])
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        span = f", min {min(numbers):.4g}, max {max(numbers):.4g}" if len(numbers) == len(value) else ""
        return f"[{head}, …] ({len(value)} values{span})"
    text = _format_scalar(value) if not isinstance(value, list) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _format_scalar(value: object) -> str:
    if isinstance(value, float):
        return repr(value) if len(repr(value)) <= 10 else f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send fd 1 to stderr: TorchScript `print()` in a model writes to C++ stdout and would break --json."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def inspect_command(path: str, as_json: bool) -> int:
    """Load ``path`` and print its methods, attributes and rates; ModelLoadError reaches the CLI."""
    if as_json:
        with _stdout_to_stderr():
            model = NNModel.load(path)
        sys.stdout.write(json.dumps(model.info()) + "\n")
        return 0
    model = NNModel.load(path)
    _print_report(model, cli_console())
    return 0


def _print_report(model: NNModel, console: Console) -> None:
    console.print(f"[bold]{model.path}[/]  ({model.format})", highlight=False)

    methods = Table(title="methods", title_justify="left")
    for column in ("method", "in_channels", "in_ratio", "out_channels", "out_ratio"):
        methods.add_column(column, justify="left" if column == "method" else "right")
    for spec in model.methods.values():
        methods.add_row(
            spec.name, str(spec.in_channels), str(spec.in_ratio), str(spec.out_channels), str(spec.out_ratio)
        )
    console.print(methods)

    if model.attributes:
        attributes = Table(title="attributes", title_justify="left")
        attributes.add_column("attribute")
        attributes.add_column("value")
        for name, value in model.attributes.items():
            attributes.add_row(name, summarize_value(value))
        console.print(attributes)
    else:
        console.print("attributes: none")

    rate = f"{model.sample_rate} Hz" if model.sample_rate is not None else "unknown"
    latent = str(model.latent_size) if model.latent_size is not None else "n/a (no decode)"
    console.print(f"sample rate: {rate}", highlight=False)
    console.print(f"latent size: {latent}", highlight=False)
    console.print(f"streaming:   {'yes' if model.streaming else 'no'}", highlight=False)
