"""/rave/energy means louder and brighter on any model; chaos, texture and style each do what they say.

The sweeps render 4 s per setting without a master stage and measure with engine/dsp/sound_measures.py
(the same measures bench/bench_energy.py prints).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from model_factories import make_new_style_model, make_random_decoder_model

from engine.dsp import sound_measures as sm
from engine.dsp.tilt import SpectralTilt
from engine.latent import energy
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph
from engine.render.offline import RenderRequest, render

ENERGIES = (0.3, 0.6, 1.0, 1.5, 2.0)
AMOUNTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SEEDS = range(10)
SECONDS = 4.0


def _render(model: NNModel, seed: int, *sets: str) -> tuple[np.ndarray, int]:
    result = render(RenderRequest(seconds=SECONDS, sets=list(sets), seed=seed, model=model.path), model)
    return result.audio, result.rate


def _stats(model: NNModel) -> tuple[np.ndarray, np.ndarray]:
    return model.latent_statistics() or (np.zeros(model.latent_size), np.ones(model.latent_size))


# ----------------------------------------------------------------------------- measures and pieces
def test_k_weighted_loudness_of_a_full_scale_997_hz_sine_is_minus_3_lufs() -> None:
    for rate in (44100, 48000):
        t = np.arange(4 * rate) / rate
        assert sm.short_term_loudness(np.sin(2 * np.pi * 997 * t), rate) == pytest.approx(-3.01, abs=0.05)


def test_energy_position_and_target_run_from_0_3_to_2_0() -> None:
    assert [energy.position(e) for e in (0.3, 1.0, 2.0)] == pytest.approx([-1.0, 0.0, 1.0])
    targets = [energy.target_db(e) for e in ENERGIES]
    assert np.all(np.diff(targets) > 0) and targets[-1] - targets[0] == pytest.approx(16.4, abs=0.1)
    assert energy.position(5.0) == 1.0 and energy.position(0.01) == -1.0  # modulation past the range is clamped


def test_spectral_tilt_streams_without_seams_and_brightens() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 1)).astype(np.float32)
    whole = SpectralTilt(1).process(x, 0.3)
    tilt = SpectralTilt(1)
    parts = np.concatenate([tilt.process(x[:1000], 0.3), tilt.process(x[1000:], 0.3)])
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    assert SpectralTilt(1).process(x, 0.0) is x  # nothing to do at energy 1
    bright, dark = sm.median_centroid_hz(whole, 48000), sm.median_centroid_hz(SpectralTilt(1).process(x, -0.3), 48000)
    assert dark < sm.median_centroid_hz(x, 48000) < bright


def test_calibration_finds_the_directions_a_sine_bank_gets_louder_along(tmp_path: Path) -> None:
    # Every dimension of the sine-bank test model raises its sine's amplitude (sigmoid): louder is +z.
    # Dimension k is partial k: raising the high ones brightens, raising the low ones darkens. The
    # bisector of the two directions leans on the high partials.
    model = NNModel.load(make_new_style_model(tmp_path, latent_size=8))
    calibration = energy.calibrate(model, *_stats(model))
    direction = np.array(calibration.direction)
    assert np.linalg.norm(direction) == pytest.approx(1.0) and direction.sum() > 0
    assert np.all(np.diff(direction) > 0)
    assert calibration.loudness_db_per_std > 0 and calibration.centroid_octaves_per_std > 0


def test_calibration_is_deterministic_and_leaves_torch_random_stream_alone(tmp_path: Path) -> None:
    model = NNModel.load(make_random_decoder_model(tmp_path, seed=3))  # its decode draws torch.randn
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    first = energy.calibrate(model, *_stats(model))
    assert torch.equal(torch.rand(3), expected)
    second = energy.calibrate(model, *_stats(model))
    assert first.direction == second.direction and first.latent_db == second.latent_db


def test_second_load_reads_the_cache_keyed_by_the_file_hash(tmp_path: Path, calibration_cache: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_new_style_model(tmp_path, latent_size=4)
    model = NNModel.load(path)
    first = energy.energy_map_for(model, *_stats(model)).calibration
    files = list((calibration_cache / "energy").glob(f"{energy._file_hash(path)}-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["direction"] == list(first.direction)

    def fail(*_: object) -> None:
        raise AssertionError("calibrated again")

    monkeypatch.setattr(energy, "calibrate", fail)
    energy._memo.clear()
    assert energy.energy_map_for(model, *_stats(model)).calibration == first  # from disk, no decode

    files[0].write_text("{ not json")  # a damaged entry costs a calibration, never an error
    energy._memo.clear()
    monkeypatch.undo()
    again = energy.energy_map_for(model, *_stats(model)).calibration
    assert again.direction == first.direction and again.latent_db == first.latent_db


def test_an_unwritable_cache_never_stops_a_model_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(energy.CACHE_ENV, str(blocker / "cache"))  # a folder under a file: cannot exist
    model = NNModel.load(make_new_style_model(tmp_path, latent_size=4))
    energy._memo.clear()
    assert len(energy.energy_map_for(model, *_stats(model)).direction) == 4


def test_energy_moves_the_latent_along_the_calibrated_direction(tmp_path: Path) -> None:
    model = NNModel.load(make_new_style_model(tmp_path, latent_size=8))
    latents = {}
    for e in (1.0, 2.0):
        store = ParamStore(build_param_table(8))
        store.set("/rave/energy", e)
        graph = RenderGraph(model, store, seed=4)
        graph.next_frame()
        latents[e] = graph.latent
    shift = latents[2.0] - latents[1.0]
    np.testing.assert_allclose(shift, energy.SHIFT * graph.energy_map.direction, atol=1e-9)
    assert graph.energy_target_db == pytest.approx(6.0)  # the hook a loudness leveller follows


# ----------------------------------------------------------------------------- energy sweeps
def _assert_energy_means_energy(model: NNModel) -> None:
    loud, bright = [], []
    for seed in SEEDS:
        rows = [_render(model, seed, f"/rave/energy={e}") for e in ENERGIES]
        loud.append([sm.median_loudness(a, r) for a, r in rows])
        bright.append([sm.median_centroid_hz(a, r) for a, r in rows])
    loud_a, bright_a = np.array(loud), np.array(bright)
    assert np.all(np.diff(loud_a, axis=1) > 0), f"loudness not rising on every seed (LUFS):\n{loud_a.round(1)}"
    assert np.all(loud_a[:, -1] - loud_a[:, 0] >= 8.0), f"0.3 -> 2.0 under 8 LU:\n{loud_a.round(1)}"
    assert np.sum(bright_a[:, -1] > bright_a[:, 0]) >= 8, f"centroid (Hz):\n{bright_a.round(0)}"


def test_energy_raises_loudness_and_brightness_on_the_default_model(default_model: NNModel) -> None:
    _assert_energy_means_energy(default_model)


@pytest.mark.parametrize("weights_seed", [0, 1])
def test_energy_raises_loudness_and_brightness_on_untrained_rave_shaped_decoders(tmp_path: Path,
                                                                                weights_seed: int) -> None:
    _assert_energy_means_energy(NNModel.load(make_random_decoder_model(tmp_path, seed=weights_seed)))


# ----------------------------------------------------------------------------- chaos, texture, style
CONTROL_SEEDS = range(8)


def _median_rises(values: list[list[float]]) -> np.ndarray:
    arr = np.array(values)
    median = np.median(arr, axis=0)
    assert np.all(np.diff(median) > 0), f"median over seeds not rising: {median.round(3)}\n{arr.round(3)}"
    return arr


def test_chaos_raises_spectral_flux(default_model: NNModel) -> None:
    arr = _median_rises([[sm.flux_db(*_render(default_model, s, f"/rave/chaos={v}")) for v in AMOUNTS]
                         for s in CONTROL_SEEDS])
    assert np.all(arr[:, -1] > arr[:, 0])


def test_texture_raises_slow_spectral_change(default_model: NNModel) -> None:
    arr = _median_rises([[sm.slow_change_db(*_render(default_model, s, f"/rave/texture={v}")) for v in AMOUNTS]
                         for s in CONTROL_SEEDS])
    assert np.all(arr[:, -1] > arr[:, 0])


def test_style_moves_from_source_a_to_source_b(default_model: NNModel) -> None:
    to_a, to_b = [], []
    for seed in CONTROL_SEEDS:
        renders = [_render(default_model, seed, f"/rave/style={v}") for v in AMOUNTS]
        rate = renders[0][1]
        to_a.append([sm.frame_distance_db(a, renders[0][0], rate) for a, _ in renders])
        to_b.append([-sm.frame_distance_db(a, renders[-1][0], rate) for a, _ in renders])
    assert np.all(np.diff(np.array(to_a), axis=1) > 0) and np.all(np.diff(np.array(to_b), axis=1) > 0)
    assert to_a[0][-1] > 1.0  # source B (walk2 by default) is not source A


def test_walk2_plays_as_either_source(default_model: NNModel) -> None:
    a, _ = _render(default_model, 0, "/rave/source/a=walk2")
    b, _ = _render(default_model, 0)
    assert sm.median_loudness(a, 48000) > -70 and not np.allclose(a, b)


def test_a_model_too_slow_for_the_budget_is_charted_with_fewer_samples(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    model = NNModel.load(make_new_style_model(tmp_path, latent_size=8))
    monkeypatch.setattr(energy, "BUDGET_SECONDS", 1e-9)
    assert energy._plan(model, *_stats(model)) == (2 * 8 + 16, energy.MIN_SWEEP_SAMPLES)
    calibration = energy.calibrate(model, *_stats(model))
    assert np.linalg.norm(calibration.direction) == pytest.approx(1.0) and calibration.latent_db[-1] > 0
