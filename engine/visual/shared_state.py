"""What the engine tells the visual process, and what it says back, through one shared-memory block.

Engine -> visual (one writer, a seqlock like the frame buffer): the newest feature row and its
timeline time, running counts of beats and onsets (counts, not flags, so a reader polling slower
than the 86 Hz analysis misses none), the audio model's latent, the performance controls as the
render graph modulated them (floats), and the visual parameters as JSON bytes that are re-written
only when a parameter changes (a frame costs no parsing).
Visual -> engine (one writer each, single aligned float64 stores): a heartbeat from the monotonic
clock, which every process on the machine shares, frames rendered, frame time, its pid.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from engine.analysis.features import N_FEATURES
from engine.params.table import VISUAL_MODULATED
from engine.visual.shm import attach

MAX_LATENT = 256
PARAMS_BYTES = 16384
# Engine half.
_SEQ, _TIME, _ROWS, _BEATS, _ONSETS, _LATENT_N, _PARAMS_VERSION, _PARAMS_LEN, _HAS_CONTROLS = range(9)
_FEATURES = 9
_LATENT = _FEATURES + N_FEATURES
_CONTROLS = _LATENT + MAX_LATENT  # VISUAL_MODULATED, as the render graph applied them
_ENGINE_END = _CONTROLS + len(VISUAL_MODULATED)
# Visual half.
_HEARTBEAT, _FRAMES, _RENDER_MS, _PID = range(_ENGINE_END, _ENGINE_END + 4)
_FLOATS = _ENGINE_END + 4


@dataclass
class EngineState:
    """A consistent copy of the engine half."""

    time: float
    rows: int
    beats: int
    onsets: int
    features: np.ndarray
    latent: np.ndarray
    params_version: int
    params: dict[str, object]


class SharedState:
    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self.shm = shm
        self.owner = owner
        self._f = np.ndarray((_FLOATS,), dtype=np.float64, buffer=shm.buf)
        self._bytes = np.ndarray((PARAMS_BYTES,), dtype=np.uint8, buffer=shm.buf, offset=8 * _FLOATS)
        self._params_version = 0
        self._params: dict[str, object] = {}
        self._features = np.zeros(N_FEATURES, dtype=np.float32)
        self.retries = 0

    @classmethod
    def create(cls) -> SharedState:
        shm = shared_memory.SharedMemory(create=True, size=8 * _FLOATS + PARAMS_BYTES)
        state = cls(shm, owner=True)
        state._f[:] = 0.0
        return state

    @classmethod
    def attach(cls, name: str) -> SharedState:
        return cls(attach(name), owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

    # --- engine side -------------------------------------------------------------------------
    def publish(self, time_seconds: float, features: np.ndarray, beats: int, onsets: int, latent: np.ndarray,
                params: Mapping[str, object] | None = None, controls: np.ndarray | None = None) -> None:
        """Write one update; `params` only when they changed (re-encoded as JSON, rarely); `controls`: the
        VISUAL_MODULATED values as the audio graph smoothed and modulated them (they override params)."""
        payload = json.dumps(dict(params)).encode() if params is not None else None
        if payload is not None and len(payload) > PARAMS_BYTES:
            raise ValueError(f"visual parameters take {len(payload)} bytes, more than {PARAMS_BYTES}")
        f = self._f
        n = min(latent.shape[0], MAX_LATENT)
        f[_SEQ] += 1
        f[_TIME], f[_ROWS], f[_BEATS], f[_ONSETS] = time_seconds, f[_ROWS] + 1, beats, onsets
        f[_FEATURES:_LATENT] = features
        f[_LATENT_N] = n
        f[_LATENT:_LATENT + n] = latent[:n]
        if controls is not None:
            f[_CONTROLS:_ENGINE_END] = controls
            f[_HAS_CONTROLS] = 1.0
        if payload is not None:
            self._bytes[: len(payload)] = np.frombuffer(payload, dtype=np.uint8)
            f[_PARAMS_LEN] = len(payload)
            f[_PARAMS_VERSION] += 1
        f[_SEQ] += 1

    def heartbeat_age(self) -> float:
        beat = self._f[_HEARTBEAT]
        return float("inf") if beat == 0.0 else time.monotonic() - beat

    @property
    def visual_frames(self) -> int:
        return int(self._f[_FRAMES])

    @property
    def render_ms(self) -> float:
        return float(self._f[_RENDER_MS])

    @property
    def visual_pid(self) -> int:
        return int(self._f[_PID])

    # --- visual side ---------------------------------------------------------------------------
    def read(self, attempts: int = 100) -> EngineState | None:
        f = self._f
        for attempt in range(attempts):
            if attempt >= 10:  # the writer was preempted inside publish: let it finish
                time.sleep(0.0002)
            seq = f[_SEQ]
            if int(seq) & 1:
                self.retries += 1
                continue
            header = f[:_FEATURES].copy()
            features = f[_FEATURES:_LATENT].astype(np.float32)
            controls = f[_CONTROLS:_ENGINE_END].copy() if header[_HAS_CONTROLS] else None
            latent = f[_LATENT:_LATENT + int(header[_LATENT_N])].astype(np.float32)
            version = int(header[_PARAMS_VERSION])
            raw = self._bytes[: int(header[_PARAMS_LEN])].tobytes() if version != self._params_version else None
            if f[_SEQ] != seq:
                self.retries += 1
                continue
            if raw is not None:
                self._params, self._params_version = json.loads(raw) if raw else {}, version
            params = self._params
            if controls is not None:
                params = {**params, **dict(zip(VISUAL_MODULATED, controls.tolist(), strict=True))}
            return EngineState(float(header[_TIME]), int(header[_ROWS]), int(header[_BEATS]), int(header[_ONSETS]),
                               features, latent, version, params)
        return None

    def beat(self, frames: int, render_ms: float, pid: int) -> None:
        """The visual process's heartbeat, once per frame."""
        self._f[_FRAMES] = frames
        self._f[_RENDER_MS] = render_ms
        self._f[_PID] = pid
        self._f[_HEARTBEAT] = time.monotonic()

    def touch(self) -> None:
        """Alive, between frames."""
        self._f[_HEARTBEAT] = time.monotonic()

    def clear_heartbeat(self) -> None:
        self._f[_HEARTBEAT] = 0.0

    def close(self) -> None:
        del self._f, self._bytes
        self.shm.close()
        if self.owner:
            self.shm.unlink()
