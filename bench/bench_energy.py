"""What /rave/energy, /rave/chaos, /rave/texture and /rave/style do to the sound, in numbers.

.venv/bin/python bench/bench_energy.py [--seeds 10] [--seconds 4] [--random-decoders 2] [--json-out FILE]

Energy sweep per model and seed: median short-term loudness (LUFS, BS.1770) and median spectral
centroid at energy 0.3, 0.6, 1.0, 1.5, 2.0, on the default model and on untrained RAVE-shaped
decoders (random weights, tests/model_factories.py). Then, on the default model over the same
seeds: chaos -> spectral flux, texture -> spectral change over 0.26 s, style -> moment-by-moment
spectral distance to source A (style 0) and to source B (style 1). Without a master stage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.dsp import sound_measures as sm  # noqa: E402
from engine.latent import energy as energy_module  # noqa: E402
from engine.models.default import DEFAULT_MODEL  # noqa: E402
from engine.models.nn_tilde import NNModel  # noqa: E402
from engine.render.offline import RenderRequest, render  # noqa: E402
from tests.model_factories import make_random_decoder_model  # noqa: E402

ENERGIES = (0.3, 0.6, 1.0, 1.5, 2.0)
AMOUNTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _render(model: NNModel, seconds: float, seed: int, sets: list[str]) -> tuple[np.ndarray, int]:
    result = render(RenderRequest(seconds=seconds, sets=sets, seed=seed, model=model.path), model)
    return result.audio, result.rate


def energy_sweep(model: NNModel, seeds: int, seconds: float) -> dict:
    stats = model.latent_statistics() or (np.zeros(model.latent_size), np.ones(model.latent_size))
    calibration = energy_module.energy_map_for(model, *stats).calibration  # calibrates: the cache is empty
    energy_module._memo.clear()
    started = time.perf_counter()
    energy_module.energy_map_for(model, *stats)  # the second load: the file's hash and the cached JSON
    load_seconds = time.perf_counter() - started
    rows = []
    for seed in range(seeds):
        loud, bright = [], []
        for e in ENERGIES:
            audio, rate = _render(model, seconds, seed, [f"/rave/energy={e}"])
            loud.append(round(sm.median_loudness(audio, rate), 2))
            bright.append(round(sm.median_centroid_hz(audio, rate), 1))
        rows.append({"seed": seed, "loudness_lufs": loud, "centroid_hz": bright})
    loud = np.array([r["loudness_lufs"] for r in rows])
    bright = np.array([r["centroid_hz"] for r in rows])
    return {
        "model": model.path.name, "calibration_seconds": round(calibration.seconds, 3),
        "second_load_seconds": round(load_seconds, 3), "regression_samples": calibration.samples,
        "latent_db": [round(v, 2) for v in calibration.latent_db],
        "latent_octaves": [round(v, 3) for v in calibration.latent_octaves],
        "seeds": rows,
        "strictly_rising_seeds": int(np.sum(np.all(np.diff(loud, axis=1) > 0, axis=1))),
        "min_step_lu": round(float(np.diff(loud, axis=1).min()), 2),
        "min_range_lu": round(float((loud[:, -1] - loud[:, 0]).min()), 2),
        "brighter_seeds": int(np.sum(bright[:, -1] > bright[:, 0])),
        "median_centroid_ratio": round(float(np.median(bright[:, -1] / bright[:, 0])), 2),
    }


def control_measures(model: NNModel, seeds: int, seconds: float) -> dict:
    out: dict[str, list[list[float]]] = {"chaos_flux_db": [], "texture_slow_change_db": [],
                                         "style_distance_to_a_db": [], "style_distance_to_b_db": []}
    for seed in range(seeds):
        flux, slow = [], []
        for v in AMOUNTS:
            audio, rate = _render(model, seconds, seed, [f"/rave/chaos={v}"])
            flux.append(round(sm.flux_db(audio, rate), 3))
            audio, rate = _render(model, seconds, seed, [f"/rave/texture={v}"])
            slow.append(round(sm.slow_change_db(audio, rate), 3))
        styles = [_render(model, seconds, seed, [f"/rave/style={v}"]) for v in AMOUNTS]
        rate = styles[0][1]
        out["chaos_flux_db"].append(flux)
        out["texture_slow_change_db"].append(slow)
        out["style_distance_to_a_db"].append([round(sm.frame_distance_db(a, styles[0][0], rate), 3) for a, _ in styles])
        out["style_distance_to_b_db"].append([round(sm.frame_distance_db(a, styles[-1][0], rate), 3) for a, _ in styles])
    summary = {}
    for name, rows in out.items():
        arr = np.array(rows)
        sign = -1.0 if name.endswith("_to_b_db") else 1.0
        summary[name] = {
            "median_over_seeds": [round(float(v), 3) for v in np.median(arr, axis=0)],
            "seeds_monotonic": int(np.sum(np.all(sign * np.diff(arr, axis=1) > 0, axis=1))),
            "seeds_end_above_start": int(np.sum(sign * (arr[:, -1] - arr[:, 0]) > 0)),
        }
    return {"amounts": list(AMOUNTS), "per_seed": out, "summary": summary}


def _costly_calibration(folder: Path) -> dict:
    from bench.costly_model import build

    path, ms, _ = build(folder / "costly.ts")
    model = NNModel.load(path)
    calibration = energy_module.calibrate(model, np.zeros(model.latent_size), np.ones(model.latent_size))
    print(f"costly stand-in ({ms:.1f} ms per frame): calibration {calibration.seconds:.2f} s on "
          f"{calibration.samples} samples", file=sys.stderr)
    return {"decode_ms_per_frame": round(ms, 2), "calibration_seconds": round(calibration.seconds, 2),
            "regression_samples": calibration.samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--random-decoders", type=int, default=2)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--costly", action="store_true",
                        help="also time the calibration of a RAVE v2-cost stand-in (bench/costly_model.py)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    models = [NNModel.load(args.model)]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[energy_module.CACHE_ENV] = tmp  # an empty cache: the first load calibrates
        models += [NNModel.load(make_random_decoder_model(Path(tmp), seed=k)) for k in range(args.random_decoders)]
        sweeps = [energy_sweep(m, args.seeds, args.seconds) for m in models]
        costly = _costly_calibration(Path(tmp)) if args.costly else None
    result = {"energies": list(ENERGIES), "seconds": args.seconds, "energy": sweeps,
              "controls": control_measures(models[0], args.seeds, args.seconds), "costly_stand_in": costly}
    for sweep in sweeps:
        print(f"{sweep['model']}: calibration {sweep['calibration_seconds']} s; "
              f"rising on {sweep['strictly_rising_seeds']}/{args.seeds} seeds, min step {sweep['min_step_lu']} LU, "
              f"min 0.3->2.0 {sweep['min_range_lu']} LU, brighter on {sweep['brighter_seeds']}/{args.seeds}", file=sys.stderr)
        for row in sweep["seeds"]:
            print(f"  seed {row['seed']}: LUFS {row['loudness_lufs']}  centroid Hz {row['centroid_hz']}", file=sys.stderr)
    for name, s in result["controls"]["summary"].items():
        print(f"{name}: median {s['median_over_seeds']}, monotonic on {s['seeds_monotonic']}/{args.seeds}", file=sys.stderr)
    text = json.dumps(result, indent=1)
    if args.json_out:
        args.json_out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
