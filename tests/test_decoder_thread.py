"""The decoder thread without a device (`output=None`): the test reads the ring as the audio callback
would, and compares what comes out with the same graphs rendered offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import rms
from model_factories import make_new_style_model
from waiting import wait_until

from engine.audio.decoder import CROSSFADE_SECONDS, Decoder
from engine.audio.ring import AudioRing
from engine.models.nn_tilde import NNModel
from engine.params.store import ParamStore
from engine.params.table import build_param_table
from engine.render.graph import RenderGraph

RATE = 48000
BLOCK = 256
LOOKAHEAD = 8
CHANNELS = 2  # the device's; the models are mono
FADE = int(CROSSFADE_SECONDS * RATE)


def make_graph(model: NNModel, seed: int) -> RenderGraph:
    """A fresh graph: it resets the model's streaming state and seeds its decoder's noise stream."""
    assert model.latent_size is not None
    return RenderGraph(model, ParamStore(build_param_table(model.latent_size)), seed=seed, output_rate=RATE)


def offline(model: NNModel, seed: int, n: int) -> np.ndarray:
    """The first `n` samples (mono) the same graph renders when nothing else runs."""
    graph = make_graph(model, seed)
    frames, done = [], 0
    while done < n:  # finished in the live decoder's pieces, as offline render does
        frames.append(graph.finish_frame(*graph.next_raw(), stream_pos=done, block=BLOCK)[:, 0])
        done += frames[-1].size
    return np.concatenate(frames)[:n]


def make_decoder(graph: RenderGraph, blocks: list[np.ndarray] | None = None) -> Decoder:
    ring = AudioRing(CHANNELS, (LOOKAHEAD + 2) * BLOCK + graph.frame_samples)
    return Decoder(graph, ring, None, blocksize=BLOCK, lookahead_blocks=LOOKAHEAD,
                   on_block=None if blocks is None else lambda block: blocks.append(block.copy()))


def play(decoder: Decoder, n: int) -> np.ndarray:
    """Start the thread, read `n` frames a block at a time as the callback would, then stop it."""
    out = np.zeros((n, CHANNELS), dtype=np.float32)
    got = 0

    def read() -> bool:
        nonlocal got
        got += decoder.ring.read_into(out[got:got + BLOCK])
        return got >= n

    decoder.start()
    try:
        assert wait_until(read, 60.0, interval=0.001), f"only {got} of {n} frames came out"
    finally:
        decoder.stop()
        decoder.join(timeout=10)
    assert not decoder.is_alive(), "stop() did not end the thread"
    assert decoder.error is None
    return out


@pytest.fixture
def sine_models(tmp_path: Path) -> Iterator[tuple[NNModel, NNModel]]:
    """Two loads of a deterministic sine-bank model (no torch RNG), so graphs interleaved in one
    thread render exactly what they render alone."""
    path = make_new_style_model(tmp_path, latent_size=8, sr=RATE)
    yield NNModel.load(path), NNModel.load(path)


def test_prefill_fills_the_ring_to_the_lookahead(default_model: NNModel) -> None:
    decoder = make_decoder(make_graph(default_model, seed=1))
    assert decoder.ring.read_available == 0
    decoder.prefill()
    assert decoder.ring.read_available == LOOKAHEAD * BLOCK == decoder.blocks_written * BLOCK
    assert decoder.decoded_frames == -(-LOOKAHEAD * BLOCK // decoder.graph.frame_samples)  # whole latent frames
    assert not decoder.is_alive()  # prefill runs on the caller's thread, before the stream starts


def test_blocks_come_out_in_order_and_whole(default_model: NNModel) -> None:
    blocks: list[np.ndarray] = []
    decoder = make_decoder(make_graph(default_model, seed=3), blocks)
    decoder.prefill()
    out = play(decoder, RATE)
    assert {block.shape for block in blocks} == {(BLOCK, CHANNELS)}
    assert len(blocks) == decoder.blocks_written >= RATE // BLOCK
    np.testing.assert_array_equal(out, np.concatenate(blocks)[:RATE])  # what was rendered is what was read
    np.testing.assert_array_equal(out[:, 0], out[:, 1])  # mono spread over the device's channels
    expected = offline(default_model, seed=3, n=RATE)
    np.testing.assert_allclose(out[:, 0], expected, atol=1e-5)  # the offline render, sample for sample
    assert rms(out) > 1e-3


def swapped(models: tuple[NNModel, NNModel], new_seed: int, n: int) -> tuple[np.ndarray, Decoder]:
    """Play graph seed 1 on models[0], swapped before the thread starts to graph `new_seed` on
    models[1]: the crossfade starts right after the prefilled lookahead. Returns the audio from there."""
    old, new = make_graph(models[0], seed=1), make_graph(models[1], seed=new_seed)
    decoder = make_decoder(old)
    decoder.prefill()
    start = decoder.ring.read_available
    decoder.swap(new)
    assert decoder.swapping
    out = play(decoder, start + n)
    assert decoder.graph is new and not decoder.swapping
    return out[start:, 0], decoder


def test_swap_crossfades_with_equal_power_and_ends_on_the_new_graph(
        sine_models: tuple[NNModel, NNModel]) -> None:
    n = FADE + RATE // 2
    # The same fade into two different new graphs: out = g_old * old + g_new * new, with the gains
    # the same in both runs, so the two runs give both gains sample by sample.
    out_a, _ = swapped(sine_models, new_seed=2, n=n)
    out_b, decoder = swapped(sine_models, new_seed=3, n=n)
    lookahead = LOOKAHEAD * BLOCK
    old = offline(sine_models[0], seed=1, n=lookahead + n)[lookahead:]
    new_a, new_b = offline(sine_models[1], seed=2, n=n), offline(sine_models[1], seed=3, n=n)

    fade = slice(0, FADE)
    usable = np.abs(new_a[fade] - new_b[fade]) > 0.2 * np.abs(new_a[fade] - new_b[fade]).max()
    usable &= np.abs(old[fade]) > 0.2 * np.abs(old[fade]).max()
    assert usable.sum() > FADE // 10
    g_new = (out_a[fade] - out_b[fade]) / (new_a[fade] - new_b[fade])
    g_old = (out_a[fade] - g_new * new_a[fade]) / old[fade]
    g_new, g_old = g_new[usable], g_old[usable]
    np.testing.assert_allclose(out_a[:16], old[:16], atol=1e-3)  # the fade starts on the old graph: no jump
    np.testing.assert_allclose(g_old ** 2 + g_new ** 2, 1.0, atol=1e-3)  # equal power all the way
    assert np.all(np.diff(g_new) > -1e-4) and np.ptp(g_new) > 0.5  # the new graph comes in steadily

    after = slice(FADE, n)  # only the new graph: the old one no longer sounds
    np.testing.assert_allclose(out_a[after], new_a[after], atol=1e-6)
    np.testing.assert_allclose(out_b[after], new_b[after], atol=1e-6)
    assert rms(out_b[after]) > 1e-3
    assert decoder.graph.model is sine_models[1]
