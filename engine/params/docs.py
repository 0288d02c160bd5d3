"""The address table as text: printed by `run_engine.py params` and kept in the README (a test compares).

Per-dimension and per-LFO rows fold into one row with a placeholder (`/rave/latent/<i>/bias`).
"""

from __future__ import annotations

import re

from engine.params.table import N_LFOS, build_param_table

_INDEXED = [(re.compile(r"^/rave/latent/\d+/"), "/rave/latent/<i>/"), (re.compile(r"^/lfo/\d+/"), "/lfo/<n>/")]


def _generic(address: str) -> str:
    for pattern, placeholder in _INDEXED:
        address = pattern.sub(placeholder, address)
    return address


def address_table(latent_size: int = 8, markdown: bool = True) -> str:
    """One row per address (per pattern for indexed ones), in table order."""
    rows: dict[str, tuple[str, ...]] = {}
    for p in build_param_table(latent_size):
        address = _generic(p.address)
        if address in rows:
            continue
        default = f'"{p.default}"' if isinstance(p.default, str) else f"{p.default:g}"
        smoothing = f"{p.smoothing_ms:g} ms" if p.smoothing_ms else "-"
        description = re.sub(r"(dimension|LFO) \d+", r"\1 <i>" if "latent" in address else r"\1 <n>", p.description)
        rows[address] = (f"`{address}`", p.kind.value, p.describe_range(), default, p.unit or "-", smoothing,
                         description)
    if not markdown:
        return "\n".join(f"{r[0].strip('`'):26} {r[1]:6} {r[2]:28} {r[3]:8} {r[4]:5} {r[6]}" for r in rows.values())
    legend = (f"`<i>`: latent dimension, 0 to latent size - 1 (every dimension the model has); "
              f"`<n>`: LFO, 0 to {N_LFOS - 1}.\n\n")
    header = ("| address | type | range | default | unit | smoothing | what it does |\n"
              "|---|---|---|---|---|---|---|")
    return legend + header + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows.values())
