"""Offline render: the same graph as live play, driven as fast as the CPU allows, written to a WAV file."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from engine.errors import ParamError
from engine.io.audio_files import write_wav
from engine.latent.reference import encode_reference
from engine.models.default import DEFAULT_MODEL
from engine.models.nn_tilde import NNModel
from engine.params.param import Value
from engine.params.store import ParamStore, parse_sets
from engine.params.table import LATENT_SOURCES, build_param_table
from engine.presets.scenes import load_scene
from engine.render.automation import load_automation
from engine.render.graph import RenderGraph
from engine.render.seeding import seed_decoder_noise

PROGRESS_AFTER_SECONDS = 10.0  # audio seconds beyond which a progress bar is worth showing


@dataclass
class RenderRequest:
    seconds: float
    out: Path | None = None
    model: Path = DEFAULT_MODEL
    scene: str | None = None
    sets: Sequence[str] = ()
    automation: Path | None = None
    seed: int = 0
    references: Sequence[Path] = ()
    samplerate: int | None = None
    progress: bool | None = None  # None: only for long renders


@dataclass
class RenderResult:
    audio: np.ndarray
    rate: int
    out: Path | None
    wall_seconds: float
    clipped_samples: int
    stats: dict[str, float] = field(default_factory=dict)


def prepare(request: RenderRequest, model: NNModel | None = None) -> RenderGraph:
    """Load everything and validate every input before the first sample is rendered."""
    if request.seconds <= 0:
        raise ParamError(f"--seconds must be positive, got {request.seconds}")
    if len(request.references) > 2:
        raise ParamError(f"at most 2 references (ref1, ref2), got {len(request.references)}")
    model = model or NNModel.load(request.model)
    model.require("decode")
    store = ParamStore(build_param_table(model.latent_size or 0))
    references = {f"ref{i + 1}": encode_reference(model, p, f"ref{i + 1}") for i, p in enumerate(request.references)}
    initial: dict[str, Value] = {}
    if references:
        initial["/rave/source/a"] = "ref1"
    if request.scene:
        initial.update(load_scene(request.scene, store).values)
    initial.update(parse_sets(store, request.sets))
    for address in ("/rave/source/a", "/rave/source/b"):
        source = initial.get(address, store.get(address))
        if source == "input":
            raise ParamError(f"{address}=input: live input exists only in `run_engine.py live --input`")
        if source != "walk" and source not in references:
            loaded = ", ".join(references) or "none"
            raise ParamError(f"{address}={source}: that reference is not loaded (loaded: {loaded}; "
                             f"choices: {', '.join(LATENT_SOURCES)}); add --reference AUDIO")
    store.set_many(initial)
    automation = load_automation(request.automation, store) if request.automation else None
    graph = RenderGraph(model, store, seed=request.seed, references=references, output_rate=request.samplerate)
    if automation:
        automation.schedule(graph.timeline)
    seed_decoder_noise(request.seed)  # last: loading and checking the model above drew from it
    return graph


def render(request: RenderRequest, model: NNModel | None = None) -> RenderResult:
    graph = prepare(request, model)
    total = int(round(request.seconds * graph.output_rate))
    blocks: list[np.ndarray] = []
    done = 0
    show = request.progress if request.progress is not None else request.seconds > PROGRESS_AFTER_SECONDS
    started = time.perf_counter()
    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.completed:.1f}/{task.total:.1f} s"),
                  TimeRemainingColumn(), disable=not show, transient=True) as progress:
        task = progress.add_task("render", total=request.seconds)
        while done < total:
            block = graph.next_frame()
            blocks.append(block)
            done += block.shape[0]
            progress.update(task, completed=min(done, total) / graph.output_rate)
    wall = time.perf_counter() - started
    audio = np.concatenate(blocks)[:total]
    if request.out is not None:
        write_wav(request.out, audio, graph.output_rate)
    return RenderResult(audio, graph.output_rate, request.out, wall, graph.clipped_samples,
                        {"realtime_factor": wall / request.seconds, **asdict(graph.master.meters)})
