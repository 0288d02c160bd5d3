"""The shared-memory triple buffer: frames cross processes whole, never torn."""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np

from engine.analysis.features import N_FEATURES
from engine.params.table import VISUAL_MODULATED
from engine.visual.frame_buffer import FrameBuffer
from engine.visual.shared_state import SharedState


def _writer(name: str, seconds: float) -> None:
    frames = FrameBuffer.attach(name)
    frame = np.empty((frames.height, frames.width, 3), dtype=np.uint8)
    deadline = time.monotonic() + seconds
    index = 0
    while time.monotonic() < deadline:
        frame.fill(index % 251)  # every pixel says which frame it belongs to
        frames.write(frame, index, index / 100)
        index += 1
    frames.close()


def test_reader_in_another_process_never_sees_a_torn_frame() -> None:
    frames = FrameBuffer.create(256, 256)
    try:
        writer = mp.get_context("spawn").Process(target=_writer, args=(frames.name, 2.0))
        writer.start()
        indices: set[int] = set()
        out = np.empty((256, 256, 3), dtype=np.uint8)
        torn = 0
        while writer.is_alive() or not indices:
            got = frames.read(out)
            if got is None:
                continue
            index, seconds, pixels = got
            indices.add(index)
            assert seconds == index / 100
            if pixels.min() != pixels.max() or int(pixels[0, 0, 0]) != index % 251:
                torn += 1
        writer.join()
        assert writer.exitcode == 0
        assert torn == 0
        assert len(indices) > 50  # the reader really raced a busy writer
    finally:
        frames.close()


def test_a_slot_being_written_is_never_returned() -> None:
    frames = FrameBuffer.create(32, 16)
    try:
        assert frames.read() is None  # nothing written yet
        frames.write(np.full((16, 32, 3), 7, np.uint8), 0, 0.0)
        index, _, pixels = frames.read()
        assert index == 0 and pixels.shape == (16, 32, 3) and int(pixels.max()) == 7
        slot = int(frames._ints[0])
        frames._ints[3 + slot] += 1  # as if the writer were inside the slot right now
        assert frames.read(attempts=4) is None
        assert frames.retries == 4
        frames._ints[3 + slot] += 1
        assert frames.read() is not None
    finally:
        frames.close()


def test_writer_never_overwrites_the_newest_frame() -> None:
    frames = FrameBuffer.create(16, 16)
    try:
        for i in range(10):
            before = int(frames._ints[0])
            frames.write(np.full((16, 16, 3), i, np.uint8), i, float(i))
            assert int(frames._ints[0]) != before or i == 0
            assert frames.read()[0] == i
    finally:
        frames.close()


def test_shared_state_round_trip_and_params_only_when_changed() -> None:
    state = SharedState.create()
    reader = SharedState.attach(state.name)
    try:
        features = np.linspace(0, 1, N_FEATURES).astype(np.float32)
        state.publish(1.5, features, 3, 7, np.arange(8.0), {"/visual/theme": "ink"})
        got = reader.read()
        assert got is not None
        assert got.time == 1.5 and got.beats == 3 and got.onsets == 7
        np.testing.assert_allclose(got.features, features, rtol=1e-6)
        np.testing.assert_array_equal(got.latent, np.arange(8.0, dtype=np.float32))
        assert got.params == {"/visual/theme": "ink"} and got.params_version == 1
        state.publish(1.6, features, 4, 7, np.zeros(2))
        again = reader.read()
        assert again.params == {"/visual/theme": "ink"} and again.params_version == 1 and again.beats == 4
        assert again.latent.shape == (2,)
    finally:
        reader.close()
        state.close()


def test_modulated_controls_override_the_raw_parameters() -> None:
    state = SharedState.create()
    reader = SharedState.attach(state.name)
    try:
        controls = np.linspace(0.1, 0.8, len(VISUAL_MODULATED))
        state.publish(0.5, np.zeros(N_FEATURES, np.float32), 0, 0, np.zeros(4), {"/visual/zoom": 0.5,
                                                                                  "/visual/theme": "ink"}, controls)
        got = reader.read()
        assert got.params["/visual/theme"] == "ink"
        assert got.params["/visual/zoom"] == controls[VISUAL_MODULATED.index("/visual/zoom")]
    finally:
        reader.close()
        state.close()
