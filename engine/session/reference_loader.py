"""References loaded live (`/rave/reference/a PATH`, `/rave/reference/b PATH`): sources ref1 and ref2.

A loader thread confines the path (models/, presets/, --allow-model-dir), reads the file and encodes it
with its own instance of the playing model (the playing one's streaming state belongs to the render
thread), then offers the latent loop to the newest render graph, which glides it in (on the next grid line
after it is encoded, with /launch/quantize or the request's own quantize). Nothing here
blocks the render thread or the callback. A model swap re-encodes every loaded reference with the
new model. Errors (missing file, not audio, outside the folders) go to `on_error`; the set plays on.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from engine.control.launcher import Launcher
from engine.errors import EngineError
from engine.latent.reference import encode_reference
from engine.latent.sources import ReferenceLoop
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.render.graph import RenderGraph
from engine.render.offline import REFERENCE_ADDRESSES
from engine.render.second_model import OFF_REQUESTS
from engine.session.confined_paths import AUDIO_ROOTS, resolve_confined

ErrorHandler = Callable[[str, str], None]  # (address, message)


class ReferenceLoader:
    def __init__(self, store: ParamStore, graph: Callable[[], RenderGraph], *, allowed_dirs: Sequence[Path],
                 on_error: ErrorHandler, before_load: Callable[[], None] = lambda: None,
                 after_load: Callable[[], None] = lambda: None, launcher: Launcher | None = None) -> None:
        """`graph()` gives the graph a loaded reference belongs to (the newest); `before_load` /
        `after_load` bracket a model load (it holds the GIL: the decoder queues headroom first)."""
        self.store = store
        self._graph = graph
        self.allowed_dirs = list(allowed_dirs)
        self._on_error = on_error
        self._before_load, self._after_load = before_load, after_load
        self._launcher = launcher
        self._requested = {address: "" for address in REFERENCE_ADDRESSES.values()}
        self._queue: deque[tuple[str, str, str]] = deque()  # (source name, address, request)
        self._thread: threading.Thread | None = None
        self._encoder: NNModel | None = None
        self.loaded: dict[str, str] = {}  # source name -> file it plays (for status and tests)

    def poll(self) -> None:
        """From the session's housekeeping: queue what changed, start the loader when idle."""
        for name, address in REFERENCE_ADDRESSES.items():
            request = str(self.store.get(address))
            if request != self._requested[address]:
                self._requested[address] = request
                self._queue.append((name, address, request))
        if self._queue and self._thread is None:
            self._thread = threading.Thread(target=self._work, name="reference-loader", daemon=True)
            self._thread.start()

    @property
    def loading(self) -> bool:
        return self._thread is not None or bool(self._queue)

    def model_changed(self) -> None:
        """A new model plays: its latent space is another, so every loaded reference is encoded again."""
        for name, address in REFERENCE_ADDRESSES.items():
            if self._requested[address] not in OFF_REQUESTS:
                self._queue.append((name, address, self._requested[address]))

    def _work(self) -> None:
        torch.set_num_threads(1)  # this thread's own setting: the decoder keeps its core
        try:
            while self._queue:
                name, address, request = self._queue.popleft()
                try:
                    self._load(name, address, request)
                except EngineError as exc:
                    self._on_error(address, str(exc))
        finally:
            self._thread = None

    def _load(self, name: str, address: str, request: str) -> None:
        graph = self._graph()
        if request in OFF_REQUESTS:
            self._offer(graph, address, name, None)
            self.loaded.pop(name, None)
            return
        path = resolve_confined(request, address, AUDIO_ROOTS, self.allowed_dirs)
        encoder = self._encoder_for(graph.model.path)
        loop = encode_reference(encoder, path, name)
        if self._graph() is not graph:  # a model swap came in meanwhile: model_changed() queued it again
            return
        self._offer(graph, address, name, loop)
        self.loaded[name] = str(path)

    def _offer(self, graph: RenderGraph, address: str, name: str, loop: ReferenceLoop | None) -> None:
        if self._launcher is None:
            graph.shaper.offer_reference(name, loop)
        else:  # the shaper takes it in the landing frame: the launch runs before the frame is built
            self._launcher.switch(address, f"{address} {'on' if loop else 'off'}",
                                  lambda _: graph.shaper.offer_reference(name, loop))

    def _encoder_for(self, model_path: Path) -> NNModel:
        if self._encoder is None or self._encoder.path != model_path:
            self._before_load()
            try:
                self._encoder = NNModel.load(model_path)
            finally:
                self._after_load()
        return self._encoder
