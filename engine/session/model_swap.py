"""Live model swaps (`/rave/model PATH`): confine the path, load and time the model off the audio
path, and hand the decoder a new graph that crossfades in on the playing graph's timeline. A model of
another latent size brings its own parameter table (engine/session/table_change.py). With
/launch/quantize (or the request's own quantize) the model loads at once and the crossfade starts on
the next grid line after it is ready: the new graph takes up the timeline at that line."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine.audio.decoder import Decoder
from engine.control.launcher import Launcher
from engine.errors import EngineError
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph
from engine.session.confined_paths import MODEL_ROOTS, resolve_confined
from engine.session.model_policy import ModelTiming, load_playable
from engine.session.table_change import TableChange, commit_table

# Audio queued ahead while a model loads for a swap: torch.jit.load holds the GIL throughout (tens of
# ms for a small model, more for a large one), so the decoder thread cannot run until it returns.
SWAP_HEADROOM_SECONDS = 0.25

Swapped = Callable[[NNModel, ModelTiming], None]


def resolve_model_path(request: str, allowed_dirs: list[Path]) -> Path:
    """A relative path names a file inside models/; an absolute one must sit under an allowed folder."""
    return resolve_confined(request, "/rave/model", MODEL_ROOTS, allowed_dirs)


class ModelSwapper:
    def __init__(self, decoder: Decoder, store: ParamStore, *, seed: int, samplerate: int, headroom_frames: int,
                 allowed_dirs: list[Path], on_swapped: Swapped, on_error: Callable[[str], None],
                 frames_per_call: int | None = None, threads: int | None = None,
                 on_table_changed: Callable[[TableChange], None] | None = None,
                 keep_second: Callable[[ModelTiming], bool] = lambda _: True,
                 launcher: Launcher | None = None) -> None:
        """`keep_second(timing)`: whether model B (/rave/model/b) may stay beside a model of this timing."""
        self.decoder = decoder
        self.store = store
        self.seed = seed
        self.samplerate = samplerate
        self.headroom_frames = headroom_frames
        self.allowed_dirs = allowed_dirs
        # Swaps are timed on one thread unless the user chose: two would take the playing decoder's core.
        self.decode_overrides = {"frames_per_call": frames_per_call, "threads": threads or 1}
        self._on_swapped = on_swapped
        self._on_error = on_error
        self._on_table_changed = on_table_changed
        self._keep_second = keep_second
        self._launcher = launcher
        self._request = ""
        self._loading: threading.Thread | None = None

    def poll(self) -> None:
        """From the session's housekeeping: start loading when `/rave/model` names a new file."""
        request = str(self.store.get("/rave/model"))
        if request and request != self._request and self._loading is None:
            self._request = request
            self._loading = threading.Thread(target=self._load_and_swap, args=(request,), name="model-swap",
                                             daemon=True)
            self._loading.start()

    @property
    def loading(self) -> bool:
        """A requested model is being loaded and timed (the swap has not happened yet)."""
        return self._loading is not None

    def queue_headroom(self, timeout: float = 1.0) -> None:
        """Have the decoder queue the swap headroom beyond its target, and wait (bounded) until it has:
        a model load that holds the GIL then plays out of the queue. `release_headroom` ends it."""
        self.decoder.headroom_frames = self.headroom_frames
        deadline = time.monotonic() + timeout
        while (self.decoder.ring.read_available < self.decoder.fill_target - self.decoder.blocksize
               and time.monotonic() < deadline and self.decoder.is_alive()):
            time.sleep(0.005)

    def release_headroom(self) -> None:
        self.decoder.headroom_frames = 0

    def _swap_on_grid(self, graph: RenderGraph, name: str) -> None:
        """Crossfade to `graph` now, or at the grid line the launcher names (this thread waits for it)."""
        launcher = self._launcher
        if launcher is None or not launcher.switch_waits("/rave/model"):
            self.decoder.swap(graph)
            return
        landed = threading.Event()

        def land(now: float) -> None:  # the render thread, at the frame nearest the line
            graph.frame_index = round(now / graph.frame_seconds)
            self.decoder.swap(graph)
            landed.set()

        launcher.switch("/rave/model", f"model:{name}", land)
        while not landed.wait(0.05) and self.decoder.is_alive():
            pass

    def _load_and_swap(self, request: str) -> None:
        try:
            path = resolve_model_path(request, self.allowed_dirs)
            self.queue_headroom()
            model, timing = load_playable(path, **self.decode_overrides)
            playing = self.decoder.graph
            if not isinstance(playing, RenderGraph):
                raise EngineError(f"/rave/model: {path.name}: an audio method plays (--method); restart to swap")
            assert model.latent_size is not None
            resized = model.latent_size != playing.model.latent_size
            # Another latent size needs another table: the graph is built against a staging store with
            # that table (its indices), and joins the live store once it has switched (commit_table).
            store = ParamStore(build_param_table(model.latent_size)) if resized else self.store
            graph = RenderGraph(model, store, seed=self.seed, output_rate=self.samplerate,
                                timeline=playing.timeline, start_seconds=playing.handed_out_seconds,
                                analysis=playing.analysis, live_swap=True, frames_per_call=timing.frames_per_call)
            change = commit_table(self.store, playing, graph) if resized else None
            if self._keep_second(timing):  # model B carries on beside the new model, if both fit
                playing.second.hand_over(graph.second)
            else:
                playing.second.offer(None)
            self._swap_on_grid(graph, path.name)
            self._on_swapped(model, timing)
            if change is not None and self._on_table_changed is not None:
                self._on_table_changed(change)
        except EngineError as exc:
            self._on_error(str(exc))
        finally:
            self.release_headroom()
            self._loading = None
