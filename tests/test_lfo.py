"""The LFO bank: shapes, rates, tempo sync and targets."""

import numpy as np
import pytest

from engine.latent.lfo import LfoBank
from engine.params import ParamStore, build_param_table
from engine.params.table import LFO_SHAPES

FRAME = 0.01  # 100 frames per second: fine enough to see shapes


def run(store: ParamStore, frames: int, lfo: int = 0) -> np.ndarray:
    bank = LfoBank(store, 4, FRAME, np.random.SeedSequence(1))
    out = []
    for _ in range(frames):
        snap = store.snapshot()
        bank.apply(snap, snap.continuous)
        out.append(bank.values[lfo])
    return np.array(out)


def dominant_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
    return float(np.fft.rfftfreq(signal.size, FRAME)[spectrum.argmax()])


@pytest.mark.parametrize("shape", LFO_SHAPES)
def test_every_shape_is_bipolar_and_moves(shape):
    store = ParamStore(build_param_table(8))
    store.set_many({"/lfo/0/shape": shape, "/lfo/0/rate": 2.0})
    values = run(store, 400)
    assert values.min() >= -1.0 and values.max() <= 1.0
    assert values.std() > 0.1


@pytest.mark.parametrize("shape", ["sine", "triangle", "square", "saw"])
def test_periodic_shapes_run_at_their_rate(shape):
    store = ParamStore(build_param_table(8))
    store.set_many({"/lfo/0/shape": shape, "/lfo/0/rate": 2.5})
    assert dominant_hz(run(store, 1000)) == pytest.approx(2.5, abs=0.11)


def test_tempo_sync_follows_bpm():
    store = ParamStore(build_param_table(8))
    store.set_many({"/lfo/1/sync": "1/4", "/tempo/bpm": 150.0})  # one cycle per beat: 2.5 Hz
    assert dominant_hz(run(store, 1000, lfo=1)) == pytest.approx(2.5, abs=0.11)
    store.set("/lfo/1/sync", "1/8")
    assert dominant_hz(run(store, 1000, lfo=1)) == pytest.approx(5.0, abs=0.11)


def test_modulates_its_target_within_range():
    store = ParamStore(build_param_table(8))
    store.set_many({"/rave/energy": 1.5, "/lfo/2/target": "/rave/energy", "/lfo/2/depth": 1.0,
                    "/lfo/2/shape": "square"})
    bank = LfoBank(store, 4, FRAME, np.random.SeedSequence(0))
    i = store.continuous_index["/rave/energy"]
    seen = []
    for _ in range(200):
        snap = store.snapshot()
        seen.append(bank.apply(snap, snap.continuous)[i])
    # depth 1 swings by the half-range (0.85) each way; the top is clamped to the range
    assert min(seen) == pytest.approx(0.65) and max(seen) == pytest.approx(2.0)
    assert store.get("/rave/energy") == 1.5  # modulation never writes the stored value


def test_zero_depth_leaves_values_alone():
    store = ParamStore(build_param_table(8))
    store.set("/lfo/0/target", "/rave/chaos")
    bank = LfoBank(store, 4, FRAME, np.random.SeedSequence(0))
    snap = store.snapshot()
    assert np.array_equal(bank.apply(snap, snap.continuous), snap.continuous)
