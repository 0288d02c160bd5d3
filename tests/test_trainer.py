"""The training loop: same seed and steps, same weights; Ctrl-C leaves a checkpoint that resumes;
two processes under torchrun (gloo) end with the same weights."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from training_fixtures import ROOT, TINY, TINY_ARGS, cli_env, run_cli, tone_folder

from engine.training.clip_pool import ClipPool
from engine.training.model_rate import build_model
from engine.training.trainer import Ranks, TrainSettings, load_checkpoint, train, weights_digest


def _train_tiny(seed: int, steps: int = 3, checkpoint: Path | None = None, ranks: Ranks | None = None) -> str:
    torch.manual_seed(seed)
    model = build_model(config=TINY)
    source = np.random.default_rng(99).standard_normal(48000).astype(np.float32) * 0.1

    def make_pool(rng: np.random.Generator) -> ClipPool:
        def excerpt(r: np.random.Generator) -> np.ndarray:
            start = int(r.integers(0, len(source) - 8192))
            return source[start : start + 8192]

        return ClipPool(excerpt, rng, 4, 4096)

    settings = TrainSettings(batch=2, steps=steps, checkpoint=checkpoint, progress=False)
    result = train(model, make_pool, [seed, 7], settings, ranks=ranks)
    assert result.steps == steps and not result.interrupted
    assert result.weights_sha256 == weights_digest(model)
    return result.weights_sha256


def test_same_seed_and_steps_give_the_same_weights(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first, second, other = _train_tiny(0), _train_tiny(0, checkpoint=tmp_path / "c.ckpt.pt"), _train_tiny(1)
    finally:
        torch.set_num_threads(threads)
    assert first == second
    assert other != first
    state = load_checkpoint(tmp_path / "c.ckpt.pt")  # the final checkpoint holds the final weights
    assert state["step"] == 3


def test_another_rank_crops_other_examples_and_writes_nothing(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rank0 = _train_tiny(0)
        rank1 = _train_tiny(0, checkpoint=tmp_path / "c.ckpt.pt", ranks=Ranks(rank=1, world=1))
    finally:
        torch.set_num_threads(threads)
    assert rank1 != rank0  # same seed, other data and noise
    assert not (tmp_path / "c.ckpt.pt").exists()


def test_ctrl_c_leaves_a_checkpoint_that_resume_continues(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "m.ts"
    tone_folder(data, seconds_each=8.0)
    checkpoint = out.with_suffix(".ckpt.pt")
    args = ["train", "--data", str(data), "--out", str(out), "--model-config", json.dumps(TINY), *TINY_ARGS]
    process = subprocess.Popen([sys.executable, str(ROOT / "run_engine.py"), *args, "--minutes", "10",
                                "--checkpoint-minutes", "0.0005"], cwd=ROOT, env=cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # a checkpoint every 30 ms of training: it is training once one exists
        assert checkpoint.exists(), process.communicate()[1] if process.poll() is not None else "no checkpoint"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "continue with --resume" in err and "Traceback" not in err
    assert not out.exists()  # nothing exported
    state = load_checkpoint(checkpoint)
    stopped = state["step"]
    assert stopped >= 1
    model = build_model(config=TINY)
    model.load_state_dict(state["model"])  # usable weights

    done = run_cli(*args, "--resume", "--steps", str(stopped + 2))
    assert done.returncode == 0, done.stderr
    assert f"from step {stopped}" in done.stderr
    assert json.loads(out.with_suffix(".training.json").read_text())["steps"] == stopped + 2
    assert torch.jit.load(str(out)).decode(torch.zeros(1, 4, 2)).shape == (1, 1, 4096)


def test_two_processes_under_torchrun_hold_the_same_weights(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "m.ts"
    tone_folder(data, seconds_each=8.0)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(ROOT / "run_engine.py"), "train", "--data", str(data), "--out", str(out), "--steps", "3",
           "--device", "cpu", "--model-config", json.dumps(TINY), *TINY_ARGS]
    done = subprocess.run(cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    digests = {}
    for line in (done.stdout + done.stderr).splitlines():
        if ": weights sha256 " in line:
            rank, digest = line.split(": weights sha256 ")
            digests[rank.split()[-1]] = digest.strip()
    assert set(digests) == {"0/2", "1/2"}, done.stdout
    assert digests["0/2"] == digests["1/2"]
    assert "2 processes" in done.stderr
    assert out.exists() and json.loads(out.with_suffix(".training.json").read_text())["steps"] == 3
