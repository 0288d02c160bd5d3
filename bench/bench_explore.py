"""The explorer's costs and its codebook measure (issue 11):

- `explore`: seconds (wall and CPU) per minute of audio to map a collection (encode, librosa
  descriptors, 3D map, k-means), cold (first build in the process: librosa's and UMAP's numba compilation included) and
  warm, with PCA and, where umap-learn is installed, UMAP;
- codebook render speed: `render --input` with and without `--codebook` (CPU seconds per second of
  audio, one torch thread, 20 s targets; wall time too), and one frame's `Codebook.project` (CPU time)
  at 1k/8k/32k entries, latent size 8 and 16, K 1/3/8;
- the measure: a target through a collection's codebook, its onset-envelope correlation with the
  target and the distance of its long-term spectrum to the collection's and to the target's (K 3).

Each result is also written to stderr as it comes. CPU times, because on a shared machine the wall
clock measures the neighbours.

Collections: the music excerpts in ../shared/fixtures/music (skipped when absent) and generated ones.

.venv/bin/python bench/bench_explore.py [--parts explore,project,measure] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.explore.build import ExploreRequest, build_atlas  # noqa: E402
from engine.explore.codebook import Codebook  # noqa: E402
from engine.explore.map3d import umap_available  # noqa: E402
from engine.explore.measures import long_term_spectrum, onset_correlation, spectrum_distance  # noqa: E402
from engine.io.audio_files import read_audio  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.render.offline import RenderRequest, render  # noqa: E402
from tests.explore_fixtures import RATE, hats, plucks  # noqa: E402

MUSIC = ROOT.parent / "shared" / "fixtures" / "music"


def explore_cost(model: NNModel, folder: Path, out: Path, runs: tuple[str, ...]) -> dict[str, object]:
    """`runs`: "pca_cold", "pca_warm", "umap_cold", "umap_warm" (cold: the first build of that kind in
    this process, numba compiling librosa's or UMAP's functions)."""
    results: dict[str, object] = {}
    for run in runs:
        method = run.split("_")[0]
        if method == "umap" and not umap_available():
            continue
        cpu = time.process_time()
        result = build_atlas(ExploreRequest(folder, out, map_method=method), model=model)
        cpu = time.process_time() - cpu
        minutes = result.audio_seconds / 60
        results[run] = {
            "audio_minutes": round(minutes, 3), "wall_s": round(result.wall_seconds, 2), "cpu_s": round(cpu, 2),
            "seconds_per_audio_minute": round(result.wall_seconds / minutes, 2),
            "cpu_seconds_per_audio_minute": round(cpu / minutes, 2),
            "stages_s": {k: round(v, 3) for k, v in result.stages.items()}, "chunks": result.atlas.chunks}
        _say(run, results[run])
    return results


def _say(label: str, value: object) -> None:
    print(f"{label}: {json.dumps(value)}", file=sys.stderr, flush=True)


def project_cost() -> dict[str, float]:
    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for dims in (8, 16):
        for size in (1024, 8192, 32768):
            book = Codebook(rng.normal(size=(size, dims)), 2048 / 48000)
            frames = rng.normal(size=(200, dims))
            for k in (1, 3, 8):
                for z in frames[:10]:
                    book.project(z, k)
                times = []
                for z in frames:  # this thread's CPU time, median call: a loaded machine preempts
                    start = time.thread_time_ns()
                    book.project(z, k)
                    times.append(time.thread_time_ns() - start)
                out[f"d{dims}_n{size}_k{k}_us"] = round(float(np.median(times)) / 1e3, 1)
    return out


def measure(model: NNModel, atlas: Path, collection: np.ndarray, collection_rate: int, target_path: Path,
            k: int, plain_rtf: dict[Path, float]) -> dict[str, float]:
    target, target_rate = read_audio(target_path)
    seconds = min(20.0, target.shape[0] / target_rate)
    cpu = time.process_time()
    result = render(RenderRequest(seconds=seconds, input=target_path, codebook=atlas, codebook_k=k), model=model)
    cpu = time.process_time() - cpu
    if target_path not in plain_rtf:
        plain_cpu = time.process_time()
        render(RenderRequest(seconds=seconds, input=target_path), model=model)
        plain_rtf[target_path] = (time.process_time() - plain_cpu) / seconds
    spectrum = long_term_spectrum(result.audio, result.rate)
    return {
        "onset_correlation": round(onset_correlation(result.audio, target, result.rate, target_rate=target_rate), 3),
        "spectrum_db_to_collection": round(spectrum_distance(spectrum, long_term_spectrum(collection, collection_rate)), 2),
        "spectrum_db_to_target": round(spectrum_distance(spectrum, long_term_spectrum(target, target_rate)), 2),
        "realtime_factor_wall": round(result.wall_seconds / seconds, 4),
        "cpu_realtime_factor": round(cpu / seconds, 4),
        "cpu_realtime_factor_without_codebook": round(plain_rtf[target_path], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--parts", default="explore,project,measure",
                        help="what to run, comma-separated: explore, project, measure (default: all)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    torch.set_num_threads(1)
    model = NNModel.load(DEFAULT_MODEL)
    results: dict[str, object] = {"model": DEFAULT_MODEL.name, "latent_size": model.latent_size, "threads": 1}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        generated = tmp_path / "plucks"
        generated.mkdir()
        sf.write(generated / "plucks.wav", plucks(60.0), RATE)
        target = tmp_path / "hats.wav"
        sf.write(target, hats(20.0), RATE)
        if "explore" in parts:
            results["explore_generated_1min"] = explore_cost(model, generated, tmp_path / "g.npz",
                                                             ("pca_cold", "pca_warm", "umap_cold", "umap_warm"))
            if MUSIC.is_dir():
                results["explore_music"] = explore_cost(model, MUSIC, tmp_path / "music.npz",
                                                        ("pca_warm", "umap_warm"))
        if "project" in parts:
            results["project_per_frame"] = project_cost()
            _say("project_per_frame", results["project_per_frame"])
        pairs = []
        if "measure" in parts:
            build_atlas(ExploreRequest(generated, tmp_path / "g.npz", map_method="pca"), model=model)
            pairs.append(("plucks -> hats", tmp_path / "g.npz", plucks(60.0), RATE, target))
        if "measure" in parts and MUSIC.is_dir():
            tracks = {p.stem.split("_-_")[-1]: p for p in sorted(MUSIC.glob("*.ogg"))}
            for name, path in tracks.items():
                folder = tmp_path / name
                folder.mkdir()
                (folder / path.name).symlink_to(path)
                build_atlas(ExploreRequest(folder, tmp_path / f"{name}.npz", map_method="pca"), model=model)
                audio, rate = read_audio(path)
                pairs.append((f"{name} -> hats", tmp_path / f"{name}.npz", audio.mean(axis=1), rate, target))
                for other_name, other in tracks.items():
                    if other != path:
                        pairs.append((f"{name} -> {other_name}", tmp_path / f"{name}.npz", audio.mean(axis=1),
                                      rate, other))
        plain_rtf: dict[Path, float] = {}
        measured = {}
        for label, atlas, collection, rate, tgt in pairs:
            measured[f"{label} k3"] = measure(model, atlas, collection, rate, tgt, 3, plain_rtf)
            _say(label, measured[f"{label} k3"])
        if measured:
            results["codebook_measure"] = measured
    text = json.dumps(results, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
