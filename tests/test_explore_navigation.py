"""Navigating an atlas: the walk glides into a cluster's or a chunk's region over /scene/morph_time,
/explore/point finds the chunk nearest a map position, and the atlas travels to OSC subscribers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_factories import make_new_style_model
from osc_fixtures import Listener

from engine.control.hub import ControlHub
from engine.control.osc_codec import encode_message
from engine.control.osc_server import OscServer
from engine.errors import AtlasError
from engine.explore.atlas import Atlas
from engine.explore.build import ExploreRequest, build_atlas
from engine.explore.messages import CHUNKS_PER_MESSAGE, MAX_SENT_CHUNKS, atlas_messages
from engine.explore.regions import AtlasRegions
from engine.explore.steering import AtlasSteering
from engine.models.nn_tilde import NNModel
from engine.render.offline import RenderRequest, prepare, render

FRAME = 2048 / 48000


@pytest.fixture(scope="module")
def regions(atlas_path: Path, default_model: NNModel) -> AtlasRegions:
    stats = default_model.latent_statistics()
    assert stats is not None
    return AtlasRegions(Atlas.load(atlas_path), *stats)


def _values(cluster: int = -1, chunk: int = -1, morph: float = 1.0) -> dict[str, object]:
    return {"/explore/cluster": cluster, "/explore/chunk": chunk, "/scene/morph_time": morph}


def test_the_walk_glides_into_a_cluster_over_the_morph_time(regions: AtlasRegions, default_model: NNModel) -> None:
    dims = default_model.latent_size
    steering = AtlasSteering(dims, FRAME)
    steering.use_regions(regions)
    centre, spread = np.zeros(dims), np.ones(dims)
    steering.steer_walk(_values(), centre, spread)  # the first frame: the free walk
    frames = round(1.0 / FRAME)
    target_centre, target_spread = regions.cluster(2)  # type: ignore[misc]
    for i in range(frames):
        steering.steer_walk(_values(cluster=2), centre, spread)
        if i == frames // 2 - 1:
            assert np.allclose(centre, target_centre * (frames // 2) / frames)
    assert np.allclose(centre, target_centre) and np.allclose(spread, target_spread)
    assert steering.target == ("cluster", 2)
    # A point picked later wins; a cluster after it wins again; -1 and -1 is the prior.
    steering.steer_walk(_values(cluster=2, chunk=5, morph=0.0), centre, spread)
    assert steering.target == ("chunk", 5) and np.allclose(centre, regions.chunk(5)[0])  # type: ignore[index]
    steering.steer_walk(_values(cluster=1, chunk=5, morph=0.0), centre, spread)
    assert steering.target == ("cluster", 1)
    steering.steer_walk(_values(morph=0.0), centre, spread)
    assert steering.target is None and np.allclose(centre, 0.0) and np.allclose(spread, 1.0)


def test_regions_are_where_the_clusters_frames_are(atlas_path: Path, regions: AtlasRegions,
                                                   default_model: NNModel) -> None:
    atlas = Atlas.load(atlas_path)
    mean, std = default_model.latent_statistics()  # type: ignore[misc]
    frames = (atlas.frames - mean) / std
    in_cluster = atlas.clusters[atlas.frame_chunk] == 1
    assert np.allclose(regions.cluster(1)[0], frames[in_cluster].mean(axis=0))  # type: ignore[index]
    assert regions.cluster(atlas.n_clusters) is None and regions.chunk(-1) is None
    assert regions.nearest_chunk(*atlas.positions[7]) == 7


def test_an_offline_render_plays_inside_the_cluster(atlas_path: Path, default_model: NNModel,
                                                    regions: AtlasRegions) -> None:
    """With texture off the frame is the walk itself: in cluster 3 it is that walk, moved to the
    cluster's centre and scaled by its spread, from the first frame of the render."""
    def latents(sets: list[str]) -> np.ndarray:
        graph = prepare(RenderRequest(seconds=2, sets=["/rave/texture=0", *sets], seed=2), model=default_model)
        out = []
        for _ in range(40):
            graph.next_frame()
            out.append(graph.latent.copy())
        return np.array(out)

    centre, spread = regions.cluster(3)  # type: ignore[misc]
    inside = latents([f"/explore/atlas={atlas_path}", "/explore/cluster=3"])
    free = latents([])
    assert np.allclose(inside, centre + spread * free)
    assert not np.allclose(centre, 0.0)


