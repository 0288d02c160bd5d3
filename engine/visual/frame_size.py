"""Frame size bounds (temporary; replaced at merge)."""

from engine.errors import ParamError

MIN_SIDE, MAX_SIDE, MULTIPLE = 16, 4096, 8


def check_frame_size(width: int, height: int) -> None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE) or width % MULTIPLE or height % MULTIPLE:
        raise ParamError(f"{width}x{height}: width and height must be multiples of {MULTIPLE} in {MIN_SIDE}..{MAX_SIDE}")
