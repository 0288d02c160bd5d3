"""`/rave/codebook PATH|off` and `/explore/atlas PATH` live: confine the path (confined_paths.py: in
models/ or presets/, or an --allow-model-dir folder, as reference audio), load the atlas and build
what the playing graph needs on a loader thread, then hand it over by reference (the render thread
never waits; the codebook fades in over 250 ms). Bad input (a path outside the
allowed folders, a file that is not an atlas, an atlas of another latent size) is reported and the
playing state stays."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from engine.errors import EngineError, ParamError
from engine.explore.atlas import Atlas
from engine.explore.codebook import Codebook
from engine.explore.loading import ATLAS_PATHS, load_checked, requested
from engine.explore.regions import AtlasRegions
from engine.params.store import ParamStore
from engine.render.effect_graph import EffectGraph
from engine.render.graph import RenderGraph
from engine.session.confined_paths import AUDIO_ROOTS, resolve_confined


class AtlasLoader:
    def __init__(self, store: ParamStore, graph: Callable[[], RenderGraph | EffectGraph], *,
                 allowed_dirs: list[Path], on_error: Callable[[str, str], None],
                 on_atlas: Callable[[Atlas | None, str], None]) -> None:
        """`graph()`: the playing graph; `on_error(address, message)`; `on_atlas(atlas, path)` when the
        navigated atlas changes (None: unloaded)."""
        self.store = store
        self._graph = graph
        self.allowed_dirs = allowed_dirs
        self._on_error = on_error
        self._on_atlas = on_atlas
        self._requested: dict[str, str | None] = dict.fromkeys(ATLAS_PATHS)
        self._loaded: dict[str, Atlas | None] = dict.fromkeys(ATLAS_PATHS)
        self._loading: threading.Thread | None = None
        self._attached: RenderGraph | EffectGraph | None = None  # the graph the loaded atlases were given to
        self.regions: AtlasRegions | None = None  # the navigated atlas's, for /explore/point

    @property
    def loading(self) -> bool:
        return self._loading is not None

    def poll(self) -> None:
        """From the session's housekeeping: give a graph that took over (a model swap, once its
        crossfade is done) the loaded atlases, and follow both addresses (one load at a time)."""
        if self._loading is not None:
            return
        graph = self._graph()
        if graph is not self._attached:
            self._attached = graph
            self.attach(graph)
        for address in ATLAS_PATHS:
            wanted = requested(self.store.get(address))
            if wanted == self._requested[address] or self._loading is not None:
                continue
            self._requested[address] = wanted
            if wanted is None:
                self._install(address, None, self._graph())
                continue
            self._loading = threading.Thread(target=self._load, args=(address, wanted), daemon=True,
                                             name="atlas-load")
            self._loading.start()

    def _load(self, address: str, request: str) -> None:
        try:
            graph = self._graph()
            if not isinstance(graph, RenderGraph):
                raise ParamError(f"{address}: the engine plays an audio method; the atlas steers decode's latents")
            path = resolve_confined(request, address, AUDIO_ROOTS, self.allowed_dirs)
            self._install(address, load_checked(path, graph.model.latent_size or 0, graph.model.path.name), graph)
            if address == "/explore/atlas":
                self._on_atlas(self._loaded[address], request)
        except EngineError as exc:
            self._on_error(address, str(exc))
        finally:
            self._loading = None

    def _install(self, address: str, atlas: Atlas | None, graph: RenderGraph | EffectGraph) -> None:
        """Build what `graph` plays from `atlas` (here, off the render thread) and hand it over."""
        self._loaded[address] = atlas
        if not isinstance(graph, RenderGraph):
            return
        statistics = graph.latent_statistics
        if address == "/rave/codebook":
            graph.explore.use_codebook(None if atlas is None else
                                       Codebook.from_atlas(atlas, *statistics, graph.frame_seconds))
        else:
            self.regions = None if atlas is None else AtlasRegions(atlas, *statistics)
            graph.explore.use_regions(self.regions)
            if atlas is None:
                self._on_atlas(None, "")

    def attach(self, graph: RenderGraph | EffectGraph) -> None:
        """A new graph plays: give it the loaded atlases, or report why it cannot have them."""
        for address, atlas in self._loaded.items():
            if atlas is None:
                continue
            try:
                if isinstance(graph, RenderGraph):
                    atlas.check_model(graph.model.latent_size, graph.model.path.name)
                self._install(address, atlas, graph)
            except EngineError as exc:
                self._loaded[address] = None
                self._on_error(address, f"{exc}; {address} is off")

    def map_position(self) -> tuple[float, float, float] | None:
        """Where the playing graph's last latent frame sits on the loaded atlas's map; None without one."""
        regions, graph = self.regions, self._graph()
        if regions is None or not isinstance(graph, RenderGraph):
            return None
        latent = graph.latent  # replaced whole each frame: a consistent frame to read
        return regions.position_of(latent) if latent.shape[0] == regions.centres.shape[1] else None

    def nearest_chunk(self, x: float, y: float, z: float) -> int:
        """For `/explore/point X Y Z`: the loaded atlas's chunk nearest that map position."""
        regions = self.regions
        if regions is None:
            raise ParamError("/explore/point: no atlas loaded (send /explore/atlas PATH first)")
        return regions.nearest_chunk(x, y, z)
