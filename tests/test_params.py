"""The parameter space: addresses, validation, clamping, snapshots."""

import math
import threading
from pathlib import Path

import pytest

from engine.control.hub import ControlHub
from engine.errors import ParamError
from engine.params import Kind, ParamStore, build_param_table
from engine.params.table import GENERATOR_NAMES
from engine.visual.generators.base import GENERATORS

REQUIRED = ["/rave/energy", "/rave/chaos", "/rave/texture", "/rave/style", "/tempo/bpm", "/scene/morph_time"]


@pytest.fixture
def store() -> ParamStore:
    return ParamStore(build_param_table(latent_size=12))


def test_required_addresses_exist(store):
    for address in REQUIRED:
        assert address in store
    for i in range(12):  # every latent dimension, not only the first 8
        assert f"/rave/latent/{i}/bias" in store
        assert f"/rave/latent/{i}/scale" in store
    assert "/rave/latent/12/bias" not in store
    for n in range(4):
        for leaf in ("rate", "depth", "shape", "target"):
            assert f"/lfo/{n}/{leaf}" in store


def test_every_generator_the_parameter_offers_is_registered():
    assert set(GENERATOR_NAMES) == set(GENERATORS)


def test_every_param_has_range_default_and_unit_field(store):
    for p in store:
        assert p.address.startswith("/")
        if p.kind is Kind.FLOAT:
            assert p.minimum <= p.default <= p.maximum
        assert p.coerce(p.default) == p.default


def test_set_publishes_new_immutable_snapshot(store):
    before = store.snapshot()
    store.set("/rave/energy", 1.5)
    after = store.snapshot()
    assert before["/rave/energy"] == 1.0 and after["/rave/energy"] == 1.5
    assert after.version == before.version + 1
    with pytest.raises(TypeError):
        after.values["/rave/energy"] = 0.1  # type: ignore[index]
    with pytest.raises(ValueError):
        after.continuous[0] = 3.0
    assert after.continuous[store.continuous_index["/rave/energy"]] == 1.5


def test_out_of_range_is_clamped(store):
    assert store.set("/rave/energy", 9.0) == 2.0
    assert store.set("/rave/energy", -1) == 0.3
    assert store.set("/lfo/0/rate", 1000) == 20.0


@pytest.mark.parametrize(
    ("address", "value", "fragment"),
    [
        ("/rave/nope", 1.0, "unknown address"),
        ("/rave/energy", math.nan, "not a finite number"),
        ("/rave/energy", math.inf, "not a finite number"),
        ("/rave/energy", "loud", "expected a number"),
        ("/rave/energy", True, "expected a number"),
        ("/lfo/0/shape", "wobble", "is not one of"),
        ("/lfo/0/shape", 3.0, "expected a string"),
        ("/lfo/0/target", "/rave/nope", "not the address of a continuous parameter"),
        ("/lfo/0/target", "/lfo/1/shape", "not the address of a continuous parameter"),
        ("/lfo/0/target", "x" * 300, "exceeds"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(store, address, value, fragment):
    before = store.snapshot()
    with pytest.raises(ParamError, match=fragment):
        store.set(address, value)
    assert store.snapshot() is before


def test_set_many_is_all_or_nothing(store):
    before = store.snapshot()
    with pytest.raises(ParamError):
        store.set_many({"/rave/energy": 1.5, "/rave/chaos": math.nan})
    assert store.snapshot() is before


def test_parse_text(store):
    assert store.parse("/rave/energy", "1.25") == 1.25
    assert store.parse("/lfo/0/shape", "saw") == "saw"
    with pytest.raises(ParamError, match="not a number"):
        store.parse("/rave/energy", "abc")


def test_concurrent_writers_lose_nothing(store):
    addresses = [f"/rave/latent/{i}/bias" for i in range(8)]

    def writer(address: str) -> None:
        for k in range(200):
            store.set(address, k / 100)

    threads = [threading.Thread(target=writer, args=(a,)) for a in addresses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(store.get(a) == pytest.approx(1.99) for a in addresses)
    assert store.snapshot().version == 8 * 200


def test_triggers_count_presses_and_stay_out_of_scenes(tmp_path: Path) -> None:
    store = ParamStore(build_param_table(4))
    hub = ControlHub(store, scenes_dir=tmp_path)
    hub.set("/visual/reset", 1)  # a TouchOSC button: 1 on press ...
    hub.set("/visual/reset", 0)  # ... 0 on release, which fires nothing
    hub.set("/visual/pulse", 1.0)
    assert store.get("/visual/reset") == 1 and store.get("/visual/pulse") == 1
    path = hub.save_scene("with triggers")
    assert "/visual/reset" not in path.read_text()
    (tmp_path / "fires.toml").write_text('name = "fires"\n[params]\n"/visual/reset" = 5\n"/rave/chaos" = 0.5\n')
    hub.recall_scene("with triggers", morph_seconds=0)
    hub.recall_scene("fires", morph_seconds=0)
    assert store.get("/visual/reset") == 1  # recalling a state is not a hard cut
    assert store.get("/rave/chaos") == 0.5
