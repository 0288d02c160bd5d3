"""The band-edge decoder stage (`DefaultVAE(band_edge=True)`), the frozen analysis front end and the
brick-walled corpus: a decoder that can leave a band empty, as real files are past their edge, an
encoder that keeps hearing the whole band, and material that teaches them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from training_fixtures import TINY

from engine.dsp.spectral import power_above_db
from engine.models.default_vae import EDGE_SOFTNESS_HZ, DefaultVAE
from engine.training.export import export
from engine.training.init_weights import read_init
from engine.training.model_rate import build_model
from training.corpus import _brick_wall, make_clip

RATE = 48000
EDGED = {**TINY, "band_edge": True}


def power_above(x: np.ndarray, hz: float) -> float:
    return power_above_db(x, hz, RATE)


def decode(model: DefaultVAE, z: torch.Tensor) -> np.ndarray:
    torch.manual_seed(0)
    with torch.no_grad():
        return model.decode(z)[0, 0].numpy()


def test_the_edge_empties_the_band_above_it_in_both_branches() -> None:
    torch.manual_seed(0)
    model = DefaultVAE(**EDGED).eval()
    z = torch.randn(1, 4, 8)
    with torch.no_grad():
        model.decoder.noise_gain.conv.bias.fill_(2.0)  # loud noise: the branch a mask must reach too
    open_band = decode(model, z)
    with torch.no_grad():
        model.decoder.edge.head.conv.weight.zero_()
        model.decoder.edge.head.conv.bias.fill_(-30.0)  # the edge at its lowest, 1 kHz
    closed = decode(model, z)
    assert np.sqrt(np.mean(open_band ** 2)) > 1e-3 and np.sqrt(np.mean(closed ** 2)) > 1e-5
    edge_plus = 1000.0 + 10 * EDGE_SOFTNESS_HZ
    assert power_above(open_band, edge_plus) > -20.0  # open: the upper band holds much of the sound
    assert power_above(closed, edge_plus) < -70.0  # closed at 1 kHz: nothing 1.5 kHz past it


def test_an_edged_model_streams_exports_and_is_read_back(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = build_model(config=EDGED).eval()
    z = torch.randn(1, 4, 6)
    whole = decode(model, z)
    path = tmp_path / "edged.ts"
    scripted = export(model, path, with_calibration=False)
    torch.manual_seed(0)
    with torch.inference_mode():
        chunks = torch.cat([scripted.decode(z[..., i:i + 1]) for i in range(6)], dim=-1)[0, 0].numpy()
    assert np.max(np.abs(whole - chunks)) < 1e-4  # the export streams as one call
    init = read_init(path)
    # `train --init` rebuilds the same architecture; untrained, its filters still sit where they start
    assert init.config == {**EDGED, "frozen_analysis": True}


def test_a_frozen_front_end_is_read_back_as_frozen(tmp_path: Path) -> None:
    torch.manual_seed(3)
    frozen = {**EDGED, "frozen_analysis": True}
    export(build_model(config=frozen).eval(), tmp_path / "frozen.ts", with_calibration=False)
    assert read_init(tmp_path / "frozen.ts").config == frozen  # a fine-tune keeps the filters still
    learned = build_model(config=EDGED).eval()
    with torch.no_grad():
        learned.encoder.analysis.conv.weight.mul_(1.01)  # what training does to filters it may move
    export(learned, tmp_path / "learned.ts", with_calibration=False)
    assert read_init(tmp_path / "learned.ts").config == EDGED


def test_brick_walled_clips_are_empty_past_their_edge() -> None:
    empty = 0
    for seed in range(12):
        noise = np.random.default_rng(seed).standard_normal(RATE)
        limited = _brick_wall(np.random.default_rng(seed), noise, RATE)
        power = np.abs(np.fft.rfft(limited)) ** 2
        held = np.flatnonzero(power > 1e-20 * power.max())
        edge_bin = held[-1] + 1
        assert power[edge_bin:].sum() < 1e-18 * power.sum()  # nothing past the edge
        assert 3000 <= edge_bin <= 20001  # 1 Hz bins: the edge is where the corpus puts them
        empty += edge_bin < power.size
    assert empty == 12


def test_the_corpus_limits_clips_the_way_it_is_asked() -> None:
    """The same draws with either kind of limit: the brick wall leaves far less past the edge."""
    butterworth = make_clip(np.random.default_rng(7), 1.0)
    brick = make_clip(np.random.default_rng(7), 1.0, band_limits="brickwall")
    whole = make_clip(np.random.default_rng(7), 1.0, band_limit=False)
    assert not np.array_equal(butterworth, brick)
    assert power_above(brick, 20000.0) < power_above(butterworth, 20000.0) - 30.0
    assert power_above(whole, 20000.0) > power_above(brick, 20000.0) + 30.0


def test_frozen_analysis_filters_stay_as_they_started_while_the_rest_learns() -> None:
    torch.manual_seed(2)
    model = DefaultVAE(**TINY, frozen_analysis=True)
    assert model.config["frozen_analysis"] is True
    analysis = model.encoder.analysis.conv.weight.detach().clone()
    head = model.encoder.head.conv.weight.detach().clone()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = 0.1 * torch.randn(2, 1, 4 * 2048)
    for _ in range(3):
        optimiser.zero_grad()
        (model(x) - x).abs().mean().backward()
        optimiser.step()
    assert torch.equal(model.encoder.analysis.conv.weight, analysis)
    assert not torch.equal(model.encoder.head.conv.weight, head)
    assert DefaultVAE(**TINY).encoder.analysis.conv.weight.requires_grad  # learned unless asked
