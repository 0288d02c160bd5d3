"""An export of `run_engine.py train` plays at once: nn~ interface, importance order, the energy
calibration carried in the file, any sample rate; and it renders."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from training_fixtures import TINY

import engine.latent.energy as energy
from engine.errors import TrainingDataError
from engine.models.nn_tilde import NNModel
from engine.render.offline import RenderRequest, render
from engine.training.export import export, fit_latent_rotation, order_by_effect
from engine.training.init_weights import load_init, read_init
from engine.training.model_rate import build_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_model(config=TINY).eval()
    clips = torch.from_numpy(np.random.default_rng(0).standard_normal((8, 1, 16 * 2048)).astype(np.float32) * 0.1)
    fit_latent_rotation(model, clips)
    importance = order_by_effect(model)
    path = tmp_path_factory.mktemp("export") / "tiny.ts"
    export(model, path, importance)
    return path


def test_the_export_has_the_nn_tilde_interface_and_the_importance_order(exported: Path) -> None:
    model = NNModel.load(exported)
    assert set(model.methods) == {"encode", "decode", "forward"}
    assert model.sample_rate == 48000 and model.latent_size == 4 and model.streaming
    assert model.latent_statistics() is not None
    importance = model.module.latent_importance
    assert torch.all(importance[:-1] >= importance[1:]) and float(importance.sum()) == pytest.approx(1.0)
    assert not list(exported.parent.glob(".tiny.ts*"))  # no temporary left behind


def test_the_energy_calibration_travels_in_the_file(exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = NNModel.load(exported)
    mean, std = model.latent_statistics()
    expected = energy.calibrate(model, mean, std)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("calibrated although the file carries a calibration")

    monkeypatch.setattr(energy, "_memo", {})  # nothing remembered from an earlier load
    monkeypatch.setattr(energy, "calibrate", refuse)
    monkeypatch.setattr(energy, "_file_hash", refuse)
    carried = energy.energy_map_for(model, mean, std).calibration
    assert dataclasses.replace(carried, seconds=0.0) == dataclasses.replace(expected, seconds=0.0)


def test_a_calibration_made_with_other_settings_or_statistics_is_ignored(exported: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    model = NNModel.load(exported)
    mean, std = model.latent_statistics()
    assert energy.read_embedded(exported, mean, std) is not None
    assert energy.read_embedded(exported, mean + 0.5, std) is None
    monkeypatch.setattr(energy, "_settings_key", lambda: "v99-other")
    assert energy.read_embedded(exported, mean, std) is None


def test_it_renders(exported: Path, tmp_path: Path) -> None:
    result = render(RenderRequest(seconds=1.0, out=tmp_path / "out.wav", model=exported, progress=False))
    assert result.audio.shape[0] == result.rate
    assert float(np.sqrt(np.mean(result.audio.astype(np.float64) ** 2))) > 1e-4


def test_another_sample_rate_is_built_and_exported(tmp_path: Path) -> None:
    at_48k, at_44k = build_model(config=TINY), build_model(44100, TINY)
    assert at_44k.sr == 44100
    band_48k, band_44k = at_48k.decoder.noise.band_to_bin, at_44k.decoder.noise.band_to_bin
    assert band_44k.shape == band_48k.shape and not torch.equal(band_44k, band_48k)
    assert not torch.equal(at_44k.encoder.analysis.conv.weight, at_48k.encoder.analysis.conv.weight)
    export(at_44k.eval(), tmp_path / "m44.ts", with_calibration=False)
    model = NNModel.load(tmp_path / "m44.ts")
    assert model.sample_rate == 44100 and model.decode(torch.zeros(1, 4, 2)).shape == (1, 1, 4096)
    with pytest.raises(ValueError, match="8000..192000"):
        build_model(4000)


def test_init_reads_the_configuration_and_weights_of_an_export(exported: Path, tmp_path: Path) -> None:
    init = read_init(exported)
    # untrained, its analysis filters sit where they start: read as frozen, and a fine-tune keeps them so
    assert init.config == {**TINY, "frozen_analysis": True} and init.rate == 48000
    model = build_model(config=init.config)
    load_init(model, init)
    assert torch.equal(model.decoder.inp.conv.weight, torch.jit.load(str(exported)).decoder.inp.conv.weight)
    (tmp_path / "junk.ts").write_bytes(b"not a model")
    with pytest.raises(TrainingDataError, match="not an export of our architecture"):
        read_init(tmp_path / "junk.ts")


def test_a_collapsed_latent_is_flagged() -> None:
    """A model whose decoder ignores its latent makes every latent control a stub: the report says so."""
    from engine.training.report import collapse_warning

    assert collapse_warning({"seed_change_distance": 1.2e-5}) is not None
    assert "collapsed" in collapse_warning({"seed_change_distance": 1.2e-5})
    assert collapse_warning({"seed_change_distance": 0.6}) is None


def test_ordering_by_effect_permutes_the_latent_consistently() -> None:
    torch.manual_seed(1)
    model = build_model(config=TINY).eval()
    clips = torch.from_numpy(np.random.default_rng(1).standard_normal((4, 1, 8 * 2048)).astype(np.float32) * 0.1)
    fit_latent_rotation(model, clips)
    pca, mean = model.latent_pca.clone(), model.latent_mean.clone()
    with torch.no_grad():
        torch.manual_seed(5)
        before = model.decode(model.encode(clips))
        shares = order_by_effect(model)
        torch.manual_seed(5)
        after = model.decode(model.encode(clips))
    assert torch.all(shares[:-1] >= shares[1:]) and float(shares.sum()) == pytest.approx(1.0)
    # Rows, means and stds move together: encode then decode gives the same sound in any order.
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)
    order = [int(torch.argmax((pca @ row).abs())) for row in model.latent_pca]
    assert sorted(order) == list(range(len(order)))
    torch.testing.assert_close(model.latent_mean, mean[order])


def test_the_cards_both_ways_distance_does_not_depend_on_which_end_is_called_minus_two() -> None:
    """A loudness axis: the reference-first distance reads small from the loud end and large from the
    quiet one; the card's both-ways figure is the same from either side."""
    import numpy as np

    from engine.dsp.spectral import multiscale_spectral_distance
    from engine.training.report import both_ways

    loud = np.random.default_rng(0).standard_normal(16384) * 0.3
    quiet = loud * 0.1  # the same sound 20 dB down
    forward, back = multiscale_spectral_distance(loud, quiet), multiscale_spectral_distance(quiet, loud)
    assert back > 3 * forward
    assert both_ways(loud, quiet) == pytest.approx(both_ways(quiet, loud)) == pytest.approx((forward + back) / 2)
