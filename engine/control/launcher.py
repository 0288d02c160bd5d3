"""Quantised launches from every surface: scene and slot recalls, theme switches, model and reference swaps.

`/launch/quantize` (off, beat, bar, 2bar, 4bar) says which line of the beat grid a launch waits for; a
launch message's optional last argument overrides it for that launch. A quantised launch goes to the
playing timeline's queue (engine/render/launch_queue.py) and lands on the render frame nearest its grid
line; with quantize off, or with no engine playing, it runs at once as before.

Model and reference swaps load as soon as they are asked for (a load takes longer than a beat); only the
switch waits: `remember` notes the quantize of the request, and the loader calls `switch` when its
model or loop is ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.errors import ParamError
from engine.params.param import Value
from engine.params.store import ParamStore
from engine.params.table import QUANTIZE_BEATS, VISUAL_MODULATED
from engine.render.launch_queue import Launch
from engine.render.timeline import Timeline

QUANTIZE_ADDRESS = "/launch/quantize"
# Parameters whose write is a launch (the OSC message may carry a quantize argument after the value).
LAUNCH_ADDRESSES = ("/visual/theme", "/rave/model", "/rave/reference/a", "/rave/reference/b")
SWITCHED_ON_LOAD = ("/rave/model", "/rave/reference/a", "/rave/reference/b")


def check_quantize(text: object) -> str:
    """A quantize argument as given on a launch message; ParamError naming the choices otherwise."""
    if not isinstance(text, str) or text not in QUANTIZE_BEATS:
        raise ParamError(f"quantize {text!r} is not one of {', '.join(QUANTIZE_BEATS)}")
    return text


def heard_part(address: str) -> bool:
    """Values the visual process reads as parameters (not with each audio frame): they switch when heard."""
    return address.startswith("/visual/") and address not in VISUAL_MODULATED


class Launcher:
    def __init__(self, store: ParamStore, timeline: Callable[[], Timeline | None],
                 audio_time: Callable[[float], float] | None) -> None:
        self.store = store
        self._timeline = timeline
        self._audio_time = audio_time
        self._switch_quantize: dict[str, str | None] = {}

    def quantum_beats(self, quantize: str | None) -> float:
        return QUANTIZE_BEATS[check_quantize(quantize if quantize is not None else self.store.get(QUANTIZE_ADDRESS))]

    def launch(self, label: str, quantize: str | None = None, *, audio: Callable[[float], None] | None = None,
               heard: Callable[[], None] | None = None) -> bool:
        """Run `audio` (render thread, given the frame time) and `heard` (visual part) on the next grid line,
        or now when unquantised or nothing plays; True when it waits for the grid."""
        quantum = self.quantum_beats(quantize)
        timeline = self._timeline()
        if quantum <= 0 or timeline is None:
            if audio is not None:
                audio(timeline.now if timeline is not None else 0.0)
            if heard is not None:
                heard()
            return False
        earliest = self._audio_time(time.time()) if self._audio_time is not None else timeline.now
        timeline.launches.add(Launch(label, quantum, earliest, audio, heard))
        return True

    def launch_values(self, label: str, values: dict[str, Value], quantize: str | None, *,
                      morph_seconds: float = 0.0) -> bool:
        """Set `values` on the grid: audio values from the landing frame (gliding over `morph_seconds`),
        the visual process's own parameters when that frame is heard."""
        audio_values = {a: v for a, v in values.items() if not heard_part(a)}
        visual_values = {a: v for a, v in values.items() if heard_part(a)}
        timeline = self._timeline()

        def audio(_: float) -> None:
            if timeline is not None and morph_seconds > 0:
                timeline.morph_now(audio_values, morph_seconds)  # started by the same frame's advance
            else:
                self.store.set_many(audio_values)

        return self.launch(label, quantize, audio=audio if audio_values else None,
                           heard=(lambda: self.store.set_many(visual_values)) if visual_values else None)

    # --- loads: asked for now, switched on the grid -----------------------------------------
    def remember(self, address: str, quantize: str | None) -> None:
        """A model or reference request's own quantize (None: /launch/quantize when it is ready)."""
        self._switch_quantize[address] = None if quantize is None else check_quantize(quantize)

    def switch_waits(self, address: str) -> bool:
        """Whether the switch to what was asked for at `address` will wait for the grid."""
        return self._timeline() is not None and self.quantum_beats(self._switch_quantize.get(address)) > 0

    def switch(self, address: str, label: str, audio: Callable[[float], None]) -> bool:
        """From a loader: switch to what it loaded on the next grid line (now when unquantised)."""
        return self.launch(label, self._switch_quantize.pop(address, None), audio=audio)
