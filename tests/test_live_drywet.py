"""Live `/rave/drywet` and live audio methods on a JACK dummy server: what comes out is the input,
at one steady delay, mixed or processed as the offline render does it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, rms
from jack_fixtures import SAMPLERATE, JackPlayer, JackServer
from live_fixtures import playing
from scipy.signal import correlate

DEMO_EFFECTS = SHARED / "fixtures" / "nn_tilde_demo" / "src_models_effects.ts"


def _signal(seconds: float) -> np.ndarray:
    """A chirp under a slow tremolo: no two stretches alike, so the delay found is unambiguous."""
    t = np.arange(int(seconds * SAMPLERATE)) / SAMPLERATE
    chirp = np.sin(2 * np.pi * (150 * t + 400 * t**2))
    return (0.4 * chirp * (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t))).astype(np.float32)


def _delay(captured: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """The lag at which `captured` best matches `reference`, and the match's normalised correlation."""
    lag = int(np.argmax(correlate(captured, reference, mode="valid", method="fft")))
    piece = captured[lag: lag + reference.shape[0]]
    return lag, float(np.dot(piece, reference) / (np.linalg.norm(piece) * np.linalg.norm(reference) + 1e-12))


def _check_steady_delay(captured: np.ndarray, reference: np.ndarray) -> int:
    """Two stretches of the reference are found at the same delay: no frame dropped or repeated."""
    delays = []
    for offset in (int(0.3 * SAMPLERATE), int(1.2 * SAMPLERATE)):
        lag, score = _delay(captured[offset:], reference[offset: offset + SAMPLERATE // 2])
        assert score > 0.99, f"the input does not come through intact (correlation {score:.3f})"
        delays.append(lag)
    assert delays[0] == delays[1], f"the delay moved: {delays}"
    return delays[0]


@pytest.mark.realtime
def test_live_drywet_zero_plays_the_input_at_a_steady_delay(jack_server: JackServer, live_model: Path) -> None:
    signal = _signal(2.0)
    # Levelling off: its gain follows the tremolo a little, and this test is about the path, not the level.
    # A fixed lookahead: one that grows (after a host stall) moves the delay by a block, by design.
    with playing(jack_server, live_model, capture_seconds=5.0, input=True, lookahead_blocks=8,
                 sets=["/rave/source/a=input", "/rave/drywet=0", "/master/agc=0"]) as s, \
            JackPlayer(jack_server, signal) as player:
        player.connect(s.inputs)
        s.engine.run(0.3)
        start = s.capture.frames
        player.start()
        s.engine.run(2.8)
        captured = s.capture.recorded[start: s.capture.frames, 0].copy()
        frames = s.engine.decoder.graph.input_frames
        assert s.engine.output.underruns == 0
    delay = _check_steady_delay(captured, signal)
    assert delay < 0.5 * SAMPLERATE
    latency = s.engine.latency_breakdown()
    print(f"input to output delay {delay} samples ({1000 * delay / SAMPLERATE:.1f} ms); output latency "
          f"{1000 * latency['total_s']:.1f} ms; starved {frames.starved}, dropped {frames.dropped}")
    assert frames.dropped == 0


@pytest.mark.realtime
def test_live_audio_method_plays_the_input(jack_server: JackServer) -> None:
    if not DEMO_EFFECTS.is_file():
        pytest.skip(f"{DEMO_EFFECTS} is not here (../shared beside the checkout)")
    signal = _signal(2.0)
    with playing(jack_server, DEMO_EFFECTS, capture_seconds=5.0, input=True, method="saturate", lookahead_blocks=8,
                 sets=["/master/gain_db=0", "/master/agc=0"]) as s, JackPlayer(jack_server, signal) as player:
        player.connect(s.inputs)
        s.engine.run(0.3)
        start = s.capture.frames
        player.start()
        s.engine.run(2.8)
        captured = s.capture.recorded[start: s.capture.frames, 0].copy()
        assert s.engine.decoder.graph.method == "saturate"
        assert s.engine.output.underruns == 0
    assert rms(captured) > 0.05
    _check_steady_delay(captured, np.tanh(signal))  # the demo's saturate: tanh(gain x input), gain 1