def test_explore_point_through_osc(regions: AtlasRegions, hub: ControlHub, listener: Listener) -> None:
    with OscServer(hub, port=0) as server:
        listener.send(server.port, encode_message("/explore/point", 0.0, 0.0, 0.0))
        listener.wait_for(lambda r: any(a == "/fail" for a, _ in r))
        assert "no atlas" in str(listener.messages("/fail")[0])
        hub.set_point_handler(regions.nearest_chunk)
        hub.store.set("/explore/cluster", 2)
        x, y, z = (float(v) for v in regions.positions[4])
        listener.send(server.port, encode_message("/explore/point", x, y, z))
        listener.wait_for(lambda r: any(a == "/done" for a, _ in r))
        assert listener.messages("/done") == [["/explore/point", 4]]
        assert hub.store.get("/explore/chunk") == 4 and hub.store.get("/explore/cluster") == -1
        listener.send(server.port, encode_message("/explore/point", 1.0, "y"))
        listener.wait_for(lambda r: len([a for a, _ in r if a == "/fail"]) == 2)
        assert "usage: /explore/point X Y Z" in str(listener.messages("/fail")[1])


def test_the_atlas_travels_to_subscribers(atlas_path: Path, hub: ControlHub, listener: Listener,
                                         default_model: NNModel) -> None:
    """In the format the console's map reads (engine/gui/widgets/atlas_view.py)."""
    atlas = Atlas.load(atlas_path)
    with OscServer(hub, port=0) as server:
        server.atlas.publish(atlas_messages(atlas, "collection.npz"))
        listener.send(server.port, encode_message("/explore/subscribe"))
        received = listener.wait_for(lambda r: any(a == "/explore/atlas/end" for a, _ in r))
        server.atlas.send_position(0.25, -0.5, 1.0)
        listener.wait_for(lambda r: any(a == "/explore/position" for a, _ in r))
        listener.send(server.port, encode_message("/explore/unsubscribe"))
        listener.wait_for(lambda r: ["/explore/unsubscribe"] in listener.messages("/done"))
        assert len(server.explore_subscribers) == 0
    begin = listener.messages("/explore/atlas/begin")[0]
    assert begin[:4] == [20, 4, "collection.npz", 20] and begin[4] == default_model.latent_size
    assert len(listener.messages("/explore/atlas/cluster")) == 4
    points = [args for a, args in received if a == "/explore/atlas/points"]
    values = np.array([v for args in points for v in args[1:]], dtype=np.float64).reshape(-1, 4)
    assert np.allclose(values[:, :3], atlas.positions, atol=1e-6)
    assert list(values[:, 3].astype(int)) == list(atlas.clusters)
    assert listener.messages("/explore/atlas/end") == [[20]]
    assert listener.messages("/explore/position") == [[0.25, -0.5, 1.0]]


def test_the_map_position_follows_the_latent(regions: AtlasRegions) -> None:
    chunk = 7
    assert np.allclose(regions.position_of(regions.chunk(chunk)[0]), regions.positions[chunk], atol=1e-3)  # type: ignore[index]


def test_the_atlas_messages_are_bounded(atlas_path: Path) -> None:
    atlas = Atlas.load(atlas_path)
    n = 20000
    rng = np.random.default_rng(0)
    atlas.positions = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    atlas.clusters = rng.integers(0, 256, n).astype(np.int32)
    atlas.descriptors = np.zeros((n, atlas.descriptors.shape[1]), np.float32)
    atlas.chunk_latent = np.zeros((n, atlas.latent_size), np.float32)
    messages = atlas_messages(atlas, "big.npz")
    assert messages[0][1][0] == MAX_SENT_CHUNKS and messages[0][1][3] == n
    assert len(messages) == 2 + 256 + MAX_SENT_CHUNKS // CHUNKS_PER_MESSAGE


def test_any_latent_size_and_rate(collection: Path, hats_file: Path, tmp_path: Path, default_model: NNModel) -> None:
    """A model of another latent size at 44.1 kHz with 1024-sample frames and no latent statistics:
    mapped, resynthesised and navigated like the default model; its atlas is refused by the default."""
    dims = 12 if default_model.latent_size == 16 else 16
    model_path = make_new_style_model(tmp_path, latent_size=dims, ratio=1024, sr=44100)
    model = NNModel.load(model_path)
    out = tmp_path / "a16.npz"
    atlas = build_atlas(ExploreRequest(collection, out, model=model_path, clusters=3, chunk_seconds=1.0,
                                       map_method="pca"), model=model).atlas
    assert atlas.latent_size == dims and atlas.model_rate == 44100
    assert atlas.frame_seconds == pytest.approx(1024 / 44100) and atlas.chunks == 20
    sets = [f"/rave/codebook={out}", f"/explore/atlas={out}", "/explore/cluster=2"]
    audio = render(RenderRequest(seconds=1.0, input=hats_file, sets=sets), model=model).audio
    assert audio.shape[0] == 44100 and np.sqrt(np.mean(audio ** 2)) > 1e-4
    with pytest.raises(AtlasError, match=f"latent size {dims}"):
        prepare(RenderRequest(seconds=1, codebook=out))  # the default model: another latent size

