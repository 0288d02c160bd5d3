"""Start training from an export's weights (`train --init`): its configuration is read off the
tensor shapes, so any export of our architecture works, the shipped default model included.

An export whose analysis filters are exactly their initial log-frequency STFT was trained with them
frozen (`frozen_analysis`), and its fine-tune keeps them frozen. Exports made before the latent was
PCA-rotated lack `latent_pca`/`latent_center`; they start as the identity and zero (the rotation is
refitted after training anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import TrainingDataError
from engine.models.default_vae import DefaultVAE

OPTIONAL = frozenset({"latent_pca", "latent_center"})  # absent from older exports
EXPORT_ONLY = frozenset({"latent_importance"})  # added by engine/training/export.py


@dataclass(frozen=True)
class InitWeights:
    config: dict[str, object]
    state: dict[str, torch.Tensor]
    rate: int


def _config(state: dict[str, torch.Tensor]) -> dict[str, object]:
    up = sorted({int(k.split(".")[2]) for k in state if k.startswith("decoder.blocks.") and k.endswith(".conv.conv.weight")})
    band_edge = {"band_edge": True} if "decoder.edge.head.conv.weight" in state else {}
    return {
        "enc_filters": state["encoder.analysis.conv.weight"].shape[0] // 2,
        "enc_channels": state["encoder.proj.conv.weight"].shape[0],
        "dec_channels": [state["decoder.inp.conv.weight"].shape[0],
                         *(state[f"decoder.blocks.{i}.conv.conv.weight"].shape[0] for i in up)],
        "n_bands": state["decoder.noise_gain.conv.weight"].shape[0],
        "latent_size": state["encoder.head.conv.weight"].shape[0] // 2,
        "mean_norm": "encoder.mean_norm.running_mean" in state,
        **band_edge,
    }


def read_init(path: Path) -> InitWeights:
    """The weights, configuration and rate of an export of our architecture; one line if it is not one."""
    try:
        module = torch.jit.load(str(path), map_location="cpu")
        state = {k: v.detach().clone() for k, v in module.state_dict().items() if k not in EXPORT_ONLY}
        config = _config(state)
        rate = int(module.get_sample_rate())
        fresh = DefaultVAE(**config)
        # Analysis filters still at their initialisation were frozen (the default model's): keep them so.
        # (Freezing changes no tensor, so `fresh` still names the expected ones.)
        if torch.equal(state["encoder.analysis.conv.weight"], fresh.encoder.analysis.conv.weight.detach()):
            config["frozen_analysis"] = True
        expected = set(fresh.state_dict())
    except Exception as exc:  # a foreign or broken file fails in torch's own ways
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:120]
        raise TrainingDataError(f"--init {path}: not an export of our architecture ({reason})") from None
    missing, unexpected = expected - set(state) - OPTIONAL, set(state) - expected
    if missing or unexpected:
        names = ", ".join(sorted(missing | unexpected)[:3])
        raise TrainingDataError(f"--init {path}: not an export of our architecture (tensors differ: {names})")
    return InitWeights(config, state, rate)


def load_init(model: DefaultVAE, init: InitWeights) -> None:
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    if any(shapes[k] != v.shape for k, v in init.state.items()):
        raise TrainingDataError("--init: the export's tensor shapes differ from the model's")
    model.load_state_dict(init.state, strict=False)
