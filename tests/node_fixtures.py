"""A remote visual node as its own process (`visuals serve`), and what its recordings show.

`NodeProcess` starts `run_engine.py visuals serve` on a port, collects its log lines on a thread
(a pipe nobody reads would stall it) and stops it with SIGTERM (clean: the MP4 closed, the report
written) or SIGKILL (a crash). `frame_changes` and `onset_envelope` turn a node's MP4 and an engine
recording's audio into what the test and the benchmark compare.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


class NodeProcess:
    def __init__(self, port: int, *, record: Path | None = None, report: Path | None = None,
                 size: str = "64x64", extra: list[str] | None = None) -> None:
        cmd = [sys.executable, str(ROOT / "run_engine.py"), "visuals", "serve", "--listen", f"127.0.0.1:{port}",
               "--size", size, "--no-visual-spare"]
        if record is not None:
            cmd += ["--record", str(record)]
        if report is not None:
            cmd += ["--report", str(report)]
        self.process = subprocess.Popen([*cmd, *(extra or [])], cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, errors="replace",
                                        env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=_below_the_engine)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    @property
    def frames_name(self) -> str | None:
        """The node's frame buffer (shared memory), from its first log line."""
        for line in self.lines:
            if "frames in shared memory " in line:
                return line.rsplit(" ", 1)[-1]
        return None

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(timeout=5)


def _below_the_engine() -> None:
    """On one machine the node stands in for another host: it must not take the engine's CPU (on stage
    it has its own), so it runs at the lowest priority."""
    os.nice(19)


def frame_changes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(time of each frame in seconds, mean absolute change from the previous frame; 0 for the first)."""
    times, changes = [], []
    previous: np.ndarray | None = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            pixels = frame.to_ndarray(format="rgb24").astype(np.float32)
            changes.append(0.0 if previous is None else float(np.abs(pixels - previous).mean()))
            times.append(float(frame.time))
            previous = pixels
    return np.asarray(times), np.asarray(changes)


def recorded_audio(path: Path) -> tuple[np.ndarray, int, float]:
    """An engine recording's audio (mono), its rate, and the seconds of encoder priming at its start."""
    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = int(stream.rate)
        for frame in container.decode(audio=0):
            chunks.append(frame.to_ndarray().mean(axis=0))
    from engine.visual.recorder import _aac_priming

    return np.concatenate(chunks).astype(np.float32), rate, _aac_priming(rate, 2) / rate


def onset_envelope(audio: np.ndarray, rate: int, priming: float, frame_times: np.ndarray) -> np.ndarray:
    """The strongest onset strength of the audio heard between each frame and the one before
    (timeline seconds: the recording's own times less the priming)."""
    from engine.analysis.features import INDEX
    from engine.analysis.offline import analyze

    times, rows = analyze(audio, rate)
    times = times - priming
    strength = rows[:, INDEX["onset_strength"]]
    out = np.zeros(frame_times.shape[0])
    for k in range(1, frame_times.shape[0]):
        inside = (times > frame_times[k - 1]) & (times <= frame_times[k])
        out[k] = strength[inside].max() if inside.any() else 0.0
    return out


def follow_score(changes: np.ndarray, envelope: np.ndarray, shifts: tuple[int, ...] = (37, 83, 131)) -> tuple[float, float]:
    """(correlation of frame change with the onset envelope, mean correlation with the envelope shifted
    by whole numbers of frames: the same motion, not in time with the music)."""
    aligned = float(np.corrcoef(changes, envelope)[0, 1])
    shifted = float(np.mean([np.corrcoef(changes, np.roll(envelope, s))[0, 1] for s in shifts]))
    return aligned, shifted
