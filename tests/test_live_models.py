"""Models and references changed mid-set, on the JACK dummy server, driven over OSC as a performer would:
a swap across latent sizes and sample rates (the table follows the model, subscribers are told, what
cannot carry over is reported), a second model mixed in and out, references loaded live."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from jack_fixtures import SAMPLERATE, JackServer
from live_fixtures import assert_continuous, playing, run_until
from model_factories import make_new_style_model, make_random_decoder_model
from osc_fixtures import Listener, free_port

from engine.control.osc_codec import encode_message
from engine.session import second_model_loader
from engine.session.session import LiveSession


def _send(listener: Listener, port: int, address: str, *args: object) -> None:
    listener.send(port, encode_message(address, *args))


def _list_count(listener: Listener, port: int, pattern: str) -> int:
    """`/engine/list PATTERN` over OSC: the count its `/engine/list/done` reports."""
    before = len(listener.messages("/engine/list/done"))
    _send(listener, port, "/engine/list", pattern)
    listener.wait_for(lambda _: len(listener.messages("/engine/list/done")) > before)
    return int(listener.messages("/engine/list/done")[-1][0])  # type: ignore[arg-type]


def _swap(engine: LiveSession, listener: Listener, port: int, path: Path, size: int) -> None:
    notices = len(listener.messages("/engine/params_changed"))
    _send(listener, port, "/rave/model", str(path))
    assert run_until(engine, lambda: engine.model_name == path.name and not engine.decoder.swapping, 60.0), \
        f"still playing {engine.model_name}; errors: {list(engine.errors)}"
    listener.wait_for(lambda _: len(listener.messages("/engine/params_changed")) > notices)
    latent_size, addresses, _ = listener.messages("/engine/params_changed")[-1]
    assert latent_size == size
    assert addresses == len(engine.store.addresses)


@pytest.mark.realtime
def test_swap_across_latent_sizes_and_rates(jack_server: JackServer, live_model: Path, tmp_path: Path) -> None:
    wide = make_new_style_model(tmp_path, latent_size=32, sr=44100)  # resampled to the device's 48 kHz
    narrow = make_random_decoder_model(tmp_path, latent_size=4, sr=SAMPLERATE)
    port = free_port()
    listener = Listener()
    try:
        with playing(jack_server, live_model, capture_seconds=40.0, allowed_model_dirs=[tmp_path],
                     osc_port=port) as s:
            engine = s.engine
            first_size = engine.model.latent_size
            _send(listener, port, "/engine/subscribe", listener.port)
            _send(listener, port, "/rave/latent/2/bias", 1.25)
            _send(listener, port, "/lfo/0/target", "/rave/latent/5/bias")
            assert run_until(engine, lambda: engine.store.get("/lfo/0/target") == "/rave/latent/5/bias", 5.0)
            start = s.capture.frames

            _swap(engine, listener, port, wide, 32)
            assert engine.decoder.graph.model_rate == 44100 and engine.decoder.graph.output_rate == SAMPLERATE
            assert _list_count(listener, port, "/rave/latent/*/bias") == 32
            assert engine.store.get("/rave/latent/2/bias") == 1.25  # a dimension both models have carries over
            assert engine.store.get("/lfo/0/target") == "/rave/latent/5/bias"
            _send(listener, port, "/rave/latent/20/bias", 2.0)  # dimensions only the wide model has
            _send(listener, port, "/rave/latent/31/scale", -1.0)
            assert run_until(engine, lambda: engine.store.get("/rave/latent/31/scale") == -1.0, 5.0)
            engine.run(1.0)

            _swap(engine, listener, port, narrow, 4)
            assert _list_count(listener, port, "/rave/latent/*/bias") == 4
            assert engine.store.get("/rave/latent/2/bias") == 1.25
            assert "/rave/latent/20/bias" not in engine.store
            engine.run(1.0)
            end = s.capture.frames
        lost = {str(args[0]): str(args[1]) for args in listener.messages("/engine/params_lost")}
        assert lost.get("/rave/latent/20/bias") == "value 2.0"
        assert lost.get("/rave/latent/31/scale") == "value -1.0"
        assert "/lfo/0/target" in lost and engine.store.get("/lfo/0/target") == ""  # its target went with dim 5
        assert "/rave/latent/7/bias" not in lost  # at its default: nothing was lost
        assert listener.messages("/engine/params_changed")[-1][2] == len(lost)
        changes = engine.report()["live_models"]["table_changes"]  # type: ignore[index]
        assert [c["latent_size"] for c in changes] == [[first_size, 32], [32, 4]]
        assert first_size != 4 and first_size != 32
        assert not engine.errors, list(engine.errors)
        assert engine.decoder.error is None
        assert engine.output.underruns == 0
        assert_continuous(s.capture.recorded[start:end], "capture across both swaps")
    finally:
        listener.close()


def _tone(path: Path, freq: float, seconds: float = 2.0) -> Path:
    t = np.arange(int(seconds * SAMPLERATE)) / SAMPLERATE
    sf.write(path, (0.4 * np.sin(2 * np.pi * freq * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32),
             SAMPLERATE)
    return path


@pytest.mark.realtime
def test_second_model_and_references_live(jack_server: JackServer, live_model: Path, tmp_path: Path,
                                          tmp_path_factory: pytest.TempPathFactory,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    second = make_random_decoder_model(tmp_path, latent_size=4, sr=44100)  # another size and rate
    copy = tmp_path / "copy.ts"
    shutil.copyfile(live_model, copy)
    reference = _tone(tmp_path / "loop.wav", 330.0)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    outside = _tone(tmp_path_factory.mktemp("not_allowed") / "outside.wav", 220.0)
    port = free_port()
    listener = Listener()
    try:
        with playing(jack_server, live_model, capture_seconds=40.0, allowed_model_dirs=[tmp_path],
                     osc_port=port) as s:
            engine = s.engine
            _send(listener, port, "/engine/subscribe", listener.port)
            engine.run(0.5)
            start = s.capture.frames
            _send(listener, port, "/rave/model/b", str(second))
            _send(listener, port, "/rave/model_mix", 0.8)
            assert run_until(engine, lambda: engine.live_models.model_b.name == second.name
                             and engine.decoder.graph.second.voice is not None, 60.0), list(engine.errors)
            engine.run(1.0)
            # References: three bad requests are refused with one error each, the fourth plays.
            for bad in (str(tmp_path / "absent.wav"), str(not_audio), str(outside)):
                errors = len(engine.errors)
                _send(listener, port, "/rave/reference/a", bad)
                assert run_until(engine, lambda n=errors: len(engine.errors) > n, 30.0), bad
            _send(listener, port, "/rave/reference/a", str(reference))
            _send(listener, port, "/rave/source/a", "ref1")
            assert run_until(engine, lambda: "ref1" in engine.decoder.graph.shaper.references, 30.0), \
                list(engine.errors)
            _send(listener, port, "/tempo/bpm", 180.0)
            engine.run(1.0)
            position = engine.decoder.graph.shaper.references["ref1"].position
            engine.run(0.5)
            assert engine.decoder.graph.shaper.references["ref1"].position != position  # the loop plays

            # A swap to a model B does not fit beside unloads B; the reference is encoded again.
            monkeypatch.setattr(second_model_loader, "HEADROOM_FACTOR", 0.0)
            errors = len(engine.errors)
            _send(listener, port, "/rave/model", str(copy))
            assert run_until(engine, lambda: engine.model_name == copy.name and not engine.decoder.swapping
                             and len(engine.errors) > errors, 60.0), list(engine.errors)
            assert run_until(engine, lambda: "ref1" in engine.decoder.graph.shaper.references, 30.0)
            assert engine.decoder.graph.second.voice is None and engine.store.get("/rave/model/b") == ""
            # B refused when the two would not keep real time: the message carries the measured cost.
            _send(listener, port, "/rave/model/b", str(second))
            assert run_until(engine, lambda: len(engine.errors) > errors + 1, 60.0)
            engine.run(0.5)
            end = s.capture.frames
        messages = list(engine.errors)
        assert "no such audio file" in messages[0] and "absent.wav" in messages[0]
        assert "cannot read audio" in messages[1] and "notes.wav" in messages[1]
        assert "outside" in messages[2] and "outside.wav" in messages[2]
        assert "refused" in messages[3] and "unloaded at the swap" in messages[3]
        assert "refused" in messages[4] and "ms per call" in messages[4]
        listener.wait_for(lambda _: len(listener.messages("/engine/error")) >= 5)
        sent = [str(args[2]) for args in listener.messages("/engine/error")]
        assert any("absent.wav" in m for m in sent) and any("refused" in m for m in sent)
        assert engine.decoder.graph.second.voice is None
        live = engine.report()["live_models"]
        assert live["model_b"] == "" and live["references"] == {"ref1": str(reference.resolve())}  # type: ignore[index]
        assert engine.decoder.error is None
        assert engine.output.underruns == 0
        assert_continuous(s.capture.recorded[start:end], "capture while model B and references came and went")
    finally:
        listener.close()
