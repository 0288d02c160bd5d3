"""The output contract without a device: how blocks are filled and counted, and how the reconnecting
output notices a dead stream, retries and plays again (fake streams stand in for PortAudio's)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from waiting import wait_until

from engine.audio import reconnecting_output
from engine.audio.output import missing_blocks, play_block, record_block
from engine.audio.reconnecting_output import ReconnectingOutput
from engine.audio.ring import AudioRing


def test_missing_blocks_counts_every_silent_block() -> None:
    rate, block = 48000.0, 256
    assert missing_blocks(256 / rate, 512 / rate, rate, block) == 1  # dry at a block's end, back at the next
    assert missing_blocks(256 / rate, (256 * 5) / rate, rate, block) == 4  # four silent blocks
    assert missing_blocks(256 / rate, (256 * 5 + 90) / rate, rate, block) == 4  # stream-time jitter
    assert missing_blocks(0.5, 0.5, rate, block) == 1  # never fewer than the one that ran dry


def test_play_block_fills_what_the_ring_has_and_silences_the_rest() -> None:
    ring = AudioRing(2, 1024)
    fresh = np.random.default_rng(0).uniform(-1, 1, (100, 2)).astype(np.float32)
    ring.write(fresh)
    out = np.full((256, 2), 7.0, dtype=np.float32)
    assert play_block(ring, out) is False
    np.testing.assert_array_equal(out[:100], fresh)
    assert not out[100:].any()
    ring.write(np.ones((256, 2), dtype=np.float32))
    assert play_block(ring, out) is True and (out == 1.0).all()


def test_record_block_says_when_the_input_ring_is_full() -> None:
    ring = AudioRing(1, 256)
    block = np.ones((256, 1), dtype=np.float32)
    assert record_block(ring, block) is True
    assert record_block(ring, block) is False  # no room left: an input overflow


class FakeOutput:
    """A stream that plays (its callback count grows) until `die()`; `hang_abort` makes abort wait."""

    def __init__(self, device: int | str | None, samplerate: float = 48000.0) -> None:
        self.device = device
        self.samplerate, self.blocksize, self.channels = samplerate, 256, 2
        self._callbacks, self.underruns, self.input_overflows = 0, 3, 0
        self.alive, self.active, self.started = True, False, False
        self.aborted = self.stopped = self.abandoned = False
        self.hang_abort = self.hang_stop = False

    @property
    def callbacks(self) -> int:
        if self.alive and self.started:
            self._callbacks += 1
        return self._callbacks

    def start(self) -> None:
        self.started = self.active = True

    def die(self, inactive: bool) -> None:
        self.alive = False
        self.active = not inactive

    def poll(self) -> None:
        pass

    def stop(self) -> None:
        if self.hang_stop:
            threading.Event().wait()
        self.stopped = True

    def abort(self) -> None:
        if self.hang_abort:
            threading.Event().wait()
        self.aborted = True

    def abandon(self) -> None:
        self.abandoned = True

    cpu_load = 0.25
    device_latency = 0.01


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The PortAudio side of the reconnecting output, faked: which device is there, rescans made."""
    there: dict[str, object] = {"present": True, "rescans": [], "forgot": 0}
    monkeypatch.setattr(reconnecting_output, "device_identity", lambda device: ("Fake Card", "Fake API"))
    monkeypatch.setattr(reconnecting_output, "find_device",
                        lambda name, hostapi=None: 5 if there["present"] and name == "Fake Card" else None)
    monkeypatch.setattr(reconnecting_output, "rescan_devices",
                        lambda fresh=False: there["rescans"].append(fresh))  # type: ignore[attr-defined]

    def forget() -> None:
        there["forgot"] = int(there["forgot"]) + 1  # type: ignore[call-overload]

    monkeypatch.setattr(reconnecting_output, "forget_portaudio", forget)
    monkeypatch.setattr(reconnecting_output, "BACKOFF_SECONDS", (0.05, 0.1))
    return there


def _reconnecting(opened: list[FakeOutput], events: list[tuple[str, str]]) -> ReconnectingOutput:
    def open_output(device: int | str | None) -> FakeOutput:
        opened.append(FakeOutput(device))
        return opened[-1]

    return ReconnectingOutput(open_output, "Fake Card", on_state=lambda state, message: events.append((state, message)),
                              stall_seconds=0.3)


@pytest.mark.parametrize("inactive", [False, True], ids=["stalled", "shut-down"])
def test_a_dead_stream_is_noticed_and_a_returning_device_plays_again(devices: dict[str, object],
                                                                     inactive: bool) -> None:
    opened: list[FakeOutput] = []
    events: list[tuple[str, str]] = []
    output = _reconnecting(opened, events)
    output.start()
    try:
        assert output.state == "playing" and output.cpu_load == 0.25
        devices["present"] = False
        first = opened[0]
        first.die(inactive)
        died = time.monotonic()
        assert wait_until(lambda: output.state in ("lost", "reconnecting"), 2.0)
        assert time.monotonic() - died < 1.0, "the dead stream was noticed too late"
        assert events[0][0] == "lost" and "Fake Card" in events[0][1]
        assert output.cpu_load == 0.0 and output.active is False
        assert wait_until(lambda: output.status()["last_error"] and "not there" in str(output.status()["last_error"]),
                          2.0)
        if inactive:  # a stream its host API shut down is never aborted: it is left behind
            assert first.abandoned and not first.aborted and devices["forgot"] == 1
        else:
            assert first.aborted and not first.abandoned
        devices["present"] = True
        assert wait_until(lambda: output.state == "playing", 2.0)
        assert len(opened) == 2 and opened[1].device == 5 and opened[1].started
        assert events[-1][0] == "playing" and "back" in events[-1][1]
        assert devices["rescans"][0] is inactive  # type: ignore[index]  # fresh PortAudio only after abandoning
        assert output.underruns == 6  # counters add up across the streams
        assert output.callbacks >= first._callbacks
    finally:
        output.stop()
    status = output.status()
    assert status["state"] == "stopped" and status["outages"] == 1
    assert 0.0 < float(status["outage_seconds"]) < 3.0  # type: ignore[arg-type]
    assert opened[1].stopped


def test_stop_never_hangs_on_a_stream_that_will_not_stop(devices: dict[str, object],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnecting_output, "CALL_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(reconnecting_output, "ABORT_TIMEOUT_SECONDS", 0.2)
    opened: list[FakeOutput] = []
    output = _reconnecting(opened, [])
    output.start()
    opened[0].hang_stop = opened[0].hang_abort = True
    started = time.monotonic()
    output.stop()
    assert time.monotonic() - started < 2.0
    assert opened[0].abandoned and devices["forgot"] == 1
    assert output.state == "stopped"
