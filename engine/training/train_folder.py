"""`run_engine.py train`: our default architecture trained on a folder of recordings, exported ready to play.

Read the folder (audio_folder.py) -> build the model at the chosen rate (model_rate.py), optionally
from an export's weights (`--init`, e.g. models/default.ts: fine-tuning reaches a good model much
sooner than training from scratch) -> train (trainer.py; under torchrun, data parallel) -> fit the
latent rotation and statistics on crops of the folder, export with the energy calibration
(export.py) -> measure and write the card (report.py). Only rank 0 writes files. Ctrl-C stops after
the current step with a checkpoint and exports nothing; `--resume` continues from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from engine.errors import TrainingDataError
from engine.models.default_vae import LATENT_RATIO, SAMPLE_RATE, DefaultVAE
from engine.training.audio_folder import FolderAudio, FolderCrops, read_folder
from engine.training.clip_pool import ClipPool
from engine.training.export import check_streaming, export, fit_latent_rotation, order_by_effect
from engine.training.init_weights import load_init, read_init
from engine.training.model_rate import MAX_RATE, MIN_RATE, build_model
from engine.training.report import card_path, collapse_warning, report, training_json
from engine.training.trainer import (
    TrainResult,
    TrainSettings,
    load_checkpoint,
    process_group,
    ranks_from_env,
    resolve_device,
    train,
)

DATA_STREAM, ROTATION_STREAM = 0, 1  # second words of the data and rotation generators' seeds
ROTATION_CLIPS, ROTATION_FRAMES = 64, 32
SKIPPED_SHOWN = 20  # unreadable files listed one per line; the rest are counted


@dataclass
class FolderTrainRequest:
    data: Path
    out: Path
    minutes: float | None = 60.0
    steps: int | None = None
    resume: bool = False
    seed: int = 0
    samplerate: int = SAMPLE_RATE
    device: str = "auto"
    threads: int | None = None
    batch: int = 8
    clip_frames: int = 12
    lr: float = 1e-3
    beta: float = 0.002
    kl_warmup: int = 1500
    pool: int = 256
    pool_seconds: float = 2.048
    checkpoint_minutes: float = 5.0
    init: Path | None = None
    eval_dir: Path | None = None
    model_config: dict[str, object] = field(default_factory=dict)

    def check(self) -> None:
        """Every value up front, one line each, before a file is read."""
        if self.out.suffix != ".ts":
            raise TrainingDataError(f"--out {self.out}: the model file must end in .ts")
        if self.minutes is None and self.steps is None:
            raise TrainingDataError("give --minutes, --steps or both")
        if self.minutes is not None and self.minutes <= 0:
            raise TrainingDataError(f"--minutes must be > 0, got {self.minutes:g}")
        if self.steps is not None and self.steps < 1:
            raise TrainingDataError(f"--steps must be >= 1, got {self.steps}")
        if not MIN_RATE <= self.samplerate <= MAX_RATE:
            raise TrainingDataError(f"--samplerate must be {MIN_RATE}..{MAX_RATE} Hz, got {self.samplerate}")
        for name, value in (("--batch", self.batch), ("--clip-frames", self.clip_frames), ("--pool", self.pool)):
            if value < 1:
                raise TrainingDataError(f"{name} must be >= 1, got {value}")
        if self.threads is not None and self.threads < 1:
            raise TrainingDataError(f"--threads must be >= 1, got {self.threads}")
        if self.checkpoint_minutes <= 0:
            raise TrainingDataError(f"--checkpoint-minutes must be > 0, got {self.checkpoint_minutes:g}")
        if self.eval_dir is not None and not self.eval_dir.is_dir():
            raise TrainingDataError(f"--eval-dir {self.eval_dir}: not a folder")

    @property
    def checkpoint(self) -> Path:
        return self.out.with_suffix(".ckpt.pt")


def train_folder(req: FolderTrainRequest, console: Console,
                 on_checkpoint: Callable[[DefaultVAE, int, float], None] | None = None) -> int:
    """Run the command; returns the exit status (0 done, 130 stopped by Ctrl-C with a checkpoint).
    `on_checkpoint`: see TrainSettings (bench/bench_training.py measures the model as it trains)."""
    req.check()
    ranks = ranks_from_env()
    device = resolve_device(req.device, ranks)
    if req.threads is not None:
        torch.set_num_threads(req.threads)
    resume = load_checkpoint(req.checkpoint) if req.resume else None
    if resume is None and req.checkpoint.exists():
        raise TrainingDataError(f"{req.checkpoint}: a checkpoint of an earlier run is there; "
                                "continue it with --resume or delete it")
    init = read_init(req.init) if req.init is not None and resume is None else None
    audio = read_folder(req.data, req.samplerate)
    if ranks.main:
        _say_folder(console, req, audio)
    config = req.model_config or None
    if init is not None:
        if config and config != init.config:
            raise TrainingDataError(f"--model-config {json.dumps(config)} differs from --init {req.init}'s "
                                    f"{json.dumps(init.config)}; give one of them")
        if init.rate != req.samplerate:
            raise TrainingDataError(f"--init {req.init}: made for {init.rate} Hz; this run trains at "
                                    f"{req.samplerate} Hz (--samplerate)")
        config = init.config
    torch.manual_seed(req.seed)
    try:
        model = build_model(req.samplerate, config)
    except (TypeError, ValueError) as exc:
        raise TrainingDataError(f"--model-config {json.dumps(req.model_config)}: {exc}") from None
    if init is not None:
        load_init(model, init)
    meta = {"trainer": "run_engine.py train", "sample_rate": req.samplerate, "config": model.config}
    if resume is not None and resume.get("meta") != meta:
        raise TrainingDataError(f"{req.checkpoint}: made for {_describe(resume.get('meta'))}; "
                                f"this run asks for {_describe(meta)}")
    crop = req.clip_frames * LATENT_RATIO
    pool_samples = max(crop, round(req.pool_seconds * req.samplerate))
    crops = FolderCrops(audio.clips, pool_samples)
    settings = TrainSettings(batch=req.batch, lr=req.lr, beta=req.beta, kl_warmup=req.kl_warmup,
                             steps=req.steps, minutes=req.minutes, checkpoint=req.checkpoint,
                             checkpoint_minutes=req.checkpoint_minutes, device=str(device), meta=meta,
                             on_checkpoint=on_checkpoint)
    if ranks.main:
        parameters = sum(p.numel() for p in model.parameters())
        where = f"{ranks.world} processes" if ranks.world > 1 else str(device)
        console.print(f"training {parameters:,} parameters on {where}"
                      + (f", from step {resume['step']}" if resume else ""), highlight=False)
    with process_group(ranks, device):
        result = train(model, lambda rng: ClipPool(crops, rng, req.pool, crop), [req.seed, DATA_STREAM],
                       settings, resume=resume, ranks=ranks, console=console)
    if ranks.world > 1:
        # Every rank says what it holds: equal digests show the processes trained one model.
        print(f"rank {ranks.rank}/{ranks.world}: weights sha256 {result.weights_sha256}", flush=True)
    if not ranks.main:
        return 130 if result.interrupted else 0
    if result.interrupted:
        console.print(f"stopped at step {result.steps}; checkpoint {req.checkpoint}; continue with --resume "
                      "(nothing exported)", highlight=False, markup=False)
        return 130
    _export(req, model, audio, result, console)
    return 0


def _say_folder(console: Console, req: FolderTrainRequest, audio: FolderAudio) -> None:
    console.print(f"{req.data}: {len(audio.files)} files, {audio.seconds / 60:.1f} min of audio "
                  f"(mono, {req.samplerate} Hz)", highlight=False, markup=False)
    if audio.skipped:
        console.print(f"skipped {len(audio.skipped)} unreadable files:", highlight=False)
        for path, why in audio.skipped[:SKIPPED_SHOWN]:
            console.print(f"  {path}: {why}", highlight=False, markup=False)
        if len(audio.skipped) > SKIPPED_SHOWN:
            console.print(f"  ... and {len(audio.skipped) - SKIPPED_SHOWN} more", highlight=False)


def _describe(meta: object) -> str:
    if not isinstance(meta, dict):
        return "another trainer"
    return f"{meta.get('sample_rate')} Hz with {json.dumps(meta.get('config'))}"


def _export(req: FolderTrainRequest, model: DefaultVAE, audio: FolderAudio, result: TrainResult,
            console: Console) -> None:
    model.eval()
    rng = np.random.default_rng([req.seed, ROTATION_STREAM])
    crops = FolderCrops(audio.clips, ROTATION_FRAMES * LATENT_RATIO)
    clips = np.stack([np.pad(c, (0, ROTATION_FRAMES * LATENT_RATIO - len(c))) for c in
                      (crops(rng) for _ in range(ROTATION_CLIPS))]).astype(np.float32)
    fit_latent_rotation(model, torch.from_numpy(clips)[:, None, :])
    importance = order_by_effect(model)  # the first fader moves the sound most
    exported = export(model, req.out, importance)
    parameters = sum(p.numel() for p in model.parameters())
    names = ", ".join(p.name for p in audio.files[:10]) + (f" and {len(audio.files) - 10} more" if len(audio.files) > 10 else "")
    results = {
        "trainer": "run_engine.py train", "seed": req.seed, "parameters": parameters, "config": model.config,
        "sample_rate": req.samplerate, "steps": result.steps, "train_seconds": result.train_seconds,
        "final_spectral_loss": result.final_spectral_loss, "final_kl": result.final_kl, "history": result.history,
        "data_seconds": audio.seconds, "data_files": len(audio.files), "skipped_files": len(audio.skipped),
        "streaming_max_abs_diff": check_streaming(model, exported),
        "data": f"{len(audio.files)} recordings from `{req.data.name}` ({audio.seconds / 60:.1f} min, mixed to "
                f"mono, resampled to {req.samplerate} Hz): {names}.",
        "training": (
            f"- Seed {req.seed}; {result.steps} steps of batch {req.batch} x {req.clip_frames * LATENT_RATIO} samples "
            f"per process ({result.world_size} process{'es' if result.world_size > 1 else ''}) cropped from a pool of "
            f"{req.pool} excerpts of {req.pool_seconds} s (one renewed per step); Adam, lr {req.lr} with a cosine "
            f"decay to 5 %; {result.train_seconds / 60:.1f} min"
            + (f"; started from `{req.init.name}`" if req.init else "") + ".\n"
            f"- Loss: multi-scale spectral distance + beta * KL, beta ramped 0 -> {req.beta} over {req.kl_warmup} steps.\n"
            f"- Final (EMA) spectral loss {result.final_spectral_loss:.3f}, KL {result.final_kl:.1f} nats per latent frame."
        ),
    }
    results["corpus_evaluation"] = (
        f"Reconstruction score on the recordings in `{req.eval_dir}` (kept out of training): below."
        if req.eval_dir else "No recordings were kept out of training (`--eval-dir DIR` adds the reconstruction "
        "score on them).")
    training_json(req.out).write_text(json.dumps(results, indent=2) + "\n")
    figures = report(req.out, req.eval_dir)
    score = figures.get("music_score_mean")
    console.print(f"wrote {req.out} ({req.samplerate} Hz, latent {figures['latent_size']}, {result.steps} steps in "
                  f"{result.train_seconds / 60:.1f} min); card {card_path(req.out).name}"
                  + (f"; reconstruction score {score:.3f} on {req.eval_dir}" if score is not None else ""),
                  highlight=False, markup=False)
    if (warning := collapse_warning(figures)) is not None:
        console.print(warning, style="bold red", highlight=False, markup=False)

