"""An NDI receiver for the tests: finds a source by name without mDNS and collects its video frames.

This machine has no mDNS, so the finder asks 127.0.0.1 directly (NDI's extra-IPs setting: the NDI
process that sends runs a discovery service on port 5960 that the finder queries). Frames are
received as RGBX, so a pixel reads back as the RGB that was sent (give or take SpeedHQ's rounding).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

LOCALHOST = "127.0.0.1"


def ndi_module() -> Any:
    ndi = pytest.importorskip("NDIlib", reason="ndi-python is not installed (pip install ndi-python)")
    if not ndi.initialize():
        pytest.skip("the NDI runtime did not start on this machine")
    return ndi


def unique_name(prefix: str = "rave-test") -> str:
    """A source name no other test (or test run on this machine) is using."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Received:
    pixels: np.ndarray  # (height, width, 3) RGB
    timecode: int  # 100 ns units
    at: float  # time.monotonic() when it arrived


@dataclass
class NdiReceiver:
    ndi: Any
    source_name: str
    recv: Any = None
    frames: list[Received] = field(default_factory=list)

    def capture(self, count: int, timeout: float) -> list[Received]:
        """Receive until `count` video frames have come (or `timeout` passes); all received so far."""
        deadline = time.monotonic() + timeout
        while len(self.frames) < count and time.monotonic() < deadline:
            kind, video, _, _ = self.ndi.recv_capture_v2(self.recv, 200)
            if kind == self.ndi.FRAME_TYPE_VIDEO:
                at = time.monotonic()
                pixels = np.array(video.data[:, :, :3])  # RGBX -> RGB, copied before the frame is freed
                self.frames.append(Received(pixels, int(video.timecode), at))
                self.ndi.recv_free_video_v2(self.recv, video)
        return self.frames

    def close(self) -> None:
        if self.recv is not None:
            self.ndi.recv_destroy(self.recv)
            self.recv = None


def find_source(ndi: Any, name: str, timeout: float) -> Any | None:
    """The NDI source whose name ends in "(name)", found by asking 127.0.0.1; None if none came."""
    settings = ndi.FindCreate()
    settings.show_local_sources = True
    settings.extra_ips = LOCALHOST
    finder = ndi.find_create_v2(settings)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ndi.find_wait_for_sources(finder, 200)
            for source in ndi.find_get_current_sources(finder):
                if str(source.ndi_name).endswith(f"({name})"):
                    return source
        return None
    finally:
        ndi.find_destroy(finder)


def connect(ndi: Any, name: str, timeout: float = 20.0) -> NdiReceiver:
    source = find_source(ndi, name, timeout)
    assert source is not None, f"no NDI source named {name!r} found at {LOCALHOST} within {timeout:.0f} s"
    settings = ndi.RecvCreateV3()
    settings.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
    recv = ndi.recv_create_v3(settings)
    ndi.recv_connect(recv, source)
    return NdiReceiver(ndi, str(source.ndi_name), recv)
