"""OSC 1.0 address patterns (`*`, `?`, `[abc]`, `[!a-z]`, `{foo,bar}`) compiled once to regexes."""

from __future__ import annotations

import re
from functools import lru_cache

_SPECIAL = set("*?[{")


def is_pattern(address: str) -> bool:
    return any(c in _SPECIAL for c in address)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Translate one OSC address pattern; `*` and `?` never cross a `/`."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f"unclosed '[' in OSC pattern {pattern!r}")
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            escaped = "".join("\\" + ch if ch in "\\^]" else ch for ch in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                raise ValueError(f"unclosed '{{' in OSC pattern {pattern!r}")
            out.append("(?:" + "|".join(re.escape(p) for p in pattern[i + 1:end].split(",")) + ")")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def match_addresses(pattern: str, addresses: tuple[str, ...]) -> list[str]:
    regex = compile_pattern(pattern)
    return [a for a in addresses if regex.match(a)]
