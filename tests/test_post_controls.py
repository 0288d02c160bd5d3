"""The controls after the model, read per output block: a master trim turned down in the middle of a
latent frame quietens the rest of that frame, one turned up waits for the next frame (where the limiter
sees it), and offline render finishes frames in the same pieces as live."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.audio.decoder import GraphFeed
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph

BLOCK = 256


def graph_and_store(model) -> tuple[RenderGraph, ParamStore]:
    store = ParamStore(build_param_table(model.latent_size))
    store.set("/rave/texture", 0.0)
    graph = RenderGraph(model, store, seed=3, output_rate=model.sample_rate)
    torch.manual_seed(0)  # after the load, whose energy charting may draw from it or not (cached)
    return graph, store


def blocks(feed: GraphFeed, count: int, store: ParamStore | None = None, at: int = -1,
           trim_db: float = -40.0) -> list[np.ndarray]:
    out = []
    for k in range(count):
        if store is not None and k == at:
            store.set("/master/gain_db", trim_db)
        out.append(feed.take(BLOCK).copy())
    return out


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_master_trim_turned_down_acts_within_the_frame_it_is_set_in(default_model):
    per_frame = default_model.decode_ratio // BLOCK
    assert per_frame >= 4, "the test needs a frame of several blocks"
    # Past the start (the leveller's first estimates), then a trim in the second block of a frame.
    start = 40 * per_frame
    plain_graph, _ = graph_and_store(default_model)
    plain = blocks(GraphFeed(plain_graph, 1), start + 2 * per_frame)
    moved_graph, store = graph_and_store(default_model)  # after: the decoder's noise is torch's global generator
    moved = blocks(GraphFeed(moved_graph, 1), start + 2 * per_frame, store, at=start + 1)
    for k in range(start + 1):  # up to the change: the same samples (one seed, one timeline)
        np.testing.assert_array_equal(plain[k], moved[k])
    assert rms(plain[start + per_frame - 1]) > 1e-4, "the model is silent here: nothing to compare"
    # The rest of the same latent frame is quieter already, more so each block (10 ms smoothing), and
    # the next frame, mastered with the lower trim, carries on from there: no jump back up between.
    drops = [20 * np.log10(rms(moved[k]) / rms(plain[k])) for k in range(start + 2, start + 2 * per_frame)]
    assert drops[0] < -1.0, drops
    assert drops[3] < -30.0, drops
    assert all(b < a + 0.01 for a, b in zip(drops, drops[1:], strict=False)), drops
    assert drops[-1] == pytest.approx(-40.0, abs=0.5), drops


def test_master_trim_turned_up_waits_for_the_next_frame_and_the_ceiling_holds(default_model):
    per_frame = default_model.decode_ratio // BLOCK
    start = 40 * per_frame
    plain_graph, _ = graph_and_store(default_model)
    plain = blocks(GraphFeed(plain_graph, 1), start + 2 * per_frame)
    moved_graph, store = graph_and_store(default_model)
    moved = blocks(GraphFeed(moved_graph, 1), start + 2 * per_frame, store, at=start + 1, trim_db=12.0)
    for k in range(start + per_frame):  # louder would pass the limiter: the rest of this frame stays
        np.testing.assert_array_equal(plain[k], moved[k])
    rises = [20 * np.log10(rms(moved[k]) / rms(plain[k])) for k in range(start + per_frame, start + 2 * per_frame)]
    assert rises[-1] > 1.0, rises  # the next frame is louder...
    ceiling = 10.0 ** (float(store.get("/master/ceiling")) / 20.0)
    assert float(np.abs(np.concatenate(moved)).max()) <= ceiling  # ...and no sample passes the ceiling


def test_offline_render_finishes_frames_as_the_live_feed_does(default_model):
    live_graph, _ = graph_and_store(default_model)
    live = np.concatenate(blocks(GraphFeed(live_graph, 1), 24))
    offline_graph, _ = graph_and_store(default_model)
    pieces, done = [], 0
    while done < live.shape[0]:
        pieces.append(offline_graph.finish_frame(*offline_graph.next_raw(), stream_pos=done, block=BLOCK))
        done += pieces[-1].shape[0]
    np.testing.assert_array_equal(np.concatenate(pieces)[: live.shape[0]], live)
