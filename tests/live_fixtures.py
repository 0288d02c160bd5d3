"""The live engine playing on the JACK test server, for the tests that listen to it.

`live_model` (session scope, through conftest.py) is the model the live tests play. `playing` starts
an engine whose output a second JACK client records from its first frame; `run_until` keeps the
engine's main loop going while a test waits; `assert_continuous` is what "no dropout" means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import rms
from jack_fixtures import SAMPLERATE, JackCapture, JackServer, engine_ports, longest_zero_run
from model_factories import make_new_style_model
from waiting import wait_until

from engine.session.config import SessionConfig
from engine.session.session import LiveSession

BLOCKSIZE = 256
MAX_ZERO_RUN = 64  # longer runs of exact zeros are dropouts, not signal
SILENT_RMS = 1e-3


@pytest.fixture(scope="session")
def live_model(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model; a 48 kHz factory model while models/default.ts is not trained yet."""
    if default_model_path.exists():
        return default_model_path
    return make_new_style_model(tmp_path_factory.mktemp("live_model"), latent_size=8, sr=SAMPLERATE)


@dataclass
class Session:
    engine: LiveSession
    capture: JackCapture
    inputs: list[str]  # the engine's JACK input ports (with input=True)


@contextmanager
def playing(server: JackServer, model: Path, capture_seconds: float, **config: object) -> Iterator[Session]:
    """A started engine on the JACK device whose output a second client records from the first frame on.

    The capture is connected before the stream starts, so it holds everything the engine played;
    on exit it stops recording first, then the engine stops. No OSC server unless `osc_port` is given.
    """
    config = {"osc_port": None, **config}  # not the default 9000, which another program may hold
    capture = JackCapture(server, capture_seconds)
    try:
        before = capture.port_names()
        engine = LiveSession(SessionConfig(model=model, device=server.device, samplerate=SAMPLERATE,
                                       blocksize=BLOCKSIZE, **config))  # type: ignore[arg-type]
        try:
            capture.connect(engine_ports(capture, before, is_output=True))
            inputs = engine_ports(capture, before, is_output=False)
            capture.start()
            engine.start()
            yield Session(engine, capture, inputs)
        finally:
            capture.stop()
            engine.stop()
    finally:
        capture.close()


def run_until(engine: LiveSession, condition: Callable[[], object], timeout: float) -> bool:
    """Wait for `condition` while the engine's main loop runs: its ticks finish model swaps, collect
    errors and watch the visual process, so a plain wait would never see them happen."""
    def ticked() -> bool:
        if condition():
            return True
        engine.run(0.1)
        return False

    return wait_until(ticked, timeout, interval=0) or bool(condition())


def assert_continuous(audio: np.ndarray, what: str) -> None:
    """Non-silent, and no dropout: no run of exact zeros longer than MAX_ZERO_RUN in any channel."""
    assert audio.shape[0] > 0, f"{what}: nothing captured"
    for channel in range(audio.shape[1]):
        level = rms(audio[:, channel])
        run = longest_zero_run(audio[:, channel])
        assert level > SILENT_RMS, f"{what}: channel {channel} is silent (RMS {level:.2e})"
        assert run <= MAX_ZERO_RUN, f"{what}: channel {channel} has a run of {run} zero samples"
