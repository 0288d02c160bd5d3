"""The visual process: spawned, fed through shared memory, and restarted when it crashes or hangs."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from waiting import wait_until

from engine.analysis.features import INDEX, N_FEATURES
from engine.params.table import DEFAULT_GENERATOR, DEFAULT_THEME
from engine.visual.host import VisualHost
from engine.visual.process_main import VisualConfig

RESTART_LIMIT_SECONDS = 2.0


def config(side: int, generator: str = DEFAULT_GENERATOR) -> VisualConfig:
    return VisualConfig(generator=generator, width=side, height=side, theme=DEFAULT_THEME)


class Driver(threading.Thread):
    """Publishes a 120 BPM pulse of features, as the engine's feed would."""

    def __init__(self, host: VisualHost) -> None:
        super().__init__(daemon=True)
        self.host = host
        self.halt = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        beats = 0
        params = {"/visual/theme": "nebula", "/visual/fps": 30.0}
        while not self.halt.wait(1 / 86):
            t = time.monotonic() - started
            row = np.zeros(N_FEATURES, dtype=np.float32)
            phase = (t * 2.0) % 1.0
            row[INDEX["level"]] = row[INDEX["bass"]] = row[INDEX["onset_strength"]] = max(0.0, 1.0 - 4 * phase)
            beats = int(t * 2.0)
            self.host.publish(t, row, beats, beats, np.sin(np.arange(8) + t), params)
            params = None


@pytest.fixture
def host() -> Iterator[VisualHost]:
    host = VisualHost(config(64), hang_seconds=1.0).start()
    driver = Driver(host)
    driver.start()
    try:
        assert host.wait_ready(60), "the visual process showed no frame within 60 s"
        yield host
    finally:
        driver.halt.set()
        host.stop()


def frames_advance(host: VisualHost, timeout: float = 5.0) -> bool:
    before = host.frames.latest_index
    return wait_until(lambda: host.frames.latest_index > before, timeout)


def wait_for_spare(host: VisualHost, timeout: float = 60.0) -> None:
    assert wait_until(lambda: host.spare and host.spare.ready.is_set(), timeout, 0.05), \
        "the spare never finished loading"


def wait_recovered(host: VisualHost, count: int, timeout: float = 10.0) -> float:
    assert wait_until(lambda: len(host.restarts) >= count and host.restarts[-1].recovered_seconds is not None,
                      timeout), f"no recovery: {host.restarts}"
    recovered = host.restarts[-1].recovered_seconds
    assert recovered is not None
    return recovered


def test_frames_flow_from_the_spawned_process(host: VisualHost) -> None:
    assert host.active is not None and host.active.process.pid != os.getpid()
    assert frames_advance(host)
    got = host.frames.read()
    assert got is not None
    index, seconds, pixels = got
    assert pixels.shape == (64, 64, 3) and pixels.std() > 1.0  # an image, not a flat fill
    assert seconds > 0.0  # the frame carries the timeline time of the features it shows


@pytest.mark.realtime
def test_a_crashed_process_is_replaced_within_two_seconds(host: VisualHost) -> None:
    wait_for_spare(host)
    victim = host.active.process.pid
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    recovered = wait_recovered(host, 1)
    assert time.monotonic() - killed_at < RESTART_LIMIT_SECONDS + 0.5
    assert recovered < RESTART_LIMIT_SECONDS
    assert host.active.process.pid != victim
    assert "exited" in host.restarts[0].reason
    assert frames_advance(host)


@pytest.mark.realtime
def test_a_hung_process_is_replaced_within_two_seconds(host: VisualHost) -> None:
    wait_for_spare(host)
    victim = host.active.process.pid
    index_before = host.frames.latest_index
    stopped_at = time.monotonic()
    os.kill(victim, signal.SIGSTOP)  # alive but frozen: only the heartbeat can tell
    wait_recovered(host, 1)
    assert time.monotonic() - stopped_at < RESTART_LIMIT_SECONDS + 0.3
    assert "hung" in host.restarts[0].reason
    assert host.frames.latest_index > index_before  # indices carry on across the restart
    assert frames_advance(host)


def test_without_a_spare_a_crash_still_recovers() -> None:
    host = VisualHost(config(32), spare=False).start()
    driver = Driver(host)
    driver.start()
    try:
        assert host.wait_ready(60)
        os.kill(host.active.process.pid, signal.SIGKILL)
        wait_recovered(host, 1, timeout=30)  # a cold start: imports torch again
        assert frames_advance(host)
    finally:
        driver.halt.set()
        host.stop()


def test_a_generator_that_cannot_start_is_reported_and_the_old_one_stays(host: VisualHost) -> None:
    reported: list[str] = []
    host.on_error = reported.append
    host.switch_generator("diffusion", {})  # no weights given: it cannot load
    assert wait_until(lambda: not host.switching, 60.0, 0.05)
    assert host.config.generator == "cppn"
    assert reported and "diffusion" in reported[0] and "--visual-model" in reported[0]
    assert frames_advance(host)  # the cppn process never stopped


def test_a_generator_that_never_starts_is_given_up_on() -> None:
    reported: list[str] = []
    host = VisualHost(config(32, generator="diffusion"), on_error=reported.append).start()
    try:
        assert wait_until(lambda: host.gave_up, 120.0, 0.1)
        assert any("could not start" in m for m in reported)
        assert any("visuals stopped" in m for m in reported)
    finally:
        host.stop()
