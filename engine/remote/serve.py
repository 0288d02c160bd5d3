"""`visuals serve`: run a visual node until Ctrl-C (or `--seconds`), with its outputs.

Outputs: the window (`--window`, in the main thread), an MP4 of the frames (`--record`: the
existing recorder, video only; frame times are the engine's timeline seconds, so the file lines up
with the engine's own `live --record` audio), NDI (`--ndi NAME`, where the NDI module is installed)
and any other `FrameOutput` (engine/visual/outputs), all fed by one `FrameFanout`. `--report FILE.json` writes the node's figures at exit.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.remote.node import NodeConfig, VisualNode
from engine.remote.sinks import open_ndi
from engine.visual.frame_buffer import newest_reader
from engine.visual.live_recorder import LiveRecorder
from engine.visual.outputs.fanout import FrameFanout, FrameOutput

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1
RECORD_FPS = 30.0  # the encoder's nominal rate; each frame keeps its own time


@dataclass
class ServeRequest:
    node: NodeConfig
    window: bool = False
    screen: int | None = None
    fullscreen: bool = False
    record: Path | None = None
    ndi: str | None = None
    seconds: float | None = None
    report: Path | None = None
    extra_outputs: list[FrameOutput] = field(default_factory=list)


def serve(request: ServeRequest) -> dict[str, object]:
    """Run the node; returns its figures (also written to `--report`)."""
    node = VisualNode(request.node)  # binds first: a busy port fails before anything loads
    recorder: LiveRecorder | None = None
    fanout: FrameFanout | None = None
    try:
        node.start()
        if request.record is not None:
            recorder = LiveRecorder(request.record, node.host.frames, samplerate=48000, channels=0,
                                    fps=RECORD_FPS, start_seconds=0.0)
            recorder.start()
        outputs = list(request.extra_outputs)
        if request.ndi is not None:
            ndi = open_ndi(request.ndi, request.node.size)
            if ndi is not None:
                outputs.append(ndi)
        if outputs:
            fanout = FrameFanout(node.host.frames, outputs)
            fanout.start()
        if request.window:
            from engine.visual.window import run_window

            run_window(newest_reader(node.host.frames), screen=request.screen, fullscreen=request.fullscreen,
                       seconds=request.seconds, title="rave-engine visual node", tick=node.tick,
                       tick_seconds=TICK_SECONDS)
        else:
            _stop_on_signals()
            deadline = None if request.seconds is None else time.monotonic() + request.seconds
            while deadline is None or time.monotonic() < deadline:
                time.sleep(TICK_SECONDS)
                node.tick()
    except KeyboardInterrupt:
        pass
    finally:
        if fanout is not None:
            fanout.stop()
        if recorder is not None:
            recorder.stop()
        stats = node.stats()
        node.stop()
        if recorder is not None:
            stats["recording"] = recorder.stats()
        if request.report is not None:
            request.report.write_text(json.dumps(stats, indent=2))
    return stats


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM end the node cleanly (the recording closed, the report written), also when it
    was started from a shell that ignores SIGINT for background jobs."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.default_int_handler)
