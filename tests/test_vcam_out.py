"""VirtualCamOut on a v4l2 loopback device, read back as a camera: frames at the output's size that
are not blank and change. Skipped, with the reason, where no loopback device exists."""

from __future__ import annotations

import glob

import numpy as np
import pytest

from engine.errors import VisualError


def test_virtual_camera_frames_can_be_captured_back() -> None:
    pytest.importorskip("pyvirtualcam", reason="pyvirtualcam is not installed (pip install pyvirtualcam)")
    av = pytest.importorskip("av")
    if not glob.glob("/dev/video*"):
        pytest.skip("no /dev/video* device: load v4l2loopback (sudo modprobe v4l2loopback) to test the virtual camera")
    from engine.visual.outputs.vcam_out import VirtualCamOut

    try:
        out = VirtualCamOut((160, 120), fps=30.0)  # paced: the camera keeps streaming between offers
    except VisualError as exc:
        pytest.skip(f"no usable v4l2 loopback device: {exc}")
    captured: list[np.ndarray] = []
    try:
        rgb = np.zeros((64, 64, 3), dtype=np.uint8)
        rgb[..., 2] = 200
        out.offer(rgb, 0.0)
        with av.open(out.sink.device, format="v4l2") as camera:  # type: ignore[attr-defined]
            for i, frame in enumerate(camera.decode(video=0)):
                captured.append(frame.to_ndarray(format="rgb24"))
                rgb[:, : (i % 8) * 8, 0] = 255  # a growing red band: later frames differ
                out.offer(rgb, i / 30.0)
                if len(captured) >= 20:
                    break
    finally:
        out.close()
    assert all(c.shape == (120, 160, 3) for c in captured)
    assert all(c.mean() > 20 for c in captured)
    assert np.abs(captured[0].astype(int) - captured[-1].astype(int)).mean() > 5
