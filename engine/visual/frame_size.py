"""The one rule for a video frame's size, shared by the command line, the generators and the recorder.

Sides are multiples of 8: the diffusion and tiny-VAE latents are an eighth of the image, and H.264's
4:2:0 chroma needs even sizes. At most 4096: the shared frame buffer's three slots then take 3 x 48 MiB,
and every such frame stays within H.264's largest levels.
"""

from __future__ import annotations

from numbers import Integral

from engine.errors import FrameSizeError

MIN_SIDE = 16
MAX_SIDE = 4096
SIDE_MULTIPLE = 8
DEFAULT_FRAME_SIZE = (512, 512)  # (width, height)


def check_frame_size(width: object, height: object) -> tuple[int, int]:
    """(width, height) as ints, or FrameSizeError naming the side and the rule it breaks."""
    for name, side in (("width", width), ("height", height)):
        if isinstance(side, bool) or not isinstance(side, Integral):
            raise FrameSizeError(f"frame {name} must be an integer, got {side!r}")
        if not MIN_SIDE <= side <= MAX_SIDE or side % SIDE_MULTIPLE:
            raise FrameSizeError(f"frame size {width}x{height}: the {name} must be a multiple of "
                                 f"{SIDE_MULTIPLE} from {MIN_SIDE} to {MAX_SIDE}, got {side}")
    return int(width), int(height)  # type: ignore[call-overload]
