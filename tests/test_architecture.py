"""The folder layout is the architecture: which package may import which, and no cycles.

Imports are read from the source (every `import`/`from` statement, `TYPE_CHECKING` blocks and
function-level imports included), so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every engine module and the engine modules it imports."""
    graph: dict[str, set[str]] = {}
    for path in ENGINE.rglob("*.py"):
        name = _module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {m for m in found if m.startswith("engine")}
    modules = set(graph)
    return {name: {m for m in targets if m in modules and m != name} for name, targets in graph.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_audio_path_imports_no_control_visual_presets_or_session() -> None:
    forbidden = {"control", "visual", "presets", "session", "cli"}
    offenders = {(m, t) for m, targets in _imports().items() if _package(m) == "audio"
                 for t in targets if _package(t) in forbidden}
    assert not offenders, offenders


def test_only_the_command_line_imports_the_session() -> None:
    offenders = {(m, t) for m, targets in _imports().items() if _package(m) not in ("session", "cli")
                 for t in targets if _package(t) == "session"}
    assert not offenders, offenders


def test_the_visual_path_does_not_reach_into_the_render_graph() -> None:
    offenders = {(m, t) for m, targets in _imports().items() if _package(m) == "visual"
                 for t in targets if _package(t) in ("render", "audio", "session", "control")}
    assert not offenders, offenders
    for path in (ENGINE / "visual").rglob("*.py"):
        assert ".analysis.pending" not in path.read_text(), path


def test_no_import_cycles() -> None:
    graph = _imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, " -> ".join(cycle)


def test_the_console_is_an_osc_client_and_reaches_nothing_that_plays() -> None:
    """`engine/gui/` talks to the engine over OSC only: it may read the codec, the feature names and the
    shared frame buffer, and count taps as the engine's /tempo/tap does (tap_tempo, plain arithmetic), never
    the session, the audio path, the render graph or the models. Ctrl-C in its Qt loop is engine/qt_ctrl_c.py's."""
    allowed = {"engine.control", "engine.control.osc_codec", "engine.control.tap_tempo", "engine.errors",
               "engine.analysis",
               "engine.analysis.features", "engine.visual", "engine.visual.frame_buffer", "engine.visual.shm",
               "engine.qt_ctrl_c"}
    offenders = {(m, t) for m, targets in _imports().items() if _package(m) == "gui"
                 for t in targets if _package(t) != "gui" and t not in allowed}
    assert not offenders, offenders


def test_the_remote_node_reaches_nothing_that_plays() -> None:
    """`engine/remote/` (the node and the engine's sender) speaks UDP and feeds a visual process: it never
    imports the audio path, the render graph, the models or the session."""
    offenders = {(m, t) for m, targets in _imports().items() if _package(m) == "remote"
                 for t in targets if _package(t) in ("audio", "render", "models", "session", "latent", "cli")}
    assert not offenders, offenders
