"""Training speed and what a short training on a folder buys.

.venv/bin/python bench/bench_training.py speed [--threads 1 2] [--steps 20] [--device cpu] [--json-out FILE]
.venv/bin/python bench/bench_training.py quality --minutes 15 [--data DIR] [--init models/default.ts]
                                                  [--eval-every 5] [--json-out FILE]

speed: steps per second of the default architecture (batch 8 x 12 latent frames, the defaults of
`run_engine.py train`) through the real loop (engine/training/trainer.py, crops from a pool of
recorded-like excerpts), per torch thread count, after two warm-up steps.

quality: `run_engine.py train` for M minutes on a folder, then the reconstruction score
(engine/dsp/reconstruction.py, first 15 s of each recording) on ../shared/fixtures/music against the
default model's on the same recordings; with --eval-every, also the score every N minutes of
training (time spent measuring is not counted as training). Without --data, the folder is made from
the fixtures themselves minus what is scored (each recording from 16 s on): held-out passages of the
same recordings, not other recordings of the same instrument (the fixtures hold no such set).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.console import cli_console  # noqa: E402
from engine.io.audio_files import read_audio, write_wav  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.default_vae import LATENT_RATIO, DefaultVAE  # noqa: E402
from engine.training.audio_folder import FolderCrops, audio_files  # noqa: E402
from engine.training.clip_pool import ClipPool  # noqa: E402
from engine.training.model_rate import build_model  # noqa: E402
from engine.training.report import MUSIC_DEFAULT, Exported, music_reconstruction  # noqa: E402
from engine.training.train_folder import FolderTrainRequest, train_folder  # noqa: E402
from engine.training.trainer import TrainSettings, train  # noqa: E402

SCORED_SECONDS = 15.0  # music_reconstruction scores the first 15 s
GUARD_SECONDS = 1.0


def speed(threads: int, steps: int, device: str) -> dict[str, float]:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    t = np.arange(48000 * 20) / 48000
    source = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
              + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
    crops = FolderCrops([source], 98304)

    def make_pool(r: np.random.Generator) -> ClipPool:
        return ClipPool(crops, r, 64, 12 * LATENT_RATIO)

    torch.manual_seed(0)
    model = build_model()
    train(model, make_pool, [0], TrainSettings(steps=2, progress=False, device=device))  # warm-up
    result = train(model, make_pool, [1], TrainSettings(steps=steps, progress=False, device=device))
    rate = result.steps / result.train_seconds
    return {"threads": threads, "steps": steps, "steps_per_s": rate,
            "audio_seconds_per_s": rate * 8 * 12 * LATENT_RATIO / 48000}


def held_out_folder(music: Path, folder: Path) -> float:
    """Each recording from SCORED_SECONDS + GUARD_SECONDS on, as a WAV in `folder`; returns seconds."""
    total = 0.0
    for path in audio_files(music):
        audio, rate = read_audio(path)
        rest = audio[int((SCORED_SECONDS + GUARD_SECONDS) * rate):]
        write_wav(folder / f"{path.stem}.wav", rest, rate, subtype="FLOAT")
        total += len(rest) / rate
    return total


class EagerModel:
    """The training model as music_reconstruction wants it (decode(encode(x)), seeded noise); the
    streaming export computes the same samples."""

    def __init__(self, model: DefaultVAE) -> None:
        self.model, self.rate, self.ratio = model, int(model.sr), LATENT_RATIO

    @torch.no_grad()
    def reconstruct(self, clip: np.ndarray) -> np.ndarray:
        torch.manual_seed(0)
        return self.model.decode(self.model.encode(torch.from_numpy(clip.astype(np.float32))[None, None]))[0, 0].numpy()


def quality(args: argparse.Namespace) -> dict[str, object]:
    console = cli_console(stderr=True)
    default = music_reconstruction(Exported(torch.jit.load(str(DEFAULT_MODEL)).eval()), args.music)
    curve: list[dict[str, float]] = []

    def measure(model: DefaultVAE, step: int, seconds: float) -> None:
        with torch.random.fork_rng(devices=[]):
            copy_ = copy.deepcopy(model).eval()
            score = music_reconstruction(EagerModel(copy_), args.music)["music_score_mean"]
        curve.append({"minutes": seconds / 60, "step": step, "music_score_mean": score})
        console.print(f"{seconds / 60:.1f} min, step {step}: score {score:.3f} (default {default['music_score_mean']:.3f})")

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            data.mkdir()
            held_out_folder(args.music, data)
        out = Path(tmp) / "bench.ts"
        request = FolderTrainRequest(data=data, out=out, minutes=args.minutes, seed=args.seed, init=args.init,
                                     eval_dir=args.music, threads=args.threads,
                                     checkpoint_minutes=args.eval_every or args.minutes * 2)
        started = time.perf_counter()
        status = train_folder(request, console, on_checkpoint=measure if args.eval_every else None)
        wall = time.perf_counter() - started
        if status != 0:
            raise SystemExit(status)
        figures = json.loads(out.with_suffix(".training.json").read_text())
    if not curve or curve[-1]["step"] != figures["steps"]:
        curve.append({"minutes": figures["train_seconds"] / 60, "step": figures["steps"],
                      "music_score_mean": figures["music_score_mean"]})
    return {
        "data": str(args.data) if args.data else "fixtures from 16 s on (held-out passages of the scored recordings)",
        "data_seconds": figures["data_seconds"], "init": str(args.init) if args.init else None,
        "minutes": args.minutes, "steps": figures["steps"], "train_seconds": figures["train_seconds"],
        "wall_seconds": wall, "threads": torch.get_num_threads(),
        "music_score_mean": figures["music_score_mean"], "music_scores": figures["music_scores"],
        "default_music_score_mean": default["music_score_mean"], "default_music_scores": default["music_scores"],
        "beats_default": figures["music_score_mean"] < default["music_score_mean"],
        "curve": curve, "load_average": os.getloadavg(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    s.add_argument("--steps", type=int, default=20)
    s.add_argument("--device", default="cpu")
    q = sub.add_parser("quality")
    q.add_argument("--minutes", type=float, default=15.0)
    q.add_argument("--data", type=Path, help="training folder (default: the fixtures minus the scored part)")
    q.add_argument("--music", type=Path, default=MUSIC_DEFAULT, help="recordings scored")
    q.add_argument("--init", type=Path, help="start from an export's weights, e.g. models/default.ts")
    q.add_argument("--eval-every", type=float, metavar="MIN", help="score the model every MIN minutes of training")
    q.add_argument("--threads", type=int)
    q.add_argument("--seed", type=int, default=0)
    for parser in (s, q):
        parser.add_argument("--json-out", type=Path)
    args = p.parse_args()
    if args.mode == "speed":
        result: dict[str, object] = {"mode": "speed", "device": args.device,
                                     "runs": [speed(n, args.steps, args.device) for n in args.threads],
                                     "load_average": os.getloadavg()}
    else:
        result = {"mode": "quality", **quality(args)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
