"""The node's further outputs: NDI now, and any `FrameOutput` (engine/visual/outputs) a caller adds.

They are fed by the same fan-out thread as `live --ndi` (visual/outputs/fanout.py): each output has
its own mailbox and sender thread, so a slow one skips frames and never slows the generator.
"""

from __future__ import annotations

import logging

from engine.errors import EngineError
from engine.visual.outputs.fanout import FrameOutput

log = logging.getLogger(__name__)


def open_ndi(name: str, size: tuple[int, int], fps: float | None = None) -> FrameOutput | None:
    """An NDI sender (`fps` None: every frame as it comes), or None with one clear line when NDI is not
    available here (the ndi-python package or its runtime missing)."""
    from engine.visual.outputs.ndi_out import NdiOut

    try:
        return NdiOut(name, size, fps)
    except EngineError as exc:
        log.warning("--ndi %s: NDI output is not available here (%s); the node runs without it", name, exc)
        return None
