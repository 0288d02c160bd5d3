"""A remote visual node (`visuals serve`): the visual process on its own host, fed by an engine over UDP.

It runs the same visual process as `live --visuals` (spawned, with its spare and watchdog:
engine/visual/host.py) and hands it the same things through the same shared memory: each feature
row with the model's latent, the modulated visual controls, beat and onset counts, and the visual
parameters (theme and generator changes included). Only the road differs: rows come over OSC/UDP,
before their audio is heard, and wait in a jitter buffer (playout.py) until the moment the engine's
audio clock reaches them, mapped onto this host's clock by continuous ping/pong (clock_sync.py).

One thread does the network and the schedule: it sleeps in `select` until a packet comes or the next
row is due, hands due rows to the visual process, and pings the engine four times a second. The
node waits for an engine as long as it takes, says in one line when one starts sending, when it
falls silent and when it is back, and follows an engine that restarted (a new session id: counts,
clocks and times start again, and frame times keep rising so a recording stays in order).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.analysis.features import N_FEATURES
from engine.control.osc_codec import OscPacketError, parse_packet
from engine.remote.clock_sync import ClockSync
from engine.remote.playout import PlayoutBuffer
from engine.remote.protocol import (
    FRAME,
    MAX_DATAGRAM,
    PARAMS,
    PONG,
    FrameRow,
    ProtocolError,
    decode_doubles,
    decode_frame,
    decode_params,
    encode_ping,
)
from engine.visual.host import VisualHost
from engine.visual.process_main import VisualConfig

log = logging.getLogger(__name__)

PING_SECONDS = 0.25
SILENT_SECONDS = 2.0
MAX_WAIT_SECONDS = 0.05
RECEIVE_BUFFER_BYTES = 1 << 20  # the kernel caps it (net.core.rmem_max)
SHOWN_WINDOW = 4096  # rows whose hand-over time the report summarises: the last 48 s
ROW_SECONDS = 558 / 48000  # one analysis hop: the gap kept between two engine sessions' times


@dataclass
class NodeConfig:
    host: str = "0.0.0.0"
    port: int = 9100
    generator: str = "cppn"
    theme: str = "nebula"
    size: tuple[int, int] = (512, 512)
    seed: int = 0
    generator_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # per generator name
    spare: bool = True
    playout_floor_ms: float = 0.0


class VisualNode:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self._sock = socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((config.host, config.port))
        except OSError as exc:
            self._sock.close()
            raise ValueError(f"--listen {config.host}:{config.port}: cannot listen there ({exc.strerror or exc})") from None
        self._sock.setblocking(False)
        with contextlib.suppress(OSError):  # room for a few seconds of rows while this host is busy
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.address = self._sock.getsockname()[:2]
        width, height = config.size
        self.host = VisualHost(VisualConfig(generator=config.generator, width=width, height=height,
                                            theme=config.theme, seed=config.seed,
                                            generator_options=dict(config.generator_options.get(config.generator, {}))),
                               spare=config.spare, on_error=lambda line: log.error("%s", line))
        self.sync = ClockSync()
        self.playout = PlayoutBuffer(config.playout_floor_ms / 1000.0)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="node-link", daemon=True)
        self.engine: tuple[str, int] | None = None
        self.engine_state = "waiting"  # waiting, here, silent
        self.session = 0
        self._last_heard = 0.0
        self._ping_seq = 0
        self._next_ping = 0.0
        self._params: dict[str, object] = {}
        self._params_version = -1
        self._params_dirty = False
        self._engine_counts = (0, 0)  # the engine's running counts in the last row shown
        self._time_shift: float | None = 0.0  # node time = timeline seconds + this (None: set by the next row)
        self._beats = self._onsets = 0
        self._last_time = 0.0
        self._max_seq = 0
        self._generator_wanted = config.generator
        self._engine_generator: str | None = None  # the engine's /visual/generator as last seen
        self._shown_lateness: deque[float] = deque(maxlen=SHOWN_WINDOW)
        self.stats_counts = {"packets": 0, "bad_packets": 0, "rows": 0, "rows_lost": 0, "rows_reordered": 0,
                             "rows_shown": 0, "sessions": 0, "pongs": 0, "link_errors": 0}

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> VisualNode:
        self.host.start()
        self._thread.start()
        log.warning("visual node: listening on %s:%d, waiting for an engine (live --visual-remote HOST:%d); "
                    "frames in shared memory %s", self.address[0], self.address[1], self.address[1],
                    self.host.frames.name)
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._sock.close()
        self.host.stop()

    def tick(self) -> None:
        """From the main thread: follow `/visual/generator` when the engine changes it during the set (a switch
        spawns a process: not on the link thread). The engine's first value is not a change: the node's own
        `--generator` stands until then, since the weights live here, not on the engine's machine."""
        wanted = self._params.get("/visual/generator")
        if not isinstance(wanted, str) or wanted == self._engine_generator:
            return
        first, self._engine_generator = self._engine_generator is None, wanted
        if not first and wanted != self._generator_wanted:
            self._generator_wanted = wanted
            options = self.config.generator_options.get(wanted, {})
            if wanted in ("diffusion", "texture") and not options:
                log.error("the engine asks for the %s generator; this node was started without its weights "
                          "(--visual-model / --visual-vae): staying on %s", wanted, self.host.config.generator)
                return
            log.warning("visual node: switching to the %s generator", wanted)
            self.host.switch_generator(wanted, dict(options))

    # --- the link thread ------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._halt.is_set():
            try:
                self._step()
            except Exception:  # the link must outlive any surprise: the picture keeps going
                self.stats_counts["link_errors"] += 1
                log.exception("visual node link")
                time.sleep(MAX_WAIT_SECONDS)

    def _engine_now(self) -> float | None:
        return time.time() + self.sync.offset if self.sync.synced else None

    def _step(self) -> None:
        wait = self.playout.seconds_to_next(self._engine_now())
        wait = MAX_WAIT_SECONDS if wait is None else min(MAX_WAIT_SECONDS, max(0.0, wait))
        ready, _, _ = select.select([self._sock], [], [], wait)
        if ready:
            self._receive()
        row = self.playout.due(self._engine_now())
        if row is not None:
            self._publish(row)
        now = time.monotonic()
        if self.engine is not None and now >= self._next_ping:
            self._next_ping = now + PING_SECONDS
            self._ping_seq += 1
            with contextlib.suppress(OSError):  # unreachable just now: the next ping tries again
                self._sock.sendto(encode_ping(self._ping_seq, time.time(), self.host.state.visual_frames),
                                  self.engine)
        self._watch(now)

    def _receive(self) -> None:
        while True:
            try:
                data, source = self._sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error from an earlier ping to an engine that had gone
            arrived = time.time()
            self.stats_counts["packets"] += 1
            try:
                messages, _ = parse_packet(data)
                for message in messages:
                    self._handle(message, source, arrived)
            except (OscPacketError, ProtocolError):
                self.stats_counts["bad_packets"] += 1

    def _handle(self, message: Any, source: tuple[str, int], arrived: float) -> None:
        if message.address == FRAME:
            row = decode_frame(message, N_FEATURES)
            self._heard_from(source, row.session)
            self._count_sequence(row.seq)
            self.stats_counts["rows"] += 1
            self.playout.add(row, arrived + self.sync.offset if self.sync.synced else None)
        elif message.address == PARAMS:
            session, version, params = decode_params(message)
            self._heard_from(source, session)
            if version != self._params_version:
                self._params_version, self._params, self._params_dirty = version, params, True
        elif message.address == PONG:
            seq, (t1, t2, t3), _ = decode_doubles(message, 3)
            if seq <= self._ping_seq:
                self.sync.add(t1, t2, t3, arrived)
                self.stats_counts["pongs"] += 1
        else:
            raise ProtocolError(f"unknown address {message.address}")

    def _heard_from(self, source: tuple[str, int], session: int) -> None:
        self._last_heard = time.monotonic()
        self.engine = (source[0], source[1])
        if session != self.session:
            self._new_session(session)

    def _new_session(self, session: int) -> None:
        """An engine started (or restarted): its counts and times begin again, ours carry on."""
        first = self.session == 0
        self.session = session
        self.stats_counts["sessions"] += 1
        self.playout.clear()
        self.sync.reset()
        self._next_ping = 0.0  # sync again at once
        self._engine_counts = (0, 0)
        self._time_shift = 0.0 if first else None  # after a restart, frame times keep rising
        self._max_seq = 0
        self._params_version = -1
        host, port = self.engine or ("?", 0)
        log.warning("visual node: engine %s:%d %s (session %d)", host, port,
                    "is sending" if first else "started again", session)
        self.engine_state = "here"

    def _count_sequence(self, seq: int) -> None:
        if seq > self._max_seq:
            self.stats_counts["rows_lost"] += max(0, seq - self._max_seq - 1)
            self._max_seq = seq
        else:  # a packet overtaken by a later one: counted lost when the gap appeared, it was not
            self.stats_counts["rows_reordered"] += 1
            self.stats_counts["rows_lost"] = max(0, self.stats_counts["rows_lost"] - 1)

    def _publish(self, row: FrameRow) -> None:
        if self._time_shift is None:
            self._time_shift = self._last_time + ROW_SECONDS - row.time
        beats, onsets = self._engine_counts
        self._beats += max(0, row.beats - beats)
        self._onsets += max(0, row.onsets - onsets)
        self._engine_counts = (row.beats, row.onsets)
        self._last_time = row.time + self._time_shift
        params = None
        if self._params_dirty:
            self._params_dirty = False
            params = self._params
        self.host.publish(self._last_time, row.features, self._beats, self._onsets, row.latent, params,
                          row.controls)
        self.stats_counts["rows_shown"] += 1
        if self.sync.synced:  # how far from its moment the row reached the visual process (engine clock)
            self._shown_lateness.append(time.time() + self.sync.offset - row.heard_at)

    def _watch(self, now: float) -> None:
        if self.engine_state == "here" and now - self._last_heard > SILENT_SECONDS:
            self.engine_state = "silent"
            log.warning("visual node: the engine fell silent; showing the last picture, waiting for it")
        elif self.engine_state == "silent" and now - self._last_heard <= SILENT_SECONDS:
            self.engine_state = "here"
            log.warning("visual node: the engine is back")

    def stats(self) -> dict[str, object]:
        return {**self.stats_counts, "listen": f"{self.address[0]}:{self.address[1]}",
                "engine": f"{self.engine[0]}:{self.engine[1]}" if self.engine else None,
                "engine_state": self.engine_state, "frames": self.host.state.visual_frames,
                "render_ms": round(self.host.state.render_ms, 2), "late_rows": self.playout.late,
                "clock_offset_ms": round(self.sync.offset * 1000.0, 3),
                "round_trip_ms": round(self.sync.delay * 1000.0, 3),
                "playout_delay_ms": round(self.playout.delay * 1000.0, 2),
                "arrival_lateness_ms": self.playout.lateness_ms(), "shown_lateness_ms": self._shown_summary(),
                "visuals": self.host.stats()}

    def _shown_summary(self) -> dict[str, float]:
        """Rows handed to the visual process after their audio was heard, in ms (negative: early)."""
        if not self._shown_lateness:
            return {}
        values = np.asarray(self._shown_lateness) * 1000.0
        return {"median": round(float(np.median(values)), 2), "p95": round(float(np.quantile(values, 0.95)), 2)}

