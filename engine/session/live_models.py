"""What a session loads live beside the playing model, and what it tells when the table changes.

`/rave/model/b` (second_model_loader.py) and `/rave/reference/a|b` (reference_loader.py) load off the
audio path; their errors become `/engine/error` and one log line each. After a swap across latent sizes
(table_change.py) OSC subscribers get `/engine/params_changed LATENT_SIZE ADDRESSES LOST` (re-read
`/engine/list` for the new addresses) and one `/engine/params_lost ADDRESS WHAT` per value that did
not carry over (at most MAX_LOST_LINES): values of vanished dimensions, targets that named them, and what
slots, the scene last recalled and MIDI/OSC map rows hold for them; and the log one line.
"""

from __future__ import annotations

import logging
import tomllib
from collections import deque
from typing import Protocol

from engine.audio.decoder import Decoder
from engine.control.hub import ControlHub
from engine.control.midi_input import MidiControl
from engine.control.osc_server import OscServer
from engine.errors import EngineError
from engine.params.store import ParamStore
from engine.presets.scenes import find_scene
from engine.render.graph import RenderGraph
from engine.session.config import SessionConfig
from engine.session.model_policy import ModelTiming
from engine.session.model_swap import ModelSwapper
from engine.session.reference_loader import ReferenceLoader
from engine.session.second_model_loader import ADDRESS as MODEL_B_ADDRESS
from engine.session.second_model_loader import SecondModelLoader, check_pair_budget
from engine.session.table_change import MAX_LOST_LINES, TableChange

log = logging.getLogger(__name__)


class _Session(Protocol):
    config: SessionConfig
    store: ParamStore
    hub: ControlHub
    decoder: Decoder
    timing: ModelTiming
    errors: deque[str]
    osc: OscServer | None
    midi: MidiControl | None


class LiveModels:
    def __init__(self, session: _Session, swapper: ModelSwapper) -> None:
        self.session = session

        def newest() -> RenderGraph:
            return session.decoder.newest_graph  # type: ignore[return-value]

        common = {"allowed_dirs": session.config.allowed_model_dirs, "before_load": swapper.queue_headroom,
                  "after_load": swapper.release_headroom}
        self.references = ReferenceLoader(session.store, newest, on_error=self._error,  # type: ignore[arg-type]
                                          launcher=session.hub.launcher, **common)  # type: ignore[arg-type]
        self.model_b = SecondModelLoader(session.store, newest, lambda: session.timing, seed=session.config.seed,
                                         on_error=lambda message: self._error(MODEL_B_ADDRESS, message),
                                         **common)  # type: ignore[arg-type]
        self.table_changes: list[TableChange] = []

    def poll(self) -> None:
        if not isinstance(self.session.decoder.graph, RenderGraph):
            return  # an audio method plays (--method): no latent sources, no second decoder
        self.references.poll()
        self.model_b.poll()

    def _scene_losses(self, vanished: frozenset[str]) -> list[tuple[str, str]]:
        """Per-dimension values of the scene last recalled that the new model has no address for (a
        recall then leaves them out, as it does for any scene written for a larger model)."""
        hub = self.session.hub
        if hub.scene == "-":
            return []
        try:
            path = find_scene(hub.scene, hub.scenes_dir)
            params = tomllib.loads(path.read_text()).get("params", {})
        except (EngineError, OSError, tomllib.TOMLDecodeError):
            return []  # a scene that no longer loads: its recall says so
        return [(address, f"scene {hub.scene}") for address in params if address in vanished]

    def stats(self) -> dict[str, object]:
        """For the status and `--report`: what plays beside the model, and every table change."""
        timing = self.model_b.timing
        return {"model_b": self.model_b.name if timing is not None else "",
                "model_b_realtime_factor": round(timing.realtime_factor, 4) if timing is not None else None,
                "references": dict(self.references.loaded),
                "table_changes": [{"latent_size": [c.old_size, c.new_size], "lost": len(c.lost)}
                                  for c in self.table_changes]}

    def model_changed(self) -> None:
        self.references.model_changed()

    def keeps_model_b(self, timing: ModelTiming) -> bool:
        """From a model swap: whether model B may stay beside a model of `timing`; when the two would
        not keep real time, B is unloaded (and `/rave/model/b` emptied) with an error saying why."""
        second = self.model_b.timing
        if second is None:
            return True
        try:
            check_pair_budget(timing, second, self.model_b.name or "model b")
        except EngineError as exc:
            self.model_b.forget()
            self.session.store.set(MODEL_B_ADDRESS, "")
            self._error(MODEL_B_ADDRESS, f"{exc}; model b unloaded at the swap")
            return False
        return True

    def _error(self, address: str, message: str) -> None:
        self.session.errors.append(message)
        self.session.hub.report_error("session", address, message)

    def table_changed(self, change: TableChange) -> None:
        """Add what the controllers and slots lose, then tell subscribers and the log."""
        session = self.session
        lost = [(address, f"slot {slot}") for slot, addresses in session.hub.slots.values_lost(
            set(change.vanished)).items() for address in addresses]
        if session.midi is not None:
            lost += [(m.address, f"MIDI {kind} {channel}/{number}")
                     for (kind, channel, number), m in session.midi.router.cmap.midi.items()
                     if not m.is_action and m.address in change.vanished]
        if session.osc is not None and session.osc.routes is not None:
            lost += [(m.address, f"OSC map {source}") for source, m in session.osc.routes.routes.items()
                     if not m.is_action and m.address in change.vanished]
        lost += self._scene_losses(change.vanished)
        change = change.with_lost(lost)
        self.table_changes.append(change)
        log.warning("model swap: %s", change.summary())
        if session.osc is not None:
            feedback = session.osc.feedback
            feedback.notice("/engine/params_changed", change.new_size, change.params, len(change.lost))
            for address, what in change.lost[:MAX_LOST_LINES]:
                feedback.notice("/engine/params_lost", address, what)
