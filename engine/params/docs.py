"""The address table as text: printed by `run_engine.py params` and kept in the README (a test compares)."""

from __future__ import annotations

from engine.params.table import build_param_table

README_LATENT_SIZE = 8  # the default model's latent size: the README lists its dimensions


def address_table(latent_size: int = README_LATENT_SIZE, markdown: bool = True) -> str:
    rows = []
    for p in build_param_table(latent_size):
        default = f'"{p.default}"' if isinstance(p.default, str) else f"{p.default:g}"
        smoothing = f"{p.smoothing_ms:g} ms" if p.smoothing_ms else "-"
        rows.append((f"`{p.address}`", p.kind.value, p.describe_range(), default, p.unit or "-", smoothing,
                     p.description))
    if not markdown:
        return "\n".join(f"{r[0].strip('`'):28} {r[1]:7} {r[2]:40} {r[3]:8} {r[4]}" for r in rows)
    header = ("| address | type | range | default | unit | smoothing | what it does |\n"
              "|---|---|---|---|---|---|---|")
    return header + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)
