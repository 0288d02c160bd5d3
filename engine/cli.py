"""Command line: `render`, `models inspect` (and later `live`, `devices`, `visuals`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from engine.errors import EngineError
from engine.models.default import DEFAULT_MODEL

err_console = Console(stderr=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_engine.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="inspect nn~-compatible model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    inspect = models_sub.add_parser("inspect", help="print a model's methods, attributes and rates")
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")

    render = sub.add_parser("render", help="render the engine offline to a WAV file")
    render.add_argument("--seconds", type=float, required=True, help="length of the render in seconds")
    render.add_argument("--out", type=Path, required=True, help="output WAV file")
    render.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="nn~-compatible TorchScript model")
    render.add_argument("--scene", help="scene name from presets/scenes (or a path to a scene TOML)")
    render.add_argument("--set", dest="sets", action="append", default=[], metavar="ADDRESS=VALUE",
                        help="set a parameter before rendering, e.g. --set /rave/energy=1.4 (repeatable)")
    render.add_argument("--automation", type=Path, help="TOML file of timed parameter changes and ramps")
    render.add_argument("--seed", type=int, default=0, help="random seed: same arguments and seed, same file")
    render.add_argument("--reference", dest="references", action="append", default=[], type=Path,
                        metavar="AUDIO", help="audio file encoded as latent source ref1 (a second one: ref2)")
    render.add_argument("--samplerate", type=int, help="output sample rate (default: the model's)")

    params = sub.add_parser("params", help="list every parameter address with its range and unit")
    params.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    params.add_argument("--markdown", action="store_true", help="print the README's address table")
    return parser


def _render(args: argparse.Namespace) -> int:
    from engine.render.offline import RenderRequest, render

    request = RenderRequest(seconds=args.seconds, out=args.out, model=args.model, scene=args.scene, sets=args.sets,
                            automation=args.automation, seed=args.seed, references=args.references,
                            samplerate=args.samplerate)
    result = render(request)
    seconds = result.audio.shape[0] / result.rate
    err_console.print(f"wrote {result.out} ({seconds:.2f} s, {result.rate} Hz, {result.audio.shape[1]} ch) "
                      f"in {result.wall_seconds:.2f} s ({seconds / max(result.wall_seconds, 1e-9):.0f}x real time)",
                      highlight=False)
    if result.clipped_samples:
        err_console.print(f"[yellow]note:[/] {result.clipped_samples} samples were clipped at full scale")
    return 0


def _params(args: argparse.Namespace) -> int:
    from engine.models.nn_tilde import NNModel
    from engine.params.docs import address_table

    model = NNModel.load(args.model)
    print(address_table(model.latent_size or 0, markdown=args.markdown))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models" and args.models_command == "inspect":
            from engine.models.inspect import inspect_command

            return inspect_command(args.path, as_json=args.json)
        if args.command == "render":
            return _render(args)
        if args.command == "params":
            return _params(args)
    except EngineError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
