"""`/rave/model/b PATH`: a second model beside the playing one, loaded and timed off the audio path.

The path is confined like `/rave/model`'s. The model is loaded, warmed up and its decode timed on one
thread at one frame per call (model_policy), and refused with the measured costs when the two models
together would not keep real time with headroom (real-time factors summed against HEADROOM_FACTOR:
both decode on the one render thread). Accepted, it is offered to the newest render graph, which fades
it in; `/rave/model/b off` (or empty) fades it out and unloads it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from engine.errors import EngineError, ModelLoadError
from engine.params.store import ParamStore
from engine.render.graph import RenderGraph
from engine.render.second_model import OFF_REQUESTS, SecondModel
from engine.session.confined_paths import MODEL_ROOTS, resolve_confined
from engine.session.decode_choice import HEADROOM_FACTOR
from engine.session.model_policy import ModelTiming, load_playable

ADDRESS = "/rave/model/b"


def check_pair_budget(playing: ModelTiming, second: ModelTiming, name: str) -> None:
    """Refuse a second model when both decodes together leave no headroom on the render thread."""
    total = playing.realtime_factor + second.realtime_factor
    if total > HEADROOM_FACTOR:
        raise ModelLoadError(
            f"{ADDRESS}: {name} refused: its decode takes {second.decode_ms_median:.1f} ms per call "
            f"(real-time factor {second.realtime_factor:.2f}) beside the playing model's "
            f"{playing.realtime_factor:.2f}: {total:.2f} together, above {HEADROOM_FACTOR} "
            "(real time with headroom on this machine)")


class SecondModelLoader:
    def __init__(self, store: ParamStore, graph: Callable[[], RenderGraph], timing: Callable[[], ModelTiming], *,
                 allowed_dirs: Sequence[Path], seed: int, on_error: Callable[[str], None],
                 before_load: Callable[[], None] = lambda: None,
                 after_load: Callable[[], None] = lambda: None) -> None:
        """`graph()`: the newest render graph; `timing()`: the playing model's decode timing."""
        self.store = store
        self._graph = graph
        self._timing = timing
        self.allowed_dirs = list(allowed_dirs)
        self.seed = seed
        self._on_error = on_error
        self._before_load, self._after_load = before_load, after_load
        self._request = ""
        self._loading: threading.Thread | None = None
        self.timing: ModelTiming | None = None  # model B's, once playing

    def poll(self) -> None:
        """From the session's housekeeping: start a load (or an unload) when the address changed."""
        request = str(self.store.get(ADDRESS))
        if request != self._request and self._loading is None:
            self._request = request
            self._loading = threading.Thread(target=self._load, args=(request,), name="model-b", daemon=True)
            self._loading.start()

    @property
    def loading(self) -> bool:
        return self._loading is not None

    def forget(self) -> None:
        """B was unloaded by someone else (a swap to a model it does not fit beside): the next request
        for the same file loads it again."""
        self.timing = None
        self._request = ""

    @property
    def name(self) -> str:
        slot = getattr(self._graph(), "second", None)  # an effect graph (--method) has no model B
        return slot.name if slot is not None else ""

    def _load(self, request: str) -> None:
        torch.set_num_threads(1)
        try:
            if request in OFF_REQUESTS:
                self._graph().second.offer(None)
                self.timing = None
                return
            path = resolve_confined(request, ADDRESS, MODEL_ROOTS, self.allowed_dirs)
            self._before_load()
            try:
                model, timing = load_playable(path, frames_per_call=1, threads=1)
            finally:
                self._after_load()
            check_pair_budget(self._timing(), timing, path.name)
            voice = SecondModel(model, seed=self.seed)
            self._graph().second.offer(voice)
            self.timing = timing
        except EngineError as exc:
            self._on_error(str(exc))
        finally:
            self._loading = None
