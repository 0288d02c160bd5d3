"""Where the diffusion generator runs and in which precision, from the user's `device` / `dtype` words.

Why "auto" picks float16 on CUDA and MPS only: that hardware is built for half precision, while on a
CPU float32 is the exact choice.
"""

from __future__ import annotations

import torch

from engine.errors import VisualError

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
}
DTYPE_ALIASES = {
    "fp32": "float32", "float": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16",
}


def pick_device(device: str) -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise VisualError(f"diffusion device {device!r}: expected auto, cpu, cuda, cuda:N "
                          "or mps") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise VisualError(f"diffusion device {device!r}: this torch build sees no CUDA GPU")
    return chosen


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    name = DTYPE_ALIASES.get(dtype, dtype)
    if name == "auto":  # half precision where the hardware is built for it, exact float32 elsewhere
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    if name not in DTYPES:
        raise VisualError(f"diffusion dtype {dtype!r}: expected auto, float32, float16 or bfloat16")
    return DTYPES[name]
