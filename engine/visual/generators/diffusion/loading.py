"""Local loading of the diffusers components: check the folders first, then load, never download.

Why check before loading: a missing tokenizer or weight file deep inside diffusers surfaces as an
opaque traceback. `check_inputs` names everything missing in one VisualError, worded the way a user
fixes it, before diffusers is imported or a weight file read. `load_parts` then reads `model_dir` (a diffusers pipeline
folder of the SD 1.x / 2.x or SDXL family) and `vae_dir` (a tiny VAE) with `local_files_only` and
HF_HUB_OFFLINE set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from engine.errors import VisualError

COMPONENT_NAMES = ("unet", "vae", "text_encoder", "tokenizer", "scheduler", "text_encoder_2", "tokenizer_2")
PIPELINE_LAYOUT = "model_index.json, unet/, text_encoder/, tokenizer/, scheduler/, vae/"
DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model",)
TRANSFORMERS_WEIGHTS = ("model", "pytorch_model")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json")
WEIGHT_VARIANTS = ("fp16", "bf16", "fp32")


def _weights_variant(folder: Path, stems: Sequence[str]) -> tuple[bool, str | None]:
    """(found, variant): plain weight files win; otherwise an fp16/bf16 variant (name.fp16.safetensors)."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    for stem in stems:
        if any(stem + suffix in names for suffix in WEIGHT_SUFFIXES):
            return True, None
    for variant in WEIGHT_VARIANTS:
        for stem in stems:
            if any(f"{stem}.{variant}{suffix}" in names for suffix in WEIGHT_SUFFIXES):
                return True, variant
    return False, None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VisualError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise VisualError(f"{path}: expected a JSON object")
    return data


def _check_part(root: Path, part: str, problems: list[str]) -> None:
    """Append what `root/part` lacks, the way a user would fix it."""
    folder = root / part
    if not folder.is_dir():
        problems.append(f"no {part}/")
        return
    if part.startswith("scheduler"):
        if not (folder / "scheduler_config.json").is_file():
            problems.append(f"no {part}/scheduler_config.json")
    elif part.startswith("tokenizer"):
        if not ((folder / "tokenizer.json").is_file()
                or ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())):
            problems.append(f"no {part}/vocab.json + merges.txt (or tokenizer.json)")
    else:
        if not (folder / "config.json").is_file():
            problems.append(f"no {part}/config.json")
        stems = TRANSFORMERS_WEIGHTS if part.startswith("text_encoder") else DIFFUSERS_WEIGHTS
        if not _weights_variant(folder, stems)[0]:
            problems.append(f"no {part} weights ({stems[0]}.safetensors or .bin)")


