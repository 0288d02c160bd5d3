"""Offline render: the same graph as live play, driven as fast as the CPU allows, written to a WAV file."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from engine.errors import ParamError
from engine.explore.loading import ATLAS_PATHS, apply_before_render, requested
from engine.io.audio_files import read_audio, write_wav
from engine.latent.reference import encode_reference
from engine.models.default import DEFAULT_MODEL
from engine.models.nn_tilde import NNModel
from engine.params.param import Value
from engine.params.store import ParamStore, parse_sets
from engine.params.table import LATENT_SOURCES, build_param_table
from engine.presets.scenes import load_scene
from engine.render.automation import load_automation
from engine.render.effect_graph import EffectGraph, choose_method, method_validator
from engine.render.graph import MAX_FRAMES_PER_CALL, RenderGraph
from engine.render.input_render import InputFeeder
from engine.render.second_model import OFF_REQUESTS, SecondModel

PROGRESS_AFTER_SECONDS = 10.0
REFERENCE_ADDRESSES = {"ref1": "/rave/reference/a", "ref2": "/rave/reference/b"}  # audio seconds beyond which a progress bar is worth showing


@dataclass
class RenderRequest:
    seconds: float | None  # None: the length of `input`
    out: Path | None = None
    model: Path = DEFAULT_MODEL
    scene: str | None = None
    sets: Sequence[str] = ()
    automation: Path | None = None
    seed: int = 0
    references: Sequence[Path] = ()
    samplerate: int | None = None
    progress: bool | None = None  # None: only for long renders
    input: Path | None = None  # an audio file played as the live input (source A, the dry signal)
    method: str | None = None  # the model method that plays (None: /rave/method, else the model's default)
    frames_per_call: int = 1  # latent frames per decode call (live picks this per model; see model_policy)
    master: bool = True  # False: the model's own output, without levelling, trim or limiter
    model_b: Path | None = None  # a second model mixed in by /rave/model_mix (as live /rave/model/b)
    codebook: Path | None = None  # an atlas: codebook resynthesis (/rave/codebook)
    codebook_k: int | None = None  # /rave/codebook_k


@dataclass
class RenderResult:
    audio: np.ndarray
    rate: int
    out: Path | None
    wall_seconds: float
    clipped_samples: int
    stats: dict[str, float] = field(default_factory=dict)


def prepare(request: RenderRequest, model: NNModel | None = None) -> RenderGraph | EffectGraph:
    """Load everything and validate every input before the first sample is rendered."""
    return _prepare(request, model)[0]


def _prepare(request: RenderRequest, model: NNModel | None = None
             ) -> tuple[RenderGraph | EffectGraph, InputFeeder | None]:
    if request.seconds is None and request.input is None:
        raise ParamError("--seconds is required (or --input FILE, whose length it then takes)")
    if request.seconds is not None and request.seconds <= 0:
        raise ParamError(f"--seconds must be positive, got {request.seconds}")
    input_audio = read_audio(request.input) if request.input is not None else None
    if len(request.references) > 2:
        raise ParamError(f"at most 2 references (ref1, ref2), got {len(request.references)}")
    model = model or NNModel.load(request.model)
    store = ParamStore(build_param_table(model.latent_size or 1))  # effect models: one inert latent dim
    sets = parse_sets(store, request.sets)
    # `--set /rave/reference/a=FILE` (and b) loads a reference as live OSC does; it wins over --reference.
    paths: dict[str, Path] = {f"ref{i + 1}": Path(p) for i, p in enumerate(request.references)}
    paths.update((name, Path(str(sets[address]))) for name, address in REFERENCE_ADDRESSES.items()
                 if str(sets.get(address, "")) not in OFF_REQUESTS)
    references = {name: encode_reference(model, p, name) for name, p in sorted(paths.items())}
    initial: dict[str, Value] = {}
    if request.references:
        initial["/rave/source/a"] = "ref1"
    if input_audio is not None:
        initial["/rave/source/a"] = "input"
    if request.scene:
        initial.update(load_scene(request.scene, store).values)
    if request.codebook is not None:
        initial["/rave/codebook"] = str(request.codebook)
    if request.codebook_k is not None:
        initial["/rave/codebook_k"] = request.codebook_k
    initial.update(sets)
    method = choose_method(model, request.method or str(initial.get("/rave/method", "")))
    initial["/rave/method"] = method
    for address in ("/rave/source/a", "/rave/source/b"):
        source = initial.get(address, store.get(address))
        if source == "input" and input_audio is not None:
            continue
        if source == "input":
            raise ParamError(f"{address}=input: live input needs `render --input FILE` "
                             "or `run_engine.py live --input`")
        if source not in ("walk", "walk2") and source not in references:
            loaded = ", ".join(references) or "none"
            raise ParamError(f"{address}={source}: that reference is not loaded (loaded: {loaded}; "
                             f"choices: {', '.join(LATENT_SOURCES)}); add --reference AUDIO")
    store.set_many(initial)
    automation = load_automation(request.automation, store) if request.automation else None
    if not 1 <= request.frames_per_call <= MAX_FRAMES_PER_CALL:
        raise ParamError(f"--frames-per-call must be 1..{MAX_FRAMES_PER_CALL}, got {request.frames_per_call}")
    # A model that does not know its rate plays at the input file's.
    rate = request.samplerate or (input_audio[1] if input_audio is not None and not model.sample_rate else None)
    graph: RenderGraph | EffectGraph
    if method == "decode":
        graph = RenderGraph(model, store, seed=request.seed, references=references, output_rate=rate,
                            master=request.master,
                            frames_per_call=request.frames_per_call)
        apply_before_render(graph.explore, store.snapshot().values, graph.latent_statistics, model.path.name)
    elif any(requested(store.get(a)) for a in ATLAS_PATHS):
        raise ParamError(f"/rave/codebook and /explore/atlas steer decode's latents: method '{method}' has none")
    elif input_audio is None:
        raise ParamError(f"{model.path.name}: method '{method}' plays audio input: give --input FILE")
    else:
        graph = EffectGraph(model, store, method, seed=request.seed, output_rate=rate, master=request.master)
    model_b = request.model_b or (None if str(sets.get("/rave/model/b", "")) in OFF_REQUESTS
                                  else Path(str(sets["/rave/model/b"])))
    if model_b is not None:
        if not isinstance(graph, RenderGraph):
            raise ParamError(f"--model-b plays beside decode, not beside method '{method}'")
        graph.second.offer(SecondModel(NNModel.load(model_b), seed=request.seed), fade=False)
    if automation:
        check = method_validator(lambda: model, method == "decode", graph.channels)
        for _, values, _ in automation.events:  # a method switch must be one this render can play
            if "/rave/method" in values:
                check(values["/rave/method"])
            for address in ATLAS_PATHS:  # atlases load before the first frame (live: on a loader thread)
                if address in values and values[address] != store.get(address):
                    raise ParamError(f"{request.automation}: {address} cannot change during a render; "
                                     f"set it with --set (or --codebook)")
        automation.schedule(graph.timeline)
    feeder = None
    if input_audio is not None and request.input is not None:
        feeder = InputFeeder.from_audio(graph, *input_audio)
    return graph, feeder


def render(request: RenderRequest, model: NNModel | None = None) -> RenderResult:
    graph, feeder = _prepare(request, model)
    seconds = request.seconds if request.seconds is not None else feeder.seconds if feeder is not None else 0.0
    total = int(round(seconds * graph.output_rate))
    blocks: list[np.ndarray] = []
    done = 0
    show = request.progress if request.progress is not None else seconds > PROGRESS_AFTER_SECONDS
    started = time.perf_counter()
    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.completed:.1f}/{task.total:.1f} s"),
                  TimeRemainingColumn(), disable=not show, transient=True) as progress:
        task = progress.add_task("render", total=seconds)
        while done < total:
            if feeder is not None:
                feeder.feed()
            block = graph.finish_frame(*graph.next_raw(), stream_pos=done)  # in live-sized pieces
            blocks.append(block)
            done += block.shape[0]
            progress.update(task, completed=min(done, total) / graph.output_rate)
    wall = time.perf_counter() - started
    audio = np.concatenate(blocks)[:total]
    if request.out is not None:
        write_wav(request.out, audio, graph.output_rate)
    return RenderResult(audio, graph.output_rate, request.out, wall, graph.clipped_samples,
                        {"realtime_factor": wall / seconds, **asdict(graph.master.meters)})
