"""The feed to a remote visual node: every analysis row as soon as it is rendered, stamped with the
moment its audio will be heard.

The local visual process gets each row when its audio is heard (feed.py). A node across a network
gets it earlier: the decoder renders a lookahead (40-500 ms) ahead of the speaker, so a row sent as
soon as it exists usually reaches the node before its moment, and the node can show it on time
(the time tag says when). This tap runs on the feed thread, once per poll, before the feed takes the
rows that are due: it copies the render graph's queues (one C-level copy each, no lock), sends what
it has not sent yet, with the latent of the frame the row belongs to and running beat and onset
counts, and the visual parameters when they change. It hands everything to the sender, which never
waits; nothing here runs on the audio threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from engine.analysis.features import INDEX
from engine.params.store import ParamStore
from engine.remote.protocol import FrameRow
from engine.remote.sender import RemoteVisualSender, new_session_id
from engine.render.graph import RenderGraph
from engine.session.feed import VISUAL_PREFIXES

log = logging.getLogger(__name__)


class RemoteVisualTap:
    def __init__(self, graph: Callable[[], RenderGraph], store: ParamStore, audio_time: Callable[[float], float],
                 senders: list[RemoteVisualSender], session: int) -> None:
        """`audio_time(wall)`: the timeline seconds reaching the speaker at unix time `wall`. Every sender
        (one per node) gets the same rows, numbered once."""
        self._graph = graph
        self._store = store
        self._audio_time = audio_time
        self.senders = senders
        self.session = session
        self._seq = 0
        self._graph_id = 0
        self._last_time = -np.inf
        self._latent = np.zeros(0, dtype=np.float32)
        self._controls: np.ndarray | None = None
        self._beats = 0
        self._onsets = 0
        self._version = -1
        self._sent_params: dict[str, object] | None = None
        self.errors = 0

    def poll(self) -> None:
        try:
            self._poll()
        except Exception:  # a surprise here must not stop the local feed that calls it
            self.errors += 1
            if self.errors == 1:
                log.exception("visual remote tap")

    def _poll(self) -> None:
        graph = self._graph()
        if id(graph) != self._graph_id:  # a model swap: a new graph with its own queues
            self._graph_id, self._last_time = id(graph), -np.inf
        self._follow_params()
        rows = [r for r in list(graph.analysis.pending) if r[0] > self._last_time]
        if not rows:
            return
        latents = list(graph.latents_pending)
        wall = time.time()
        heard_offset = wall - self._audio_time(wall)  # unix time = timeline seconds + this
        k = 0
        for seconds, row in rows:
            while k < len(latents) and latents[k][0] <= seconds + 1e-9:  # the frame this row belongs to
                _, self._latent, self._controls = latents[k]
                k += 1
            self._beats += int(row[INDEX["beat"]] > 0.5)
            self._onsets += int(row[INDEX["onset"]] > 0.5)
            self._seq += 1
            frame = FrameRow(self.session, self._seq, seconds, seconds + heard_offset, self._beats, self._onsets,
                             row, self._latent, self._controls)
            for sender in self.senders:
                sender.offer_row(frame)
        self._last_time = rows[-1][0]

    def _follow_params(self) -> None:
        snapshot = self._store.snapshot()
        if snapshot.version == self._version:
            return
        self._version = snapshot.version
        visual = {a: v for a, v in snapshot.values.items() if a.startswith(VISUAL_PREFIXES)}
        if visual != self._sent_params:
            self._sent_params = visual
            for sender in self.senders:
                sender.offer_params(visual)

    def stop(self) -> None:
        for sender in self.senders:
            sender.stop()

    def stats(self) -> list[dict[str, object]]:
        return [sender.stats() for sender in self.senders]


def start_remote_visuals(targets: list[str], graph: Callable[[], RenderGraph], store: ParamStore,
                         audio_time: Callable[[float], float], *,
                         on_event: Callable[[str], None] | None = None) -> RemoteVisualTap:
    """`live --visual-remote HOST:PORT` (repeatable: one sender per node), started, and the tap the feed calls."""
    from engine.errors import ParamError
    from engine.remote.protocol import parse_host_port

    session = new_session_id()
    senders: list[RemoteVisualSender] = []
    try:
        for target in targets:
            host, port = parse_host_port(target, "--visual-remote")
            senders.append(RemoteVisualSender(host, port, session=session, on_event=on_event))
    except ValueError as exc:
        for sender in senders:
            sender.stop()
        raise ParamError(str(exc)) from None
    for sender in senders:
        sender.start()
        log.warning("sending the visuals to the node at %s (OSC/UDP)", sender.target)
    return RemoteVisualTap(graph, store, audio_time, senders, session)
