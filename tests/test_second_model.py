"""Two models at once (`/rave/model/b`, `/rave/model_mix`, `render --model-b`), references that glide in,
and the folders files named over OSC may come from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, rms
from model_factories import make_new_style_model, make_random_decoder_model

from engine.errors import ModelLoadError, ParamError
from engine.latent.sources import ReferenceLoop
from engine.models.default import MODELS_DIR
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph
from engine.render.offline import RenderRequest, render
from engine.render.second_model import FADE_SECONDS, SecondModel, equal_power
from engine.session.confined_paths import AUDIO_ROOTS, PRESETS_DIR, resolve_confined
from engine.session.model_policy import ModelTiming
from engine.session.second_model_loader import check_pair_budget

SECONDS = 1.0


@pytest.fixture(scope="module")
def model_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another latent size, sample rate and frame size than the default model's (8, 48 kHz, 2048)."""
    return make_new_style_model(tmp_path_factory.mktemp("model_b"), latent_size=32, ratio=1024, sr=44100)


def test_mix_zero_is_model_a_alone_and_one_is_model_b(model_b: Path) -> None:
    alone = render(RenderRequest(seconds=SECONDS, seed=2)).audio
    at_zero = render(RenderRequest(seconds=SECONDS, seed=2, model_b=model_b, sets=["/rave/model_mix=0"])).audio
    at_one = render(RenderRequest(seconds=SECONDS, seed=2, model_b=model_b, sets=["/rave/model_mix=1"])).audio
    assert np.array_equal(alone, at_zero)  # B decodes (its state keeps time) but adds nothing, not even noise
    assert at_one.shape == alone.shape == (int(SECONDS * 48000), alone.shape[1])
    assert rms(at_one) > 1e-3
    assert rms(at_one - alone) > 0.1 * rms(alone)


def test_render_set_model_b_equals_the_flag(model_b: Path) -> None:
    flag = render(RenderRequest(seconds=0.3, seed=1, model_b=model_b, sets=["/rave/model_mix=0.6"])).audio
    address = render(RenderRequest(seconds=0.3, seed=1, sets=["/rave/model_mix=0.6",
                                                              f"/rave/model/b={model_b}"])).audio
    assert np.array_equal(flag, address)


def test_equal_power_law() -> None:
    a, b = np.ones((4, 1), np.float32), np.zeros((4, 1), np.float32)
    mix = np.array([[0.0], [0.5], [1.0], [0.25]], np.float32)
    assert equal_power(a, b, mix)[:, 0] == pytest.approx([1.0, 2 ** -0.5, 0.0, np.cos(np.pi / 8)], abs=1e-6)
    assert equal_power(b, a, mix)[:, 0] == pytest.approx([0.0, 2 ** -0.5, 1.0, np.sin(np.pi / 8)], abs=1e-6)


def _default_store() -> ParamStore:
    """A table for the default model's latent size (8 for v1, 16 for its successors)."""
    from engine.models.default import DEFAULT_MODEL

    return ParamStore(build_param_table(NNModel.load(DEFAULT_MODEL).latent_size or 0))


def _graph(store: ParamStore) -> RenderGraph:
    from engine.models.default import DEFAULT_MODEL

    return RenderGraph(NNModel.load(DEFAULT_MODEL), store, output_rate=48000)


def test_model_b_fades_in_and_out_and_is_handed_over(model_b: Path) -> None:
    store = _default_store()
    store.set("/rave/model_mix", 1.0)
    graph, other = _graph(store), _graph(store)
    voice = SecondModel(NNModel.load(model_b))
    graph.second.offer(voice)
    frames = int(np.ceil(FADE_SECONDS / graph.frame_seconds))
    shares = []
    for _ in range(frames + 2):
        graph.next_frame()
        shares.append(graph.second._fade)
    assert graph.second.voice is voice and graph.second.name == model_b.name
    assert shares[0] < shares[1] < shares[frames - 1] < shares[frames] == shares[-1] == 1.0  # a glide, not a step
    graph.second.hand_over(other.second)  # a model swap: B leaves the old graph, joins the new one
    for _ in range(frames + 1):
        graph.next_frame()
    assert graph.second.voice is None and graph.second._fade == 0.0
    other.next_frame()
    assert other.second.voice is voice
    store.set("/rave/model_mix", 0.8)
    for _ in range(frames + 1):
        other.next_frame()
    other.second.offer(None)
    shares = []
    for _ in range(frames + 1):
        playing = other.second.voice is not None
        other.next_frame()
        shares.append((playing, other.second._last_mix))
    assert other.second.voice is None
    last_heard = [share for playing, share in shares if playing][-1]
    assert last_heard == 0.0  # B's share ramps to 0 within its last frame: no step when it goes


