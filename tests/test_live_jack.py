"""The live engine on a real audio server: JACK's dummy driver, clocked like a sound card.

Each test plays the engine in-process through PortAudio's JACK host API (or runs the CLI) and
checks what a listener would get: callback counts against the clock, underruns, and the audio a
second JACK client captured from the engine's output ports.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from jack_fixtures import SAMPLERATE, JackPlayer, JackServer
from live_fixtures import BLOCKSIZE, assert_continuous, playing, run_until

from engine.errors import ModelLoadError
from engine.render.offline import RenderRequest, render
from engine.session import decode_choice
from engine.session.config import SessionConfig
from engine.session.session import LiveSession

ROOT = Path(__file__).resolve().parents[1]


def expected_callbacks(engine: LiveSession) -> float:
    return (engine.stopped_at - engine.started_at) * SAMPLERATE / BLOCKSIZE


def align(captured: np.ndarray, reference: np.ndarray, min_overlap: int) -> int:
    """The lag at which `reference` starts inside `captured` (cross-correlation peak, overlap >=
    min_overlap); negative when `captured` starts that many samples into `reference`."""
    size = 1 << int(np.ceil(np.log2(captured.size + reference.size)))
    corr = np.fft.irfft(np.fft.rfft(captured, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.arange(-(reference.size - min_overlap), captured.size - min_overlap + 1)
    return int(lags[np.argmax(corr[lags % size])])


@pytest.mark.realtime
def test_live_plays_in_time_without_underruns(jack_server: JackServer, live_model: Path) -> None:
    with playing(jack_server, live_model, capture_seconds=4.0) as s:
        s.engine.run(3.0)
    engine = s.engine
    expected = expected_callbacks(engine)
    assert abs(engine.output.callbacks - expected) <= 0.05 * expected, (engine.output.callbacks, expected)
    assert engine.output.underruns == 0
    assert engine.decoder.error is None
    audio = s.capture.recorded
    assert audio.shape[0] >= 2.5 * SAMPLERATE
    assert_continuous(audio[SAMPLERATE:], "capture after the first second")


@pytest.mark.realtime
def test_live_output_equals_offline_render(jack_server: JackServer, live_model: Path) -> None:
    seconds = 2.5
    # One frame per decode call, as offline: on a loaded machine the load-time choice may take two, and
    # two frames decoded together draw the decoder's noise in another order (other samples, both right).
    with playing(jack_server, live_model, capture_seconds=seconds + 1.0, seed=7, frames_per_call=1) as s:
        s.engine.run(seconds)
    assert s.engine.output.underruns == 0  # a dropout would shift the audio
    # The recorder (a Python client in this process) may miss a cycle under load: compare the longest
    # span it recorded without a hole, which must still hold a second of the engine's output.
    start, stop = max(s.capture.stretches(), key=lambda span: span[1] - span[0])
    captured = s.capture.recorded[start:stop, 0].astype(np.float64)
    offline = render(RenderRequest(seconds=seconds, model=live_model, seed=7, samplerate=SAMPLERATE)).audio[:, 0]
    lag = align(captured, offline.astype(np.float64), min_overlap=SAMPLERATE)
    live, skipped = (captured[lag:], 0) if lag >= 0 else (captured, -lag)  # skipped: offline samples before it
    n = min(live.size, offline.size - skipped)
    assert n >= SAMPLERATE, f"only {n} samples overlap at lag {lag} (recorded spans {s.capture.stretches()})"
    diff = np.abs(live[:n] - offline[skipped:skipped + n])
    first = skipped + int(np.argmax(diff >= 1e-3))
    assert diff.max() < 1e-3, (f"lag {lag}: max difference {diff.max():.3g}; first from offline sample {first} "
                               f"(latent frame {first // 2048} of 2048 samples); recorded spans {s.capture.stretches()}")


@pytest.mark.realtime
def test_model_swap_mid_stream_is_seamless(jack_server: JackServer, live_model: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.ts"
    shutil.copyfile(live_model, second)
    # A modulation slot listening to a feature keeps the analysis running (nothing else reads it here).
    with playing(jack_server, live_model, capture_seconds=5.0, allowed_model_dirs=[tmp_path],
                 sets=["/mod/0/source=level"]) as s:
        engine = s.engine
        first = engine.model_name
        s.engine.run(1.0)
        analysis = engine.decoder.graph.analysis
        rows_before = engine.feed.rows
        swap_at = s.capture.frames
        engine.store.set("/rave/model", str(second))
        assert run_until(engine, lambda: engine.model_name == "second.ts" and not engine.decoder.swapping, 10.0), \
            f"still playing {engine.model_name}; errors: {engine.errors}"
        engine.run(0.5)
        end = s.capture.frames
        assert engine.decoder.graph.analysis is analysis  # one analysis clock and beat tracker across swaps
        assert engine.decoder.graph.analysis_active
        assert engine.feed.rows > rows_before + 40  # rows kept coming through the swap
    assert first != "second.ts"
    assert not engine.errors, list(engine.errors)
    assert engine.decoder.graph.model.path == second.resolve()
    assert engine.output.underruns == 0
    assert_continuous(s.capture.recorded[swap_at - SAMPLERATE // 2:end], "capture around the swap")


@pytest.mark.realtime
def test_refused_model_swaps_are_reported_and_play_on(jack_server: JackServer, live_model: Path,
                                                      tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
                                                      ) -> None:
    not_a_model = tmp_path / "not_a_model.ts"  # (another latent size is no reason: test_live_models.py)
    not_a_model.write_text("not TorchScript")
    outside = tmp_path_factory.mktemp("not_allowed") / "outside.ts"
    shutil.copyfile(live_model, outside)
    with playing(jack_server, live_model, capture_seconds=5.0, allowed_model_dirs=[tmp_path]) as s:
        engine = s.engine
        name = engine.model_name
        engine.run(0.5)
        engine.store.set("/rave/model", str(not_a_model))
        assert run_until(engine, lambda: len(engine.errors) == 1, 10.0), "the broken model was not reported"
        engine.store.set("/rave/model", str(outside))
        assert run_until(engine, lambda: len(engine.errors) == 2, 10.0), "the outside path was not reported"
        callbacks = engine.output.callbacks
        mark = s.capture.frames
        engine.run(0.6)
        assert engine.output.callbacks > callbacks
        end = s.capture.frames
    assert "not_a_model.ts" in engine.errors[0]
    assert "outside" in engine.errors[1] and "outside.ts" in engine.errors[1]
    assert engine.model_name == name
    assert engine.output.underruns == 0
    assert_continuous(s.capture.recorded[mark:end], "capture after the refused swaps")


def _test_signal(seconds: float) -> np.ndarray:
    """A loud chirp (100 Hz to 5 kHz) with noise bursts every quarter second."""
    t = np.arange(int(seconds * SAMPLERATE)) / SAMPLERATE
    chirp = 0.5 * np.sin(2 * np.pi * (100 * t + (5000 - 100) / (2 * seconds) * t**2))
    gate = (t % 0.25) < 0.08
    noise = np.random.default_rng(3).uniform(-0.4, 0.4, t.size) * gate
    return (chirp + noise).astype(np.float32)


@pytest.mark.realtime
def test_live_input_is_encoded_into_the_latent(jack_server: JackServer, live_model: Path) -> None:
    signal = _test_signal(3.0)
    with playing(jack_server, live_model, capture_seconds=4.0, input=True, sets=["/rave/source/a=input"]) as s, \
            JackPlayer(jack_server, signal) as player:
        assert s.inputs, "the engine opened no JACK input port"
        player.connect(s.inputs)
        graph = s.engine.decoder.graph
        player.start()  # before this the engine encodes the dummy driver's silent capture ports
        latents: list[np.ndarray] = []
        counts: list[int] = []
        times: list[float] = []
        for _ in range(10):
            s.engine.run(0.25)
            counts.append(graph.input_frames_encoded)
            times.append(time.monotonic())
            if graph.shaper.input_latent is not None:
                latents.append(np.array(graph.shaper.input_latent))
    assert counts[0] > 0 and all(b > a for a, b in zip(counts, counts[1:], strict=False)), counts
    # the encoder keeps up with the input: one latent frame per encode hop of audio
    spec = graph.model.methods["encode"]
    expected = (times[-1] - times[0]) * graph.model_rate / (spec.out_ratio // spec.in_ratio)
    assert counts[-1] - counts[0] >= 0.8 * expected, (counts, expected)
    assert graph.shaper.input_latent is not None
    assert len(latents) >= 8
    spread = np.ptp(np.stack(latents), axis=0).max()
    assert spread > 1e-3, f"the input latent did not change over time (spread {spread:.2e})"
    assert s.engine.report()["input_overflows"] == 0
    assert s.engine.output.underruns == 0


@pytest.mark.realtime
def test_slow_decoder_underruns_then_recovers(jack_server: JackServer, live_model: Path) -> None:
    # A fixed lookahead: this is about underruns and recovery, not the adaptive lookahead that avoids them.
    with playing(jack_server, live_model, capture_seconds=6.0, lookahead_blocks=8) as s:
        engine, output = s.engine, s.engine.output
        engine.run(0.5)
        assert output.underruns == 0
        engine.decoder.slowdown_seconds = 0.08  # each ~43 ms frame now takes > 80 ms
        callbacks = output.callbacks
        engine.run(1.2)
        slowed = output.underruns
        assert slowed > 0, "a decoder slower than real time caused no underrun"
        assert output.callbacks > callbacks, "the audio callback stopped while the decoder was slow"
        engine.decoder.slowdown_seconds = 0.0
        engine.run(0.5)  # refill and restart playback
        settled = output.underruns
        mark, callbacks = s.capture.frames, output.callbacks
        engine.run(1.2)
        assert output.underruns == settled, f"{output.underruns - settled} new underruns after recovery"
        assert output.callbacks > callbacks
        end = s.capture.frames
    assert engine.decoder.error is None
    assert not engine.errors, list(engine.errors)
    assert_continuous(s.capture.recorded[mark:end], "capture after recovery")


def test_model_too_slow_for_real_time_is_refused(monkeypatch: pytest.MonkeyPatch, live_model: Path) -> None:
    monkeypatch.setattr(decode_choice, "HEADROOM_FACTOR", 1e-9)
    monkeypatch.setattr(decode_choice, "HOLD_FACTOR", 1e-9)
    with pytest.raises(ModelLoadError, match=r"too slow for real time .*1x1t: RTF \d+\.\d+"):
        LiveSession(SessionConfig(model=live_model, samplerate=SAMPLERATE, blocksize=BLOCKSIZE))


@pytest.mark.realtime
def test_python_callback_plays_without_underruns(jack_server: JackServer, live_model: Path) -> None:
    with playing(jack_server, live_model, capture_seconds=3.0, python_callback=True) as s:
        s.engine.run(2.0)
    engine = s.engine
    expected = expected_callbacks(engine)
    assert abs(engine.output.callbacks - expected) <= 0.05 * expected, (engine.output.callbacks, expected)
    assert engine.output.underruns == 0
    assert engine.report()["callback"] == "python"
    assert_continuous(s.capture.recorded[SAMPLERATE // 2:], "python-callback capture")


def _cli(args: list[str], server: JackServer, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "run_engine.py", *args], cwd=ROOT, env=server.env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.mark.realtime
def test_cli_live_writes_report(jack_server: JackServer, live_model: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "r.json"
    done = _cli(["live", "--seconds", "2", "--samplerate", "48000", "--device", str(jack_server.device),
                 "--model", str(live_model), "--report", str(report_path), "--osc-port", "0"], jack_server)
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    for key in ("callbacks", "underruns", "blocksize", "samplerate", "lookahead_blocks", "decode_ms", "cpu_load",
                "latency"):
        assert key in report, key
    assert report["blocksize"] == BLOCKSIZE and report["samplerate"] == SAMPLERATE
    assert report["underruns"] == 0
    expected = report["seconds"] * SAMPLERATE / BLOCKSIZE
    assert abs(report["callbacks"] - expected) <= 0.05 * expected, (report["callbacks"], expected)
    assert report["lookahead_blocks"] >= 1
    assert 0 < report["decode_ms"]["median"] <= report["decode_ms"]["max"]
    assert 0 <= report["cpu_load"] < 1
    assert report["latency"] > (report["lookahead_blocks"] + 1) * BLOCKSIZE / SAMPLERATE
    assert "played" in done.stderr and "0 underruns" in done.stderr
    meters = report["meters"]  # the master stage: levelled to -16 LUFS, true peak under -1 dBTP
    assert meters["integrated_lufs"] == pytest.approx(-16.0, abs=1.5), meters
    assert meters["max_true_peak_db"] <= -1.0 and meters["gain_reduction_db"] >= 0.0


def test_cli_devices_lists_jack(jack_server: JackServer) -> None:
    done = _cli(["devices"], jack_server)
    assert done.returncode == 0, done.stderr
    assert "JACK" in done.stdout


def test_cli_rejects_bad_blocksize(jack_server: JackServer) -> None:
    done = _cli(["live", "--seconds", "1", "--blocksize", "3"], jack_server)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "--blocksize" in lines[0], done.stderr


@pytest.mark.realtime
@pytest.mark.parametrize("python_callback", [False, True], ids=["rtmixer", "python"])
def test_an_underrun_is_a_block_without_fresh_audio_in_both_outputs(jack_server: JackServer, live_model: Path,
                                                                     python_callback: bool) -> None:
    """Both outputs count the blocks that reached the device without (all their) fresh audio: what a
    second JACK client hears as blocks ending in silence."""
    with playing(jack_server, live_model, capture_seconds=5.0, python_callback=python_callback,
                 lookahead_blocks=8) as s:  # fixed: the adaptive lookahead would avoid some underruns
        engine = s.engine
        engine.run(0.6)
        engine.decoder.slowdown_seconds = 0.08  # each ~43 ms frame now takes > 80 ms
        engine.run(1.2)
        engine.decoder.slowdown_seconds = 0.0
        engine.run(0.8)
    underruns = engine.output.underruns
    audio = s.capture.recorded
    blocks = audio[: audio.shape[0] // BLOCKSIZE * BLOCKSIZE].reshape(-1, BLOCKSIZE, audio.shape[1])
    sounding = np.flatnonzero(np.abs(blocks).max(axis=(1, 2)) > 0)
    played = blocks[sounding[0]: sounding[-1] + 1]  # from the first block the engine played to its last
    heard = int(np.all(played[:, -1, :] == 0.0, axis=1).sum())  # blocks that end in exact silence
    assert underruns > 0, "a decoder slower than real time caused no underrun"
    assert abs(heard - underruns) <= 2, f"counted {underruns} underruns, a listener heard {heard}"


@pytest.mark.realtime
def test_sigterm_stops_the_live_engine_as_cleanly_as_ctrl_c(jack_server: JackServer, live_model: Path,
                                                            tmp_path: Path) -> None:
    """A process manager's stop (SIGTERM), even for an engine started with SIGINT ignored as a script's
    background job is: exit 0, the report written, the last line said."""
    from gui_fixtures import status_reply
    from osc_fixtures import free_port
    from waiting import wait_until

    port, report_path = free_port(), tmp_path / "r.json"
    engine = subprocess.Popen([sys.executable, "run_engine.py", "live", "--seconds", "120", "--samplerate",
                               str(SAMPLERATE), "--device", str(jack_server.device), "--model", str(live_model),
                               "--osc-port", str(port), "--report", str(report_path)],
                              cwd=ROOT, env=jack_server.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert wait_until(lambda: status_reply(port, timeout=0.5) is not None, 90), \
            "the engine never answered /engine/status"
        engine.send_signal(signal.SIGTERM)
        _, stderr = engine.communicate(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, stderr
    report = json.loads(report_path.read_text())
    assert report["callbacks"] > 0 and report["seconds"] < 120
    assert "played" in stderr
