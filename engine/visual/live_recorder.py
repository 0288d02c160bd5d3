"""Recording a live set: the visual frames and the engine's own audio, muxed in sync into one MP4.

Both streams share the engine's timeline: audio blocks are counted from the moment recording
starts (the decoder hands each rendered block over), and each frame carries the timeline time of
the analysis row it shows. So the file's sync does not depend on when the frames happened to
arrive. The decoder only appends a copy to a deque; encoding happens on this thread.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from pathlib import Path

import numpy as np

from engine.visual.frame_buffer import FrameBuffer
from engine.visual.recorder import VideoRecorder

log = logging.getLogger(__name__)

POLL_SECONDS = 0.005
MAX_QUEUED_BLOCKS = 8192  # about 44 s at 256 frames: the encoder fell far behind if it fills


class LiveRecorder(threading.Thread):
    def __init__(self, path: Path, frames: FrameBuffer, *, samplerate: int, channels: int, fps: float,
                 start_seconds: float = 0.0) -> None:
        super().__init__(name="recorder", daemon=True)
        self.frames = frames
        self.start_seconds = start_seconds
        self.recorder = VideoRecorder(path, frames.width, frames.height, fps, samplerate=samplerate,
                                      channels=channels)
        self._audio: deque[np.ndarray] = deque()
        self._halt = threading.Event()
        self._pixels = np.empty((frames.height, frames.width, 3), dtype=np.uint8)
        self._last_index = -1
        self.audio_blocks_dropped = 0
        self.error: str | None = None

    def push_audio(self, block: np.ndarray) -> None:
        """Decoder thread: hand over one rendered block (copied; never waits)."""
        if len(self._audio) >= MAX_QUEUED_BLOCKS:
            self.audio_blocks_dropped += 1
            return
        self._audio.append(block.copy())

    def run(self) -> None:
        try:
            while not self._halt.wait(POLL_SECONDS):
                self._drain()
            self._drain()
        except Exception as exc:  # a full disk must not stop the show; what was written stays playable
            self.error = f"recording stopped: {exc}"
            log.error(self.error)
        finally:
            self.recorder.close()

    def _drain(self) -> None:
        while self._audio:
            self.recorder.write_audio(self._audio.popleft())
        got = self.frames.read_newer(self._last_index, self._pixels)
        if got is not None:
            self._last_index = got[0]
            if got[1] >= self.start_seconds:
                self.recorder.write_frame(got[2], got[1] - self.start_seconds)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=10)
        else:
            self.recorder.close()

    def stats(self) -> dict[str, object]:
        r = self.recorder
        return {"frames_written": r.frames_written, "frames_dropped": r.frames_dropped,
                "audio_seconds": round(r.audio_seconds, 3), "audio_blocks_dropped": self.audio_blocks_dropped,
                "error": self.error}
