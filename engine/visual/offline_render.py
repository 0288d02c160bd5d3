"""`visuals render`: an audio file to a video with its audio, offline, frame-exact.

The same pieces as live (analysis, theme mapper, generator), driven by the file's clock instead of
the speaker's: video frame k shows the audio at k / fps, with the newest analysis row at that time,
the beats and onsets since the previous frame, and the model's latent for that moment (the file
encoded by the model, so the images follow the same latent space the engine plays in).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from engine.analysis.features import INDEX
from engine.analysis.offline import analyze
from engine.errors import VisualError
from engine.io.audio_files import read_audio
from engine.models.default import DEFAULT_MODEL
from engine.params.store import ParamStore, parse_sets
from engine.params.table import DEFAULT_GENERATOR, DEFAULT_THEME, build_param_table
from engine.visual.frame_size import DEFAULT_FRAME_SIZE, check_frame_size
from engine.visual.generators.base import create_generator
from engine.visual.theme_mapper import ThemeMapper
from engine.visual.themes import load_theme


@dataclass
class VisualRenderRequest:
    audio: Path
    out: Path | None  # None: frames are only handed to `on_frame` (tests, benchmarks)
    seconds: float | None = None
    theme: str = DEFAULT_THEME
    generator: str = DEFAULT_GENERATOR
    width: int = DEFAULT_FRAME_SIZE[0]
    height: int = DEFAULT_FRAME_SIZE[1]
    fps: float = 30.0
    seed: int = 0
    sets: Sequence[str] = ()
    model: Path | None = DEFAULT_MODEL  # None: no latents, features only
    generator_options: dict[str, object] = field(default_factory=dict)
    feature_shift_seconds: float = 0.0  # benchmarks: drive the images with features from another time
    progress: bool = True


@dataclass
class VisualRenderResult:
    frames: int
    seconds: float
    wall_seconds: float
    frame_change: np.ndarray  # mean absolute change of each frame from the one before (0..255)
    onset_strength: np.ndarray  # the analysis's onset strength at each frame's time
    beat_frames: np.ndarray  # indices of frames that saw a beat
    out: Path | None


def _latents(model_path: Path | None, audio_path: Path, seconds: float) -> tuple[np.ndarray, float] | None:
    if model_path is None:
        return None
    from engine.latent.reference import encode_reference
    from engine.models.nn_tilde import ASSUMED_SAMPLE_RATE, NNModel

    model = NNModel.load(model_path)
    if "encode" not in model.methods:
        return None
    loop = encode_reference(model, audio_path, max_seconds=seconds + 1.0)
    rate = (model.sample_rate or ASSUMED_SAMPLE_RATE) / model.decode_ratio
    return loop.latents.T.astype(np.float32), rate  # (frames, dims), latent frames per second


def render_visuals(request: VisualRenderRequest,
                   on_frame: Callable[[int, np.ndarray], None] | None = None) -> VisualRenderResult:
    if request.fps <= 0 or request.fps > 240:
        raise VisualError(f"--fps must be between 1 and 240, got {request.fps:g}")
    check_frame_size(request.width, request.height)  # here, before the analysis and the model's work
    audio, rate = read_audio(request.audio)
    if request.seconds is not None:
        if request.seconds <= 0:
            raise VisualError(f"--seconds must be above 0, got {request.seconds:g}")
        audio = audio[: int(request.seconds * rate)]
    seconds = audio.shape[0] / rate
    theme = load_theme(request.theme)  # a name or a TOML path; fails here, before any work
    store = ParamStore(build_param_table(8))
    store.set_many(parse_sets(store, list(request.sets)))
    values = dict(store.snapshot().values)
    values["/visual/theme"] = theme.name  # the mapper follows this value: keep it on the loaded theme
    times, rows = analyze(audio, rate)
    latents = _latents(request.model, request.audio, seconds)
    generator = create_generator(request.generator, request.width, request.height, seed=request.seed,
                                 options=request.generator_options)
    mapper = ThemeMapper(theme, fps=request.fps, seed=request.seed)
    n_frames = max(1, int(seconds * request.fps))
    change = np.zeros(n_frames)
    onset = np.zeros(n_frames)
    beat_frames: list[int] = []
    recorder = None
    if request.out is not None:
        from engine.visual.recorder import VideoRecorder

        recorder = VideoRecorder(request.out, request.width, request.height, request.fps, samplerate=rate,
                                 channels=min(audio.shape[1], 2))
    previous: np.ndarray | None = None
    started = time.perf_counter()
    shift = request.feature_shift_seconds
    try:
        with Progress(TextColumn("rendering video"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                      TimeRemainingColumn(), disable=not request.progress, transient=True) as progress:
            task = progress.add_task("render", total=n_frames)
            for k in range(n_frames):
                t = k / request.fps
                # The rows heard since the previous frame (taken from elsewhere in the file when shifted).
                lookup = (t + shift) % seconds
                end = int(np.searchsorted(times, lookup, side="right"))
                start = int(np.searchsorted(times, lookup - 1.0 / request.fps, side="right"))
                window = rows[start:end]
                features = rows[end - 1] if end > 0 else np.zeros_like(rows[0])
                beats = int((window[:, INDEX["beat"]] > 0.5).sum())
                onsets = int((window[:, INDEX["onset"]] > 0.5).sum())
                latent = np.zeros(0, dtype=np.float32)
                if latents is not None:
                    z, z_rate = latents
                    latent = z[min(int(lookup * z_rate), z.shape[0] - 1)]
                frame = mapper.frame(k, t, features, latent, values, beats=beats, onsets=onsets)
                rgb = generator.render(frame)
                if previous is not None:
                    change[k] = float(np.abs(rgb.astype(np.int16) - previous).mean())
                previous = rgb.astype(np.int16)
                onset[k] = float(features[INDEX["onset_strength"]])
                if beats:
                    beat_frames.append(k)
                if recorder is not None:  # each frame with its slice of audio: a cut-short file stays in sync
                    recorder.write_frame(rgb)
                    recorder.write_audio(audio[int(t * rate):int((k + 1) / request.fps * rate), :2])
                if on_frame is not None:
                    on_frame(k, rgb)
                progress.update(task, completed=k + 1)
        if recorder is not None:
            recorder.write_audio(audio[int(n_frames / request.fps * rate):, :2])
    finally:
        if recorder is not None:
            recorder.close()
        generator.close()
    return VisualRenderResult(n_frames, seconds, time.perf_counter() - started, change, onset,
                              np.array(beat_frames, dtype=np.int64), request.out)
