"""The training loop of our VAE: spectral loss + KL, checkpoints, resume, Ctrl-C, data parallel.

One step: set the learning rate (cosine to 5 % over the planned steps, or over the time budget when
no step count is given), crop a batch from the clip pool, renew one pool clip, encode, sample
z = mean + noise * std, decode, multi-scale spectral loss + beta * KL (beta ramped in), clip the
gradient norm at 1, Adam. For a given seed and step count the weights are bit-identical run to run
on one process (the order of random draws is fixed: pool, then per step crops, renewal, noise).

Checkpoints (rank 0 only, written to a temporary file and renamed, so one is never half-written)
hold the weights, the optimiser, the step, the training time so far, the numpy and torch generators
and the run's settings. `resume` continues from one: same step, learning-rate position and optimiser
state; the pool is refilled from the saved generator, so the data after a resume differs from an
uninterrupted run's (statistically the same). SIGINT or SIGTERM ends the loop after the current step
with a checkpoint.

Under torchrun (WORLD_SIZE > 1) the step runs in DistributedDataParallel (gloo on CPU, nccl on
CUDA): every rank crops its own batch (its generator is seeded with its rank) and gradients are
averaged, so every rank holds the same weights; each step the ranks agree (one all-reduce) on
whether to stop and on the elapsed time, so a time budget or a Ctrl-C stops them at the same step.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn

from engine.errors import TrainingDataError
from engine.models.default_vae import DefaultVAE
from engine.training.clip_pool import ClipPool
from engine.training.losses import gaussian_kl, multiscale_spectral_loss

CHECKPOINT_VERSION = 1
LR_FLOOR, LR_SPAN = 0.05, 0.95  # the cosine ends at 5 % of the peak learning rate
GRAD_CLIP = 1.0
EMA_KEEP, EMA_NEW = 0.98, 0.02  # smoothing of the loss figures shown and reported


@dataclass
class TrainSettings:
    batch: int = 8
    lr: float = 1e-3
    beta: float = 0.002  # final KL weight
    kl_warmup: int = 1500  # steps over which beta ramps up from 0
    log_floor: float = 1e-5  # magnitude floor of the loss's log term
    steps: int | None = None  # the planned length; None: train for `minutes`
    minutes: float | None = None  # training-time budget (counted across resumes); None: only `steps`
    checkpoint: Path | None = None  # where checkpoints go (rank 0); None: none
    checkpoint_minutes: float = 5.0
    log_every: int = 25  # steps between progress updates
    history_every: int = 250  # steps between the (step, loss, KL) points kept in the result and the JSON
    device: str = "cpu"
    progress: bool = True  # a rich progress bar on rank 0
    meta: dict[str, object] = field(default_factory=dict)  # saved in checkpoints; a resume must match it
    # Called on rank 0 after each periodic checkpoint with (model, step, training seconds), e.g. to
    # measure the model so far; the time it takes does not count as training time.
    on_checkpoint: Callable[[DefaultVAE, int, float], None] | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise ValueError("give a step count, a time budget or both")


@dataclass
class TrainResult:
    steps: int
    train_seconds: float
    final_spectral_loss: float
    final_kl: float
    interrupted: bool
    world_size: int = 1
    weights_sha256: str = ""
    # (step, spectral loss EMA, KL EMA) every history_every steps: a latent that collapses (KL towards 0)
    # shows when it happened, even where no progress bar was drawn.
    history: list[tuple[int, float, float]] = field(default_factory=list)


class VAEStep(nn.Module):
    """One forward pass of training (posterior, reparameterised sample, decoder) as a module, so
    DistributedDataParallel can hook it; returns (decoded audio, posterior mean, log-variance)."""

    def __init__(self, model: DefaultVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, logvar = self.model.posterior(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        return self.model.decoder(z), mean, logvar


# ----------------------------------------------------------------------------- processes
@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def ranks_from_env() -> Ranks:
    """The process's place under torchrun (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""
    return Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                 int(os.environ.get("LOCAL_RANK", 0)))