def check_inputs(model_dir: str | None, vae_dir: str | None,
                 provided: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Raise VisualError naming everything missing; returns (sdxl, the parts to load from model_dir)."""
    unknown = sorted(set(provided) - set(COMPONENT_NAMES))
    if unknown:
        raise VisualError(f"diffusion components {', '.join(unknown)}: unknown; expected some of "
                          f"{', '.join(COMPONENT_NAMES)}")
    if vae_dir is not None:
        vae_path = Path(vae_dir).expanduser()
        if not vae_path.is_dir():
            raise VisualError(f"vae_dir {vae_dir}: no such folder; expected a diffusers tiny VAE folder "
                              "(config.json + diffusion_pytorch_model.safetensors, e.g. madebyollin/taesd)")
        problems: list[str] = []
        if not (vae_path / "config.json").is_file():
            problems.append("no config.json")
        if not _weights_variant(vae_path, DIFFUSERS_WEIGHTS)[0]:
            problems.append("no weights (diffusion_pytorch_model.safetensors or .bin)")
        if problems:
            raise VisualError(f"vae_dir {vae_dir}: {', '.join(problems)}; expected a diffusers "
                              "AutoencoderTiny folder (e.g. madebyollin/taesd)")
    needed = [p for p in ("unet", "text_encoder", "tokenizer", "scheduler") if p not in provided]
    if "vae" not in provided and vae_dir is None:
        needed.append("vae")
    root = Path(model_dir).expanduser() if model_dir is not None else None

    sdxl = False
    if "unet" in provided:
        sdxl = provided["unet"].config.get("addition_embed_type") == "text_time"
    elif root is not None and (root / "unet" / "config.json").is_file():
        sdxl = _read_json(root / "unet" / "config.json").get("addition_embed_type") == "text_time"
    if sdxl:
        needed += [p for p in ("text_encoder_2", "tokenizer_2") if p not in provided]
    if not needed:
        return sdxl, []
    if root is None and provided:
        raise VisualError(f"diffusion: the components lack {', '.join(needed)} and there is no model_dir "
                          "to load them from (--visual-model DIR)")
    if root is None:
        raise VisualError("the diffusion generator needs a local diffusers pipeline folder: pass "
                          "--visual-model DIR (e.g. a downloaded stabilityai/sd-turbo); "
                          "nothing is downloaded")
    if not root.exists():
        raise VisualError(f"model_dir {model_dir}: no such folder; expected a diffusers pipeline folder "
                          f"({PIPELINE_LAYOUT})")
    if root.is_file():
        raise VisualError(f"model_dir {model_dir}: a single file; expected a diffusers pipeline folder "
                          f"({PIPELINE_LAYOUT}), not a checkpoint file")
    problems = []
    for part in needed:
        _check_part(root, part, problems)
    if problems:
        raise VisualError(f"model_dir {model_dir}: {', '.join(problems)}; expected a diffusers pipeline "
                          f"folder ({PIPELINE_LAYOUT})")
    return sdxl, needed


def load_parts(model_dir: str | None, vae_dir: str | None, parts: Sequence[str],
               dtype: torch.dtype) -> dict[str, Any]:
    """Load the named parts from disk, never from the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces beside local_files_only: a typo never downloads
    import diffusers
    import transformers

    loaded: dict[str, Any] = {}
    root = Path(model_dir).expanduser() if model_dir is not None else Path()

    def attempt(what: str, load: Any) -> Any:
        try:
            return load()
        except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise VisualError(f"{what}: cannot load it ({type(exc).__name__}: {exc})") from None

    for part in parts:
        folder = root / part
        where = f"model_dir {model_dir}: {part}/"
        if part.startswith("scheduler"):
            name = _read_json(folder / "scheduler_config.json").get("_class_name", "EulerDiscreteScheduler")
            cls = getattr(diffusers, str(name), None) or diffusers.EulerDiscreteScheduler
            loaded[part] = attempt(where, lambda cls=cls, folder=folder: cls.from_pretrained(folder))
        elif part.startswith("tokenizer"):
            config_path = folder / "tokenizer_config.json"
            name = _read_json(config_path).get("tokenizer_class") if config_path.is_file() else None
            cls = getattr(transformers, str(name), None) or transformers.CLIPTokenizer
            loaded[part] = attempt(where, lambda cls=cls, folder=folder: cls.from_pretrained(
                folder, local_files_only=True))
        elif part.startswith("text_encoder"):
            config = _read_json(folder / "config.json")
            arch = (config.get("architectures") or ["CLIPTextModel"])[0]
            cls = getattr(transformers, str(arch), None) or transformers.CLIPTextModel
            variant = _weights_variant(folder, TRANSFORMERS_WEIGHTS)[1]
            loaded[part] = attempt(where, lambda cls=cls, folder=folder, variant=variant: cls.from_pretrained(
                folder, local_files_only=True, variant=variant))
        else:
            config = _read_json(folder / "config.json")
            default = "UNet2DConditionModel" if part == "unet" else "AutoencoderKL"
            name = str(config.get("_class_name", default))
            cls = getattr(diffusers, name, None) or getattr(diffusers, default)
            variant = _weights_variant(folder, DIFFUSERS_WEIGHTS)[1]
            loaded[part] = attempt(where, lambda cls=cls, folder=folder, variant=variant: cls.from_pretrained(
                folder, local_files_only=True, variant=variant, torch_dtype=dtype))
    if vae_dir is not None:
        folder = Path(vae_dir).expanduser()
        name = str(_read_json(folder / "config.json").get("_class_name", "AutoencoderTiny"))
        cls = diffusers.AutoencoderKL if name == "AutoencoderKL" else diffusers.AutoencoderTiny
        variant = _weights_variant(folder, DIFFUSERS_WEIGHTS)[1]
        loaded["vae"] = attempt(f"vae_dir {vae_dir}", lambda: cls.from_pretrained(
            folder, local_files_only=True, variant=variant, torch_dtype=dtype))
    return loaded
