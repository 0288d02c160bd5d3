"""Device output: PortAudio streams that play from the lock-free ring.

Two callbacks, one contract. `RtmixerOutput` (the default) plays the ring from rtmixer's C
callback, which needs no GIL: Python's garbage collector or a busy thread cannot delay it.
`PythonCallbackOutput` is the plain sounddevice fallback (and the benchmark's baseline).

The callback contract, as sounddevice states it: it runs on the audio thread; it must never
block, take a lock, allocate, touch the file system, log or call torch; it always fills the
whole output buffer; when the ring runs dry it plays silence for the missing frames and counts
an underrun: never stale or garbage samples.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np
import rtmixer
import sounddevice as sd

from engine.audio.ring import AudioRing

STATS_INTERVAL_S = 0.25


class Output(Protocol):
    samplerate: float
    blocksize: int
    channels: int
    underruns: int

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def poll(self) -> None: ...
    @property
    def callbacks(self) -> int: ...
    @property
    def cpu_load(self) -> float: ...
    @property
    def device_latency(self) -> float: ...


def _split(value: object) -> tuple[float, float]:
    if isinstance(value, tuple | list):
        return float(value[0]), float(value[1])
    return float(value), float(value)  # type: ignore[arg-type]


class _StreamMeters:
    """CPU load and output latency, read the same way from any PortAudio stream."""

    stream: sd._StreamBase

    @property
    def cpu_load(self) -> float:
        return float(self.stream.cpu_load) if self.stream.active else 0.0

    @property
    def device_latency(self) -> float:
        return _split(self.stream.latency)[1]


class RtmixerOutput(_StreamMeters):
    """rtmixer's C callback reads the ring; when the ring runs dry rtmixer ends the play action.

    `poll()` (called by the decoder thread) notices that, counts one underrun and restarts playback
    once the ring holds `restart_frames` again; meanwhile the C callback outputs silence.
    """

    def __init__(self, ring: AudioRing, *, samplerate: int, blocksize: int, device: int | str | None = None,
                 input_ring: AudioRing | None = None, restart_frames: int = 0) -> None:
        self.ring = ring
        self.input_ring = input_ring
        self.blocksize = blocksize
        self.channels = ring.channels
        self.restart_frames = restart_frames
        self.underruns = 0
        self.input_overflows = 0
        self._blocks = 0
        kwargs = dict(device=device, samplerate=samplerate, blocksize=blocksize, latency="low")
        if input_ring is None:
            self.stream: rtmixer.Mixer = rtmixer.Mixer(channels=ring.channels, **kwargs)
        else:
            self.stream = rtmixer.MixerAndRecorder(channels=(input_ring.channels, ring.channels), **kwargs)
        self.samplerate = float(self.stream.samplerate)
        self._play: object | None = None
        self._record: object | None = None
        self._stats: object | None = None
        self._stats_due = 0.0

    @property
    def callbacks(self) -> int:
        return self._blocks

    def start(self) -> None:
        self.stream.start()
        self._play = self.stream.play_ringbuffer(self.ring.ring)
        if self.input_ring is not None:
            self._record = self.stream.record_ringbuffer(self.input_ring.ring)

    def poll(self) -> None:
        actions = self.stream.actions
        if self._play is not None and self._play not in actions:
            self.underruns += 1
            self._play = None
        if self._play is None and self.ring.read_available >= self.restart_frames:
            self._play = self.stream.play_ringbuffer(self.ring.ring)
        if self.input_ring is not None and self._record not in actions:
            self.input_overflows += 1  # the decoder did not drain the input ring in time
            self._record = self.stream.record_ringbuffer(self.input_ring.ring)
        now = time.monotonic()
        if self._stats is not None and self._stats not in actions:
            self._blocks += int(self._stats.stats.blocks)  # type: ignore[attr-defined]
            self._stats = None
        if self._stats is None and now >= self._stats_due:
            self._stats = self.stream.fetch_and_reset_stats()
            self._stats_due = now + STATS_INTERVAL_S

    def stop(self) -> None:
        self.stream.stop()
        if self._stats is not None and self._stats not in self.stream.actions:
            self._blocks += int(self._stats.stats.blocks)  # type: ignore[attr-defined]
        self._blocks += int(self.stream.stats.blocks)  # counted since the last fetch
        self.stream.close()


class PythonCallbackOutput(_StreamMeters):
    """A sounddevice stream whose Python callback copies from the ring: needs the GIL every block."""

    def __init__(self, ring: AudioRing, *, samplerate: int, blocksize: int, device: int | str | None = None,
                 input_ring: AudioRing | None = None, restart_frames: int = 0) -> None:
        self.ring = ring
        self.input_ring = input_ring
        self.blocksize = blocksize
        self.channels = ring.channels
        self.underruns = 0
        self.input_overflows = 0
        self._callbacks = 0
        kwargs = dict(device=device, samplerate=samplerate, blocksize=blocksize, latency="low", dtype="float32")
        if input_ring is None:
            self.stream: sd.OutputStream | sd.Stream = sd.OutputStream(
                channels=ring.channels, callback=self._output_callback, **kwargs)
        else:
            self.stream = sd.Stream(channels=(input_ring.channels, ring.channels), callback=self._duplex_callback,
                                    **kwargs)
        self.samplerate = float(self.stream.samplerate)

    def _output_callback(self, outdata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        got = self.ring.read_into(outdata)
        if got < frames:
            outdata[got:] = 0.0
            self.underruns += 1
        self._callbacks += 1

    def _duplex_callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: object,
                         status: object) -> None:
        assert self.input_ring is not None
        if self.input_ring.ring.write(indata, min(frames, self.input_ring.write_available)) < frames:
            self.input_overflows += 1
        self._output_callback(outdata, frames, time_info, status)

    @property
    def callbacks(self) -> int:
        return self._callbacks

    def start(self) -> None:
        self.stream.start()

    def poll(self) -> None:
        pass

    def stop(self) -> None:
        self.stream.stop()
        self.stream.close()