def resolve_device(name: str, ranks: Ranks) -> torch.device:
    """`auto`: CUDA where present, else the CPU. Under torchrun each rank takes its local GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TrainingDataError("--device cuda: no CUDA device is available here")
        return torch.device("cuda", ranks.local % torch.cuda.device_count())
    if name == "mps" and not torch.backends.mps.is_available():
        raise TrainingDataError("--device mps: the MPS backend is not available here")
    if name not in ("cpu", "mps"):
        raise TrainingDataError(f"--device must be auto, cpu, cuda or mps, got {name!r}")
    return torch.device(name)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Join torchrun's process group for the duration (gloo on CPU, nccl on CUDA); nothing alone."""
    if ranks.world == 1:
        yield
        return
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)  # nccl binds each rank's communicator to its current device
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def stop_requests() -> Iterator[list[bool]]:
    """A flag set by SIGINT or SIGTERM (the loop ends after the current step and checkpoints)."""
    flag = [False]

    def handler(signum: int, frame: object) -> None:
        flag[0] = True

    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: signals stay as they are
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save through a temporary file and a rename: a crash or a second Ctrl-C mid-write leaves
    the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise TrainingDataError(f"{path}: no checkpoint to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several kinds for a truncated or foreign file
        raise TrainingDataError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise TrainingDataError(f"{path}: not a checkpoint of this trainer (version {CHECKPOINT_VERSION})")
    return state


def weights_digest(model: nn.Module) -> str:
    """sha256 over every tensor of the state dict, in order: equal digests, equal weights."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the loop
class _Progress:
    """Rank 0's progress bar: loss, KL, steps/s and ETA, over steps or over the time budget."""

    def __init__(self, settings: TrainSettings, console: Console | None, start_step: int, start_seconds: float,
                 enabled: bool) -> None:
        self.by_steps = settings.steps is not None
        self.settings = settings
        self.bar: Progress | None = None
        if enabled:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[rate]}"),
                                TimeElapsedColumn(), TimeRemainingColumn(), console=console)
            total = settings.steps if self.by_steps else (settings.minutes or 0.0) * 60
            done = start_step if self.by_steps else start_seconds
            self.task = self.bar.add_task("training", total=total, completed=done, rate="")

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, step: int, seconds: float, spec: float, kl: float, rate: float) -> None:
        if self.bar is None:
            return
        done = step if self.by_steps else min(seconds, (self.settings.minutes or 0.0) * 60)
        self.bar.update(self.task, completed=done, description=f"step {step} loss {spec:.3f} kl {kl:.1f}",
                        rate=f"{rate:.2f} steps/s")