def test_a_second_model_beyond_the_budget_is_refused_with_its_cost() -> None:
    playing = ModelTiming(decode_ms_median=20.0, decode_ms_max=25.0, realtime_factor=0.45)
    light = ModelTiming(decode_ms_median=2.0, decode_ms_max=3.0, realtime_factor=0.05)
    heavy = ModelTiming(decode_ms_median=14.5, decode_ms_max=18.0, realtime_factor=0.33)
    check_pair_budget(playing, light, "light.ts")
    with pytest.raises(ModelLoadError) as refused:
        check_pair_budget(playing, heavy, "heavy.ts")
    message = str(refused.value)
    assert "heavy.ts" in message and "14.5 ms per call" in message and "0.33" in message and "0.78" in message


def test_render_cli_model_b(model_b: Path, tmp_path: Path) -> None:
    out = tmp_path / "two.wav"
    subprocess.run([sys.executable, str(ROOT / "run_engine.py"), "render", "--seconds", "0.5", "--model-b",
                    str(model_b), "--set", "/rave/model_mix=0.7", "--out", str(out)], check=True, cwd=tmp_path,
                   timeout=120, capture_output=True)
    audio, rate = sf.read(out)
    assert rate == 48000 and audio.shape[0] == 24000 and rms(audio) > 1e-3


def test_a_loaded_reference_glides_in(tmp_path: Path) -> None:
    store = _default_store()
    store.set_many({"/rave/source/a": "ref1", "/rave/texture": 0.0, "/rave/chaos": 0.0})
    graph = _graph(store)
    graph.next_frame()
    dims = graph.model.latent_size
    target = np.full((dims, 4), 0.75)  # (dimensions, frames) of the model's own latent
    graph.shaper.offer_reference("ref1", ReferenceLoop(target, "ref1"))
    latents = []
    for _ in range(12):
        graph.next_frame()
        latents.append(graph.shaper.unshaped.copy())
    distances = [float(np.abs(z - 0.75).max()) for z in latents]
    assert distances[0] > 0.01  # not a jump onto the reference
    assert distances[-1] == pytest.approx(0.0, abs=1e-12)
    graph.shaper.offer_reference("ref1", ReferenceLoop(np.zeros((3, 2)), "ref1"))  # another model's: ignored
    graph.next_frame()
    assert graph.shaper.references["ref1"].latents.shape[0] == dims


def test_reference_and_model_paths_are_confined(tmp_path: Path) -> None:
    assert resolve_confined("default.ts", "/rave/model/b", (MODELS_DIR,), []) == (MODELS_DIR / "default.ts").resolve()
    assert resolve_confined("scenes/calm.toml", "/rave/reference/a", AUDIO_ROOTS, []) == \
        (PRESETS_DIR / "scenes" / "calm.toml").resolve()
    inside = tmp_path / "loops" / "a.wav"
    assert resolve_confined(str(inside), "/rave/reference/a", AUDIO_ROOTS, [tmp_path]) == inside.resolve()
    for request in ("../../etc/passwd", str(Path("/etc/passwd"))):
        with pytest.raises(ParamError, match="/rave/reference/a"):
            resolve_confined(request, "/rave/reference/a", AUDIO_ROOTS, [tmp_path])


def test_every_audio_file_a_live_reference_reads_is_the_offline_one(tmp_path: Path) -> None:
    """`--set /rave/reference/a=FILE` offline plays what `--reference FILE` plays."""
    rate = 48000
    t = np.arange(rate // 2) / rate
    path = tmp_path / "loop.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    flag = render(RenderRequest(seconds=0.3, references=[path], seed=4)).audio
    address = render(RenderRequest(seconds=0.3, sets=[f"/rave/reference/a={path}", "/rave/source/a=ref1"],
                                   seed=4)).audio
    assert np.array_equal(flag, address)


def test_model_b_of_any_size_keeps_the_render_length(tmp_path: Path) -> None:
    small = make_random_decoder_model(tmp_path, latent_size=2, sr=22050)
    audio = render(RenderRequest(seconds=0.4, seed=0, model_b=small, sets=["/rave/model_mix=0.5"])).audio
    assert audio.shape[0] == int(0.4 * 48000) and np.isfinite(audio).all()


def test_a_request_during_a_swap_wins_over_the_hand_over(model_b: Path) -> None:
    """`/rave/model/b off` sent while a model swap crossfades: the old graph's B must not come back."""
    store = _default_store()
    graph, incoming = _graph(store), _graph(store)
    graph.second.offer(SecondModel(NNModel.load(model_b)), fade=False)
    graph.second.hand_over(incoming.second)
    incoming.second.offer(None)  # the loader offers to the newest graph
    frames = int(np.ceil(FADE_SECONDS / graph.frame_seconds)) + 2
    for _ in range(frames):
        graph.next_frame()
        incoming.next_frame()
    assert graph.second.voice is None and incoming.second.voice is None
