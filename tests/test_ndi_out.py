"""NdiOut against a real NDI receiver on this machine (found at 127.0.0.1, no mDNS): the frames
arrive at the output's size, are not blank, change over time, and carry the audio clock as timecode."""

from __future__ import annotations

import numpy as np
from ndi_fixtures import connect, ndi_module, unique_name

from engine.visual.outputs.ndi_out import TIMECODE_UNITS_PER_SECOND, NdiOut


def moving_frame(i: int) -> np.ndarray:
    """A bar that moves with i over a gradient: every frame differs from the one before."""
    rgb = np.zeros((64, 64, 3), dtype=np.uint8)
    rgb[..., 1] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]
    rgb[:, (4 * i) % 64:(4 * i) % 64 + 8, 0] = 255
    return rgb


def test_ndi_frames_reach_a_receiver_at_their_size_with_audio_timecodes() -> None:
    ndi = ndi_module()
    name = unique_name()
    out = NdiOut(name, (128, 96))
    receiver = connect(ndi, name)
    offered: dict[int, int] = {}  # timecode -> frame number
    try:
        i = 0
        while len(receiver.frames) < 12 and i < 2000:  # a frame, then a short wait for it
            audio_time_s = 3.0 + i / 30.0
            out.offer(moving_frame(i), audio_time_s)
            offered[round(audio_time_s * TIMECODE_UNITS_PER_SECOND)] = i
            receiver.capture(len(receiver.frames) + 1, timeout=0.1)
            i += 1
        stats = out.stats()
    finally:
        receiver.close()
        out.close()
    frames = receiver.frames
    assert len(frames) >= 12, f"{len(frames)} frames received of {i} offered; sender {stats}"
    assert all(f.pixels.shape == (96, 128, 3) for f in frames)
    assert all(f.pixels.std() > 20 for f in frames)  # not blank: the gradient and the bar
    assert all(f.timecode in offered for f in frames)  # each is one that was offered, timed by the audio clock
    numbers = [offered[f.timecode] for f in frames]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    first = frames[0].pixels.astype(int)
    assert max(np.abs(f.pixels.astype(int) - first).mean() for f in frames[1:]) > 5  # they change
    assert stats["connections"] == 1 and out.sent >= 12  # counted once the sender thread has stopped
    assert str(stats["source"]).endswith(f"({name})")
