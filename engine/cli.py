"""Command line: `render`, `models inspect` (and later `live`, `devices`, `visuals`)."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from engine.errors import EngineError

err_console = Console(stderr=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_engine.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="inspect nn~-compatible model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    inspect = models_sub.add_parser("inspect", help="print a model's methods, attributes and rates")
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models" and args.models_command == "inspect":
            from engine.models.inspect import inspect_command

            return inspect_command(args.path, as_json=args.json)
    except EngineError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
