"""Device output: PortAudio streams that play from the lock-free ring.

Two callbacks, one contract (`Output`). `RtmixerOutput` (the default) plays the ring from
rtmixer's C callback, which needs no GIL: Python's garbage collector or a busy thread cannot delay
it. `PythonCallbackOutput` is the plain sounddevice fallback (and the benchmark's baseline).

The callback contract, as sounddevice states it: it runs on the audio thread; it must never
block, take a lock, allocate, touch the file system, log or call torch; it always fills the
whole output buffer; when the ring runs dry it plays silence for the missing frames: never stale
or garbage samples. Both outputs count the same things the same way: `callbacks` is blocks the
device took, `underruns` is blocks that reached the device without (all their) fresh audio, and
`input_overflows` is input blocks that found the input ring full.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np
import rtmixer
import sounddevice as sd

from engine.audio.ring import AudioRing

STATS_INTERVAL_S = 0.25


class Output(Protocol):
    """What the render thread and the session need from a device output, whichever callback plays."""

    samplerate: float
    blocksize: int
    channels: int

    def start(self) -> None: ...

    def stop(self) -> None:
        """Orderly: waits for the device to take its last block, then closes."""

    def abort(self) -> None:
        """At once, without waiting for the device (which may be gone), then closes."""

    def abandon(self) -> None:
        """Forget a stream whose host API cannot close it: nothing may call it again."""

    def poll(self) -> None:
        """Housekeeping from the render thread; never blocks."""

    @property
    def callbacks(self) -> int:
        """Blocks the device has taken."""

    @property
    def underruns(self) -> int:
        """Blocks that reached the device without (all their) fresh audio."""

    @property
    def input_overflows(self) -> int:
        """Input blocks that found the input ring full."""

    @property
    def cpu_load(self) -> float: ...

    @property
    def device_latency(self) -> float:
        """Seconds from a block leaving the callback to the speaker, as the host API reports it."""

    @property
    def active(self) -> bool:
        """Whether the stream runs: False once its host API stopped it (a dead server)."""


def _split(value: object) -> tuple[float, float]:
    if isinstance(value, tuple | list):
        return float(value[0]), float(value[1])
    return float(value), float(value)  # type: ignore[arg-type]


def missing_blocks(dry_at: float, resumed_at: float, samplerate: float, blocksize: int) -> int:
    """Blocks that went out without fresh audio between the ring running dry (stream time `dry_at`)
    and playback resuming (`resumed_at`, a block start): at least the one that ran dry. Rounded, not
    ceiled: the decoder writes whole blocks, so both ends fall on block boundaries, and a host API's
    stream times jitter by a fraction of a block (JACK's are estimated from its clock filter)."""
    return max(1, round((resumed_at - dry_at) * samplerate / blocksize))


class _StreamOutput:
    """What both outputs share: the rings, the counters, and meters read from the PortAudio stream."""

    stream: Any  # sd.OutputStream | sd.Stream | rtmixer.Mixer | rtmixer.MixerAndRecorder

    def __init__(self, ring: AudioRing, blocksize: int, input_ring: AudioRing | None) -> None:
        self.ring = ring
        self.input_ring = input_ring
        self.blocksize = blocksize
        self.channels = ring.channels
        self._underruns = 0
        self._input_overflows = 0
        self._latency: float | None = None

    @property
    def underruns(self) -> int:
        return self._underruns

    @property
    def input_overflows(self) -> int:
        return self._input_overflows

    @property
    def cpu_load(self) -> float:
        return float(self.stream.cpu_load) if self.stream.active else 0.0

    @property
    def device_latency(self) -> float:
        """Read once: asking a stream that was closed under a reader would touch freed memory."""
        if self._latency is None:
            self._latency = _split(self.stream.latency)[1]
        return self._latency

    @property
    def active(self) -> bool:
        return bool(self.stream.active)

    def abort(self) -> None:
        self.stream.abort()
        self.stream.close()

    def abandon(self) -> None:
        """Forget a stream that cannot be closed (its host API hangs): nothing may call it again."""
        self.stream._ptr = sd._ffi.NULL  # PortAudio refuses a null stream instead of touching freed memory


class RtmixerOutput(_StreamOutput):
    """rtmixer's C callback reads the ring; when the ring runs dry rtmixer ends the play action.

    `poll()` (called by the decoder thread) notices that and restarts playback once the ring holds
    `restart_frames` again; meanwhile the C callback outputs silence. The blocks in between are
    counted from the actions' stream times.
    """

    def __init__(self, ring: AudioRing, *, samplerate: int, blocksize: int, device: int | str | None = None,
                 input_ring: AudioRing | None = None, restart_frames: int = 0) -> None:
        super().__init__(ring, blocksize, input_ring)
        self.restart_frames = restart_frames
        self._blocks = 0
        kwargs = dict(device=device, samplerate=samplerate, blocksize=blocksize, latency="low")
        if input_ring is None:
            self.stream = rtmixer.Mixer(channels=ring.channels, **kwargs)
        else:
            self.stream = rtmixer.MixerAndRecorder(channels=(input_ring.channels, ring.channels), **kwargs)
        self.samplerate = float(self.stream.samplerate)
        self._play: Any = None
        self._dry_at: float | None = None  # stream time the ring ran dry, until playback resumes
        self._record: Any = None
        self._stats: Any = None
        self._stats_due = 0.0

    @property
    def callbacks(self) -> int:
        return self._blocks

    def start(self) -> None:
        self.stream.start()
        _ = self.device_latency
        self._play = self.stream.play_ringbuffer(self.ring.ring)
        if self.input_ring is not None:
            self._record = self.stream.record_ringbuffer(self.input_ring.ring)

    def poll(self) -> None:
        actions = self.stream.actions
        play = self._play
        if play is not None and play not in actions:
            if self._dry_at is not None and int(play.done_frames) > 0:
                self._resumed(float(play.actual_time))  # it resumed and ran dry again between two polls
            if self._dry_at is None:  # it ran dry (not a restart that never began)
                self._dry_at = float(play.actual_time) + int(play.done_frames) / self.samplerate
            self._play = play = None
        if play is None and self.ring.read_available >= self.restart_frames:
            self._play = play = self.stream.play_ringbuffer(self.ring.ring)
        if self._dry_at is not None and play is not None and int(play.done_frames) > 0:  # it resumed
            self._resumed(float(play.actual_time))
        if self.input_ring is not None and self._record not in actions:
            self._input_overflows += 1  # the decoder did not drain the input ring in time
            self._record = self.stream.record_ringbuffer(self.input_ring.ring)
        now = time.monotonic()
        if self._stats is not None and self._stats not in actions:
            self._blocks += int(self._stats.stats.blocks)
            self._stats = None
        if self._stats is None and now >= self._stats_due:
            self._stats = self.stream.fetch_and_reset_stats()
            self._stats_due = now + STATS_INTERVAL_S

    def _resumed(self, resumed: float) -> None:
        """Count the blocks between running dry and playback resuming at stream time `resumed`."""
        assert self._dry_at is not None
        self._underruns += (missing_blocks(self._dry_at, resumed, self.samplerate, self.blocksize)
                            if resumed > 0 and self._dry_at > 0 else 1)  # a host API without stream times
        self._dry_at = None

    def stop(self) -> None:
        self.stream.stop()
        if self._stats is not None and self._stats not in self.stream.actions:
            self._blocks += int(self._stats.stats.blocks)
        self._blocks += int(self.stream.stats.blocks)  # counted since the last fetch
        if self._dry_at is not None:
            self._underruns += 1  # it ran dry and never resumed
            self._dry_at = None
        self.stream.close()


class PythonCallbackOutput(_StreamOutput):
    """A sounddevice stream whose Python callback copies from the ring: needs the GIL every block."""

    def __init__(self, ring: AudioRing, *, samplerate: int, blocksize: int, device: int | str | None = None,
                 input_ring: AudioRing | None = None, restart_frames: int = 0) -> None:
        # `restart_frames` is RtmixerOutput's: this callback plays whatever is queued, block by block.
        super().__init__(ring, blocksize, input_ring)
        self._callbacks = 0
        kwargs = dict(device=device, samplerate=samplerate, blocksize=blocksize, latency="low", dtype="float32")
        if input_ring is None:
            self.stream = sd.OutputStream(channels=ring.channels, callback=self._output_callback, **kwargs)
        else:
            self.stream = sd.Stream(channels=(input_ring.channels, ring.channels), callback=self._duplex_callback,
                                    **kwargs)
        self.samplerate = float(self.stream.samplerate)

    def _output_callback(self, outdata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        if not play_block(self.ring, outdata):
            self._underruns += 1
        self._callbacks += 1

    def _duplex_callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: object,
                         status: object) -> None:
        assert self.input_ring is not None
        if not record_block(self.input_ring, indata):
            self._input_overflows += 1
        self._output_callback(outdata, frames, time_info, status)

    @property
    def callbacks(self) -> int:
        return self._callbacks

    def start(self) -> None:
        self.stream.start()
        _ = self.device_latency

    def poll(self) -> None:
        pass

    def stop(self) -> None:
        self.stream.stop()
        self.stream.close()


def play_block(ring: AudioRing, outdata: np.ndarray) -> bool:
    """Fill a device buffer from the ring, silence for what is missing; True when it was all fresh."""
    got = ring.read_into(outdata)
    if got < outdata.shape[0]:
        outdata[got:] = 0.0
        return False
    return True


def record_block(ring: AudioRing, indata: np.ndarray) -> bool:
    """Queue an input buffer; False when the ring had no room for all of it."""
    frames = indata.shape[0]
    return ring.ring.write(indata, min(frames, ring.write_available)) == frames
