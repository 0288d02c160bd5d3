"""Host for nn~-compatible TorchScript models: methods, attributes, rates, streaming state.

Written from the interface description in docs/NN_TILDE_FORMAT.md; no code from RAVE, nn_tilde or
cached_conv is used. Three flavours are recognised:

* ``nn_tilde``: ``get_methods()``, ``<method>_params`` buffers, ``get_attributes()`` with getters.
* ``rave_v1``: no ``get_methods``; usable methods are found by their ``<method>_params`` buffer and the
  rate / latent size live in tensor buffers ``sampling_rate`` / ``latent_size``.
* ``rave_v2``: nn_tilde-style plus ``latent_size`` / ``full_latent_size``; decode pads the latent with
  noise up to the full size itself, so it accepts ``latent_size`` channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import EngineError, ModelLoadError, ParamError

# Names of buffers that hold per-call streaming state in cached-convolution exports.
_STATE_BUFFER_PARTS = frozenset({"cache", "pad"})
_WARM_UP_RUNS = 3  # TorchScript profiles the first two calls per shape; the third is steady state.
ASSUMED_SAMPLE_RATE = 48000  # taken for a model that names no rate, when no other rate is at hand


@dataclass(frozen=True)
class MethodSpec:
    """One usable model method: ``(B, in_channels, T)`` -> ``(B, out_channels, T * in_ratio / out_ratio)``."""

    name: str
    in_channels: int
    in_ratio: int
    out_channels: int
    out_ratio: int

    def output_length(self, input_length: int) -> int:
        """Output frames for ``input_length`` input frames; both sides span the same audio time."""
        return input_length * self.in_ratio // self.out_ratio

    def as_dict(self) -> dict[str, int]:
        return {
            "in_channels": self.in_channels,
            "in_ratio": self.in_ratio,
            "out_channels": self.out_channels,
            "out_ratio": self.out_ratio,
        }


def _plain(value: Any) -> Any:  # noqa: ANN401 - getters return any TorchScript value
    """Turn a getter's result into JSON-able Python values; 1-element tuples/lists are unwrapped."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.detach().cpu().tolist()
    if isinstance(value, (tuple, list)):
        items = [_plain(v) for v in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _short_reason(exc: BaseException) -> str:
    """First sentence of an exception's first line: torch appends paragraphs of generic advice."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # TorchScript errors start with a banner and a script traceback; the cause is the last line.
    text = lines[-1] if lines[0].startswith("The following operation failed") else lines[0]
    head = text.split(". ")[0].rstrip(".")
    return head[:160]


def _as_int(value: Any) -> int | None:  # noqa: ANN401 - buffers, ints, tuples or None
    """An int from a tensor, int or 1-element tuple; None when absent or not a number."""
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


class NNModel:
    """A loaded nn~ model. Not thread-safe: call it from one thread (the decoder thread)."""

    path: Path
    methods: dict[str, MethodSpec]
    attributes: dict[str, object]
    sample_rate: int | None
    latent_size: int | None
    streaming: bool
    format: str  # "nn_tilde", "rave_v1" or "rave_v2"

    def __init__(self, path: Path, module: torch.jit.ScriptModule) -> None:
        self.path = path
        self._module = module
        self._name = str(path)
        # Read `sr` before anything (a setter, a warm-up) can overwrite it.
        self.sample_rate = self._read_sample_rate()
        self.format = "rave_v1" if not hasattr(module, "get_methods") else "nn_tilde"
        if hasattr(module, "full_latent_size"):
            self.format = "rave_v2"
        self.methods = self._read_methods()
        if not self.methods:
            raise ModelLoadError(f"{self._name}: no usable methods (no method has a 4-value <method>_params buffer)")
        self.attributes = self._read_attributes()
        self.latent_size = self._read_latent_size()
        self._buffers = dict(module.named_buffers())
        self.streaming = any(
            _STATE_BUFFER_PARTS.intersection(name.split(".")) for name in self._buffers
        )
        self._snapshot = self._take_snapshot()

    @property
    def module(self) -> torch.jit.ScriptModule:
        """The raw TorchScript module (benchmarks call it directly as a baseline)."""
        return self._module

    def latent_statistics(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-dimension mean and std of the encoder's latents, when the model ships them.

        Only models that carry both `latent_mean` and `latent_std` buffers of the latent size (ours
        does) get a normalised control space; RAVE v2's `latent_mean` alone is used inside its own
        encode/decode and must not be applied twice.
        """
        buffers = dict(self._module.named_buffers())
        mean, std = buffers.get("latent_mean"), buffers.get("latent_std")
        if mean is None or std is None or self.latent_size is None:
            return None
        if mean.numel() != self.latent_size or std.numel() != self.latent_size:
            return None
        std_np = std.detach().double().numpy().reshape(-1)
        if not np.all(np.isfinite(std_np)) or np.any(std_np <= 0):
            return None
        return mean.detach().double().numpy().reshape(-1), std_np

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: str | Path, *, threads: int = 1) -> NNModel:
        """Load a TorchScript nn~ model on the CPU; every problem is a one-line ModelLoadError."""
        path = Path(path)
        if not path.exists():
            raise ModelLoadError(f"{path}: file not found")
        if not path.is_file():
            raise ModelLoadError(f"{path}: not a file")
        if threads < 1:
            raise ModelLoadError(f"{path}: threads must be >= 1, got {threads}")
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # torch raises RuntimeError/ValueError/pickle errors for bad archives
            raise ModelLoadError(f"{path} is not a TorchScript model: {_short_reason(exc)}") from exc
        module.eval()
        try:
            return cls(path, module)
        except EngineError:
            raise
        except Exception as exc:  # a model whose introspection itself crashes is unusable
            raise ModelLoadError(f"{path}: cannot read the model's interface: {_short_reason(exc)}") from exc

    def _read_methods(self) -> dict[str, MethodSpec]:
        module = self._module
        if self.format == "rave_v1":
            # Old exports list nothing: a method is usable when `<name>_params` sits beside it.
            buffer_names = [name for name, _ in module.named_buffers(recurse=False)]
            names = [b[: -len("_params")] for b in buffer_names if b.endswith("_params")]
            names = [n for n in names if n and hasattr(module, n) and callable(getattr(module, n))]
        else:
            try:
                with torch.inference_mode():
                    names = [str(n) for n in module.get_methods()]
            except Exception as exc:
                raise ModelLoadError(f"{self._name}: get_methods() failed: {_short_reason(exc)}") from exc
        methods: dict[str, MethodSpec] = {}
        for name in names:
            spec = self._method_spec(name)
            if spec is not None:
                methods[name] = spec
        return methods

    def _method_spec(self, name: str) -> MethodSpec | None:
        params = getattr(self._module, f"{name}_params", None)
        if not isinstance(params, torch.Tensor) or params.numel() != 4 or not hasattr(self._module, name):
            return None
        # Some exports store params as float tensors.
        in_ch, in_ratio, out_ch, out_ratio = (int(round(float(v))) for v in params.flatten().tolist())
        if min(in_ch, in_ratio, out_ch, out_ratio) < 1:
            return None
        return MethodSpec(name, in_ch, in_ratio, out_ch, out_ratio)

    def _read_attributes(self) -> dict[str, object]:
        module = self._module
        if not hasattr(module, "get_attributes"):
            return {}
        try:
            with torch.inference_mode():
                names = [str(n) for n in module.get_attributes()]
        except Exception as exc:
            return {"<get_attributes>": f"<error: {_short_reason(exc)}>"}
        attributes: dict[str, object] = {}
        for name in names:
            if name == "none":  # older nn~ lists a placeholder first
                continue
            getter = getattr(module, f"get_{name}", None)
            if getter is None:
                attributes[name] = "<error: no getter>"
                continue
            try:
                with torch.inference_mode():
                    attributes[name] = _plain(getter())
            except Exception as exc:  # one broken getter must not make the model unloadable
                attributes[name] = f"<error: {_short_reason(exc)}>"
        return attributes

    def _read_sample_rate(self) -> int | None:
        module = self._module
        rate: int | None = None
        if hasattr(module, "sr"):
            rate = _as_int(module.sr)
        if rate is None and hasattr(module, "get_sample_rate"):
            try:
                with torch.inference_mode():
                    rate = _as_int(module.get_sample_rate())
            except Exception:
                rate = None  # unknown is an honest answer; a rate check later says so
        if rate is None and hasattr(module, "sampling_rate"):
            rate = _as_int(module.sampling_rate)
        return rate if rate is not None and rate > 0 else None

    def _read_latent_size(self) -> int | None:
        # RAVE exports carry the user-facing latent size explicitly; decode params may say the full size.
        if hasattr(self._module, "latent_size"):
            size = _as_int(self._module.latent_size)
            if size is not None and size > 0:
                return size
        spec = self.methods.get("decode")
        return spec.in_channels if spec is not None else None

    # ----------------------------------------------------------------- running
    def require(self, method: str) -> MethodSpec:
        """The spec of ``method``, or a ModelLoadError naming what the model has instead."""
        spec = self.methods.get(method)
        if spec is None:
            have = ", ".join(self.methods) or "none"
            raise ModelLoadError(f"{self._name}: no usable '{method}' method (it has: {have})")
        return spec

    def _accepted_channels(self, spec: MethodSpec) -> tuple[int, ...]:
        if spec.name == "decode" and self.latent_size is not None and self.latent_size != spec.in_channels:
            return (self.latent_size, spec.in_channels)  # RAVE v2 pads a short latent itself
        return (spec.in_channels,)

    def run(self, method: str, x: torch.Tensor) -> torch.Tensor:
        """Run ``method`` on ``x`` of shape ``(B, in_channels, T)``; returns the method's output."""
        spec = self.require(method)
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ParamError(f"{self.path.name}: '{method}' input must be (batch, channels, frames), got {shape}")
        batch, channels, frames = x.shape
        accepted = self._accepted_channels(spec)
        if channels not in accepted:
            want = " or ".join(str(c) for c in accepted)
            raise ParamError(f"{self.path.name}: '{method}' takes {want} input channels, got {channels}")
        if batch < 1 or frames < 1:
            raise ParamError(f"{self.path.name}: '{method}' input is empty: shape {tuple(x.shape)}")
        if (frames * spec.in_ratio) % spec.out_ratio:
            step = spec.out_ratio // math.gcd(spec.in_ratio, spec.out_ratio)
            raise ParamError(
                f"{self.path.name}: '{method}' input length must be a multiple of {step} frames, got {frames}"
            )
        if x.dtype != torch.float32:
            x = x.to(torch.float32)
        with torch.inference_mode():
            return getattr(self._module, method)(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_size, L)`` -> ``(B, out_channels, L * decode_ratio)``, float32."""
        return self.run("decode", z)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, T)`` -> ``(B, C, T / ratio)``; T must be a multiple of the ratio."""
        return self.run("encode", x)

    @property
    def decode_ratio(self) -> int:
        """Audio samples produced per latent frame by ``decode``."""
        spec = self.require("decode")
        if spec.in_ratio % spec.out_ratio:
            raise ModelLoadError(
                f"{self._name}: decode ratio {spec.in_ratio}/{spec.out_ratio} is not a whole number of samples"
            )
        return spec.in_ratio // spec.out_ratio

    def warm_up(self, frames: int = 1, methods: tuple[str, ...] = ("decode",)) -> None:
        """Run each present method a few times on zeros, then reset the streaming state.

        ``frames`` counts blocks of the method's larger ratio: for decode it is the number of
        latent frames, for encode ``frames`` times its ratio in samples are fed.
        """
        for name in methods:
            spec = self.methods.get(name)
            if spec is None:
                continue
            length = frames * max(spec.in_ratio, spec.out_ratio) // spec.in_ratio
            x = torch.zeros(1, self._accepted_channels(spec)[0], max(length, 1))
            for _ in range(_WARM_UP_RUNS):
                self.run(name, x)
        self.reset()

    # ----------------------------------------------------------------- state
    def _take_snapshot(self) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {name: buf.detach().clone() for name, buf in self._buffers.items()}

    def reset(self) -> None:
        """Restore every buffer to its value right after load (or after the last accepted setter)."""
        # Re-read the buffers: some models replace a buffer when the batch size changes.
        self._buffers = dict(self._module.named_buffers())
        with torch.no_grad():
            for name, saved in self._snapshot.items():
                buf = self._buffers.get(name)
                if buf is not None and buf.shape == saved.shape and buf.dtype == saved.dtype:
                    buf.copy_(saved)
                else:
                    self._replace_buffer(name, saved.clone())

    def _replace_buffer(self, name: str, value: torch.Tensor) -> None:
        owner: Any = self._module
        *parents, leaf = name.split(".")
        for part in parents:
            owner = getattr(owner, part)
        setattr(owner, leaf, value)
        self._buffers[name] = value

    def set_attribute(self, name: str, value: object) -> None:
        """Call ``set_<name>``; values are converted to the setter's argument types (Tensor included)."""
        setter_name = f"set_{name}"
        if name not in self.attributes or not hasattr(self._module, setter_name):
            known = ", ".join(a for a in self.attributes if not a.startswith("<")) or "none"
            raise ParamError(f"{self.path.name}: unknown attribute '{name}' (settable: {known})")
        setter = getattr(self._module, setter_name)
        arg_types = [str(arg.type) for arg in setter.schema.arguments[1:]]
        values = list(value) if isinstance(value, (list, tuple)) and len(arg_types) > 1 else [value]
        if len(values) != len(arg_types):
            raise ParamError(
                f"{self.path.name}: attribute '{name}' takes {len(arg_types)} values, got {len(values)}"
            )
        args = [_convert_arg(v, t) for v, t in zip(values, arg_types, strict=True)]
        self._buffers = dict(self._module.named_buffers())
        before = self._take_snapshot()
        try:
            with torch.inference_mode():
                result = setter(*args)
        except Exception as exc:
            raise ParamError(f"{self.path.name}: set_{name}({value!r}) failed: {_short_reason(exc)}") from exc
        if result not in (None, 0):
            raise ParamError(f"{self.path.name}: set_{name}({value!r}) was refused (returned {result})")
        # Buffers a setter changed are configuration, not streaming state: reset() must keep them.
        self._buffers = dict(self._module.named_buffers())
        with torch.no_grad():
            for buf_name, old in before.items():
                new = self._buffers.get(buf_name)
                if new is None:
                    continue
                if old.shape != new.shape or not torch.equal(old, new):
                    self._snapshot[buf_name] = new.detach().clone()
        with torch.inference_mode():
            getter = getattr(self._module, f"get_{name}", None)
            if getter is not None:
                try:
                    self.attributes[name] = _plain(getter())
                except Exception as exc:
                    self.attributes[name] = f"<error: {_short_reason(exc)}>"

    # ----------------------------------------------------------------- report
    def info(self) -> dict:
        """A JSON-able summary of the model."""
        return {
            "path": str(self.path),
            "methods": {name: spec.as_dict() for name, spec in self.methods.items()},
            "attributes": dict(self.attributes),
            "sample_rate": self.sample_rate,
            "latent_size": self.latent_size,
            "streaming": self.streaming,
            "format": self.format,
        }


def _convert_arg(value: object, type_name: str) -> object:
    """Coerce a Python value to a TorchScript argument type (`Tensor`, `int`, `float?`, `List[...]`...)."""
    base = type_name.rstrip("?")
    if value is None and type_name.endswith("?"):
        return None
    if base == "Tensor":
        return value if isinstance(value, torch.Tensor) else torch.tensor(value)
    if isinstance(value, torch.Tensor):
        value = _plain(value)
    try:
        if base == "bool":
            return bool(value)
        if base == "int":
            return int(value)  # type: ignore[call-overload]
        if base == "float":
            return float(value)  # type: ignore[arg-type]
        if base == "str":
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ParamError(f"cannot convert {value!r} to {type_name}") from exc
    return value
