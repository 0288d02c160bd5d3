"""A declared parameter that changes nothing is a defect: every address in the table must change the
output of its consumer. Audio parameters are checked on short offline renders of the default model
(`render --input`, so the input source and the dry signal exist), visual parameters on the theme
mapper's frames (what the visual process draws from), and the few that act outside both (a model
swap, a scene morph's length, the visual process's frame rate and generator) on the code that reads
them. An address with no case here fails `test_every_address_has_a_case`: add one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from model_factories import make_random_decoder_model
from waiting import wait_until

from engine.control.hub import ControlHub
from engine.models.nn_tilde import NNModel
from engine.params.param import Value
from engine.params.store import ParamStore
from engine.params.table import N_LFOS, N_MODS, build_param_table
from engine.render.offline import RenderRequest, render
from engine.render.timeline import Timeline
from engine.session.model_swap import ModelSwapper
from engine.session.visuals import SessionVisuals
from engine.visual.process_main import _fps
from engine.visual.theme_mapper import ThemeMapper
from engine.visual.themes import load_theme

SECONDS = 0.6  # 14 latent frames of the default model


@dataclass(frozen=True)
class Case:
    value: Value
    companions: dict[str, Value] = field(default_factory=dict)  # set in both renders: what makes it audible
    reference: bool = False  # load the input file as references ref1 and ref2 too


# Files a case names, filled in by the test from its fixtures.
MODEL_B = "<model b>"  # a second model (another latent size and rate) for /rave/model/b and the mix
OTHER_AUDIO = "<other audio>"  # an audio file other than the input, for the live reference addresses
ATLAS = "<atlas>"  # the test collection's atlas (tests/explore_fixtures.py)
IN_ATLAS = {"/explore/atlas": ATLAS, "/rave/source/a": "walk"}


ENERGY_TARGET = {"/lfo/{n}/target": "/rave/energy", "/lfo/{n}/depth": 1.0}
LEVEL_MOD = {"/mod/{n}/source": "level", "/mod/{n}/target": "/rave/energy", "/mod/{n}/depth": 1.0}


def _fill(template: dict[str, Value], n: int, leave_out: str = "") -> dict[str, Value]:
    """The template for slot n, without the address ending in `leave_out` (the one under test)."""
    return {k.format(n=n): v for k, v in template.items() if not (leave_out and k.endswith(leave_out))}


def audio_cases(latent_size: int) -> dict[str, Case]:
    cases = {
        "/rave/energy": Case(2.0),
        "/rave/chaos": Case(0.8),
        "/rave/texture": Case(1.0),
        "/rave/style": Case(1.0),  # source B (walk) over source A (input)
        "/rave/walk_speed": Case(1.0, {"/rave/source/a": "walk"}),
        "/rave/source/a": Case("walk"),
        "/rave/source/b": Case("input", {"/rave/style": 1.0}),
        "/tempo/bpm": Case(60.0, {"/rave/source/a": "ref1"}, reference=True),
        "/tempo/reference_bpm": Case(240.0, {"/rave/source/a": "ref1"}, reference=True),
        "/master/gain_db": Case(-12.0),
        "/transport/play": Case(False),
        "/master/loudness": Case(-30.0),
        "/master/agc": Case(0),
        "/master/ceiling": Case(-12.0),
        "/rave/drywet": Case(0.0),
        "/rave/method": Case("forward"),
        "/rave/model/b": Case(MODEL_B, {"/rave/model_mix": 0.7}),
        "/rave/model_mix": Case(0.7, {"/rave/model/b": MODEL_B}),
        "/rave/reference/a": Case(OTHER_AUDIO, {"/rave/source/a": "ref1"}, reference=True),
        "/rave/reference/b": Case(OTHER_AUDIO, {"/rave/source/a": "ref2"}, reference=True),
        # depth 0.3: energy follows the level without reaching its top, where both sources would agree
        "/analysis/source": Case("input", {**_fill(LEVEL_MOD, 0), "/mod/0/depth": 0.3}),
        "/rave/codebook": Case(ATLAS),
        "/rave/codebook_k": Case(1, {"/rave/codebook": ATLAS}),
        "/explore/atlas": Case(ATLAS, {"/explore/cluster": 1, "/rave/source/a": "walk"}),
        "/explore/cluster": Case(1, IN_ATLAS),
        "/explore/chunk": Case(3, IN_ATLAS),
    }
    for d in range(latent_size):
        cases[f"/rave/latent/{d}/bias"] = Case(1.5)
        cases[f"/rave/latent/{d}/scale"] = Case(2.5)
    for n in range(N_MODS):
        cases[f"/mod/{n}/source"] = Case("level", _fill(LEVEL_MOD, n, "source"))
        cases[f"/mod/{n}/target"] = Case("/rave/energy", _fill(LEVEL_MOD, n, "target"))
        cases[f"/mod/{n}/depth"] = Case(1.0, _fill(LEVEL_MOD, n, "depth"))
    for n in range(N_LFOS):
        lfo = _fill(ENERGY_TARGET, n)
        cases[f"/lfo/{n}/rate"] = Case(7.0, lfo)
        cases[f"/lfo/{n}/depth"] = Case(1.0, _fill(ENERGY_TARGET, n, "depth"))
        cases[f"/lfo/{n}/phase"] = Case(0.25, lfo)
        cases[f"/lfo/{n}/shape"] = Case("square", lfo)
        cases[f"/lfo/{n}/sync"] = Case("1/16", lfo)
        cases[f"/lfo/{n}/target"] = Case("/rave/energy", _fill(ENERGY_TARGET, n, "target"))
    return cases


# Read by the visual process's theme mapper; triggers fire when their count moves (frame 5 here).
VISUAL_CASES: dict[str, Case] = {
    "/visual/noise_scale": Case(0.9),
    "/visual/speed": Case(0.9),
    "/visual/zoom": Case(0.9),
    "/visual/warp": Case(0.9),
    "/visual/hue": Case(0.5),
    "/visual/brightness": Case(0.3),
    "/visual/feedback": Case(0.1),
    "/visual/reactivity": Case(2.0),
    "/visual/theme": Case("strobe"),
    "/visual/theme_transition": Case(0.0, {"/visual/theme": "strobe"}),
    "/visual/prompt": Case("a red cube"),
    "/visual/prompt_transition": Case(5.0),
    "/visual/reset": Case(1),
    "/visual/pulse": Case(1),
    "/visual/next_prompt": Case(1),
    "/visual/transition": Case(1),
    "/visual/seed": Case(7),
}

# Consumed outside the render graph and the mapper: each has its own test below.
ELSEWHERE = {
    "/rave/model": "live model swap: test_model_swapper_reads_rave_model",
    "/scene/morph_time": "scene recall: test_scene_recall_reads_morph_time",
    "/visual/fps": "the visual process's pacing: test_visual_process_reads_fps",
    "/visual/generator": "restarts the visual process: test_session_visuals_read_generator",
    "/tempo/tap": "the hub's tap counter: test_hub_reads_tempo_tap",
    "/launch/quantize": "launches wait for the beat grid: test_scene_recall_reads_launch_quantize",
}


@pytest.fixture(scope="module")
def input_file(tmp_path_factory: pytest.TempPathFactory, default_model: NNModel) -> Path:
    """A gliding tone with noise bursts at the model's rate: pitched and percussive input."""
    rate = default_model.sample_rate or 48000
    t = np.arange(int(SECONDS * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + t))
    bursts = 0.2 * np.random.default_rng(0).standard_normal(t.size) * (np.sin(2 * np.pi * 4 * t) > 0.7)
    path = tmp_path_factory.mktemp("input") / "input.wav"
    sf.write(path, (tone + bursts).astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def case_files(tmp_path_factory: pytest.TempPathFactory, default_model: NNModel, atlas_path: Path) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("case_files")
    rate = default_model.sample_rate or 48000
    t = np.arange(int(SECONDS * rate)) / rate
    other = folder / "other.wav"
    sf.write(other, (0.3 * np.sign(np.sin(2 * np.pi * 90 * t))).astype(np.float32), rate, subtype="FLOAT")
    model_b = make_random_decoder_model(folder, latent_size=4, sr=44100)
    return {MODEL_B: str(model_b), OTHER_AUDIO: str(other), ATLAS: str(atlas_path)}


def _with_files(sets: dict[str, Value], files: dict[str, str]) -> dict[str, Value]:
    return {k: files.get(v, v) if isinstance(v, str) else v for k, v in sets.items()}


_renders: dict[tuple, np.ndarray] = {}


def _render(model: NNModel, input_file: Path, sets: dict[str, Value], reference: bool) -> np.ndarray:
    key = (tuple(sorted((k, str(v)) for k, v in sets.items())), reference)
    if key not in _renders:
        request = RenderRequest(seconds=None, input=input_file, sets=[f"{k}={v}" for k, v in sets.items()],
                                references=[input_file, input_file] if reference else [], seed=3)
        _renders[key] = render(request, model=model).audio
    return _renders[key]


def test_every_address_has_a_case(default_model: NNModel) -> None:
    covered = set(audio_cases(default_model.latent_size or 1)) | set(VISUAL_CASES) | set(ELSEWHERE)
    missing = [p.address for p in build_param_table(default_model.latent_size or 1) if p.address not in covered]
    assert not missing, f"no test shows these parameters change anything: {missing}"


@pytest.mark.parametrize("address", list(audio_cases(8)))
def test_audio_parameter_changes_the_render(address: str, default_model: NNModel, input_file: Path,
                                            case_files: dict[str, str]) -> None:
    cases = audio_cases(default_model.latent_size or 1)
    if address not in cases:
        pytest.skip(f"{address}: the default model has fewer latent dimensions")
    case = cases[address]
    companions = _with_files(case.companions, case_files)
    base = _render(default_model, input_file, companions, case.reference)
    changed = _render(default_model, input_file, _with_files({**companions, address: case.value}, case_files),
                      case.reference)
    level = float(np.sqrt(np.mean(base.astype(np.float64) ** 2)))
    assert level > 1e-4, "the baseline render is silent"
    assert base.shape == changed.shape
    # Renders are deterministic, so a parameter nothing reads leaves them bit-identical; -60 dB against
    # the render's level keeps float noise out. (Weak latent dimensions of the default model move it by
    # about -40 dB: weak, but read.)
    difference = float(np.sqrt(np.mean((changed.astype(np.float64) - base) ** 2)))
    assert difference > 1e-3 * level, (f"{address}={case.value} changed nothing in the audio "
                                       f"(rms difference {difference:.2e} against {level:.2e})")


def _mapper_frames(sets: dict[str, Value], late: dict[str, Value]) -> list[tuple]:
    store = ParamStore(build_param_table(1))
    store.set_many(sets)
    mapper = ThemeMapper(load_theme("nebula"), fps=30.0, seed=0)
    rng = np.random.default_rng(1)
    frames = []
    for i in range(12):
        if i == 5:
            store.set_many(late)
        values = dict(store.snapshot().values)
        features = rng.uniform(0.2, 0.8, size=64).astype(np.float32)
        f = mapper.frame(i, i / 30.0, features, np.zeros(8, np.float32), values, beats=0, onsets=0)
        frames.append((f.noise_scale, f.speed, f.zoom, f.warp, f.hue, f.brightness, f.feedback, f.palette,
                       f.prompt, f.transition_frames, f.reset, f.seed))
    return frames


@pytest.mark.parametrize("address", list(VISUAL_CASES))
def test_visual_parameter_changes_the_frames(address: str) -> None:
    case = VISUAL_CASES[address]
    trigger = build_param_table(1)[[p.address for p in build_param_table(1)].index(address)].is_trigger
    early, late = (case.companions, {address: case.value}) if trigger else ({**case.companions,
                                                                            address: case.value}, {})
    assert _mapper_frames(case.companions, {}) != _mapper_frames(early, late), f"{address} changed no frame"


def test_model_swapper_reads_rave_model(tmp_path: Path) -> None:
    store = ParamStore(build_param_table(1))
    errors: list[str] = []
    ring = SimpleNamespace(read_available=1 << 30)
    decoder = SimpleNamespace(ring=ring, fill_target=0, blocksize=1, headroom_frames=0, is_alive=lambda: True)
    swapper = ModelSwapper(decoder, store, seed=0, samplerate=48000, headroom_frames=0,  # type: ignore[arg-type]
                           allowed_dirs=[tmp_path], on_swapped=lambda *_: None, on_error=errors.append)
    swapper.poll()
    assert not swapper.loading  # empty: nothing to load
    store.set("/rave/model", str(tmp_path / "absent.ts"))
    swapper.poll()
    assert wait_until(lambda: not swapper.loading, 5.0)
    assert errors and "absent.ts" in errors[0]


def test_scene_recall_reads_morph_time(tmp_path: Path) -> None:
    (tmp_path / "loud.toml").write_text('name = "loud"\n[params]\n"/rave/energy" = 1.8\n')
    for morph, at_once in ((0.0, 1.8), (4.0, 1.0)):
        store = ParamStore(build_param_table(1))
        timeline = Timeline(store)
        hub = ControlHub(store, timeline=lambda t=timeline: t, scenes_dir=tmp_path)
        store.set("/scene/morph_time", morph)
        hub.recall_scene("loud")
        assert store.get("/rave/energy") == pytest.approx(at_once)  # a morph glides there from the timeline


def test_visual_process_reads_fps() -> None:
    assert _fps({"/visual/fps": 12.0}) == 12.0
    assert _fps({}) == 30.0


def test_session_visuals_read_generator() -> None:
    store = ParamStore(build_param_table(1))
    switched: list[str] = []
    host = SimpleNamespace(switch_generator=lambda name, options: switched.append(name), switching=False,
                           config=SimpleNamespace(generator="cppn"))
    visuals = object.__new__(SessionVisuals)  # the process itself is not needed to see the value read
    visuals.store, visuals.host, visuals.options, visuals._requested = store, host, {}, "cppn"
    visuals.follow_generator()
    assert switched == []
    store.set("/visual/generator", "texture")
    visuals.follow_generator()
    assert switched == ["texture"]


def test_hub_reads_tempo_tap() -> None:
    store = ParamStore(build_param_table(1))
    hub = ControlHub(store)
    now = [10.0]
    hub.tap._clock = lambda: now[0]  # the taps' times, without waiting for them
    for _ in range(4):
        hub.set("/tempo/tap", 1)
        now[0] += 0.4
    assert store.get("/tempo/bpm") == pytest.approx(150.0)


def test_scene_recall_reads_launch_quantize(tmp_path: Path) -> None:
    (tmp_path / "loud.toml").write_text('name = "loud"\n[params]\n"/rave/energy" = 1.8\n')
    for quantize, at_once in (("off", 1.8), ("bar", 1.0)):
        store = ParamStore(build_param_table(1))
        timeline = Timeline(store)
        timeline.advance(0.3, 0.04)  # mid-bar
        hub = ControlHub(store, timeline=lambda t=timeline: t, scenes_dir=tmp_path)
        store.set_many({"/scene/morph_time": 0.0, "/launch/quantize": quantize})
        hub.recall_scene("loud")
        assert store.get("/rave/energy") == pytest.approx(at_once)  # with bar: waits for the line at 2 s