def train(
    model: DefaultVAE,
    make_pool: Callable[[np.random.Generator], ClipPool],
    data_seed: list[int],
    settings: TrainSettings,
    *,
    resume: dict | None = None,
    ranks: Ranks | None = None,
    console: Console | None = None,
) -> TrainResult:
    """Train `model` in place on crops from the pool `make_pool` builds; see the module docstring.

    `data_seed` seeds the data generator (rank r > 0 appends r). `resume` is a loaded checkpoint."""
    ranks = ranks or Ranks()
    device = torch.device(settings.device)
    seed = list(data_seed) if ranks.main else [*data_seed, ranks.rank]
    rng = np.random.default_rng(seed)
    step, done_seconds, spec_ema, kl_ema = 0, 0.0, math.nan, math.nan
    if resume is not None:
        model.load_state_dict(resume["model"])
        step, done_seconds = int(resume["step"]), float(resume["train_seconds"])
        spec_ema, kl_ema = float(resume["spec_ema"]), float(resume["kl_ema"])
        if ranks.main:
            rng.bit_generator.state = resume["rng"]
            torch.set_rng_state(resume["torch_rng"])
        else:
            torch.manual_seed(step * 1000 + ranks.rank)
    elif not ranks.main:
        torch.manual_seed(int(np.random.default_rng(seed).integers(2**62)))  # own sampling noise per rank
    pool = make_pool(rng)
    model.to(device)
    forward: nn.Module = VAEStep(model)
    if ranks.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(forward, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
    model.train()
    start = time.perf_counter()
    last_checkpoint, first_step = start, step
    budget = None if settings.minutes is None else settings.minutes * 60

    def checkpoint() -> None:
        if settings.checkpoint is None or not ranks.main:
            return
        save_checkpoint(settings.checkpoint, {
            "version": CHECKPOINT_VERSION, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "step": step, "train_seconds": elapsed, "spec_ema": spec_ema, "kl_ema": kl_ema,
            "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "meta": settings.meta,
            "history": history,
        })

    elapsed = done_seconds
    interrupted = False
    history: list[tuple[int, float, float]] = list(resume.get("history", [])) if resume is not None else []
    show = _Progress(settings, console, step, done_seconds, settings.progress and ranks.main)
    with stop_requests() as stop, show:
        while True:
            elapsed = done_seconds + time.perf_counter() - start
            halt = stop[0] or (settings.steps is not None and step >= settings.steps) or (
                budget is not None and elapsed >= budget)
            if ranks.world > 1:
                halt, elapsed = _agree(halt, elapsed)
            if halt:
                interrupted = stop[0] or _was_interrupted(halt, settings, step, elapsed, budget)
                break
            fraction = step / settings.steps if settings.steps is not None else elapsed / budget
            for group in opt.param_groups:
                group["lr"] = settings.lr * (LR_FLOOR + LR_SPAN * 0.5 * (1 + math.cos(math.pi * fraction)))
            x = pool.batch(settings.batch).to(device)
            pool.renew()
            y, mean, logvar = forward(x)
            spec = multiscale_spectral_loss(x, y, settings.log_floor)
            kl = gaussian_kl(mean, logvar)
            beta = settings.beta * min(1.0, step / max(1, settings.kl_warmup))
            loss = spec + beta * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
            opt.step()
            step += 1
            spec_ema = spec.item() if math.isnan(spec_ema) else EMA_KEEP * spec_ema + EMA_NEW * spec.item()
            kl_ema = kl.item() if math.isnan(kl_ema) else EMA_KEEP * kl_ema + EMA_NEW * kl.item()
            now = time.perf_counter()
            if now - last_checkpoint > settings.checkpoint_minutes * 60:
                elapsed = done_seconds + now - start
                checkpoint()
                if settings.on_checkpoint is not None and ranks.main:
                    settings.on_checkpoint(model, step, elapsed)
                    model.train()
                start += time.perf_counter() - now  # checkpoint time is not training time
                last_checkpoint = time.perf_counter()
            if step % settings.history_every == 0:
                history.append((step, round(spec_ema, 4), round(kl_ema, 3)))
            if step % settings.log_every == 0 or step == 1:
                show.update(step, done_seconds + now - start, spec_ema, kl_ema, (step - first_step) / max(now - start, 1e-9))
        show.update(step, elapsed, spec_ema, kl_ema, (step - first_step) / max(time.perf_counter() - start, 1e-9))
        if ranks.world > 1:
            _average_buffers(model)
        checkpoint()
    model.to("cpu")
    return TrainResult(step, elapsed, spec_ema, kl_ema, interrupted, ranks.world, weights_digest(model), history)


def _agree(halt: bool, elapsed: float) -> tuple[bool, float]:
    """All ranks stop together and share one clock (the slowest rank's), so the learning rate and
    the stopping step are the same everywhere."""
    import torch.distributed as dist

    flags = torch.tensor([float(halt), elapsed], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        flags = flags.cuda()
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return bool(flags[0].item()), float(flags[1].item())


def _average_buffers(model: nn.Module) -> None:
    """Running statistics (the latent mean's batch norm) follow each rank's own batches; average them
    so every rank ends with the same model."""
    import torch.distributed as dist

    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            buffer.div_(dist.get_world_size())


def _was_interrupted(halt: bool, settings: TrainSettings, step: int, elapsed: float, budget: float | None) -> bool:
    """A halt that neither the step count nor the budget explains came from a signal (on another rank)."""
    reached = (settings.steps is not None and step >= settings.steps) or (budget is not None and elapsed >= budget)
    return halt and not reached
