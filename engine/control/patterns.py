"""OSC 1.0 address patterns (`*`, `?`, `[abc]`, `[!a-z]`, `{foo,bar}`), matched without backtracking.

A pattern is parsed once into tokens, then matched by following every address position it can
reach at once, token by token, so the cost is at most pattern tokens x address length. (A regex
translation backtracks: `/` + 200 `*` + `x` held the OSC thread, and the GIL with it, for minutes.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

_SPECIAL = set("*?[{")
MAX_WILDCARDS = 32  # real patterns use a handful; more only makes a pattern cost more to match



@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "lit", "*", "?", "[" or "{"
    words: tuple[str, ...] = ()  # the literal (one word) or the `{a,b}` alternatives
    ranges: tuple[tuple[str, str], ...] = ()  # `[...]`: inclusive character ranges
    negate: bool = False  # `[!...]`


def is_pattern(address: str) -> bool:
    return any(c in _SPECIAL for c in address)


def _ranges(body: str, pattern: str) -> tuple[tuple[str, str], ...]:
    """`a-z0-9_` -> (("a", "z"), ("0", "9"), ("_", "_")); a `-` first or last is itself."""
    if not body:
        raise ValueError(f"empty '[]' in OSC pattern {pattern!r}")
    ranges: list[tuple[str, str]] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            if body[i] > body[i + 2]:
                raise ValueError(f"range {body[i:i + 3]!r} runs backwards in OSC pattern {pattern!r}")
            ranges.append((body[i], body[i + 2]))
            i += 3
        else:
            ranges.append((body[i], body[i]))
            i += 1
    return tuple(ranges)


@lru_cache(maxsize=1024)
def parse_pattern(pattern: str) -> tuple[Token, ...]:
    """The tokens of one OSC address pattern; ValueError when it is malformed or has too many wildcards."""
    tokens: list[Token] = []
    literal: list[str] = []
    wildcards = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c not in _SPECIAL:
            literal.append(c)
            i += 1
            continue
        if literal:
            tokens.append(Token("lit", ("".join(literal),)))
            literal.clear()
        if c == "*" and tokens and tokens[-1].kind == "*":  # `**` means `*`
            i += 1
            continue
        wildcards += 1
        if wildcards > MAX_WILDCARDS:
            raise ValueError(f"OSC pattern with more than {MAX_WILDCARDS} wildcards")
        if c == "*":
            tokens.append(Token("*"))
        elif c == "?":
            tokens.append(Token("?"))
        else:
            close = "]" if c == "[" else "}"
            end = pattern.find(close, i + 1)
            if end < 0:
                raise ValueError(f"unclosed {c!r} in OSC pattern {pattern!r}")
            body = pattern[i + 1:end]
            if c == "[":
                negate = body.startswith("!")
                tokens.append(Token("[", ranges=_ranges(body[1:] if negate else body, pattern), negate=negate))
            else:
                tokens.append(Token("{", tuple(body.split(","))))
            i = end
        i += 1
    if literal:
        tokens.append(Token("lit", ("".join(literal),)))
    return tuple(tokens)


def _step(token: Token, address: str, reach: set[int]) -> set[int]:
    """The positions after `token`, from every position in `reach`."""
    after: set[int] = set()
    for j in reach:
        if token.kind == "*":  # any run of characters but `/`
            end = address.find("/", j)
            after.update(range(j, (len(address) if end < 0 else end) + 1))
        elif token.kind == "?":
            if j < len(address) and address[j] != "/":
                after.add(j + 1)
        elif token.kind == "[":
            if j < len(address) and any(lo <= address[j] <= hi for lo, hi in token.ranges) != token.negate:
                after.add(j + 1)
        else:  # a literal, or `{a,b}` alternatives
            after.update(j + len(word) for word in token.words if address.startswith(word, j))
    return after


def matches(tokens: tuple[Token, ...], address: str) -> bool:
    reach = {0}
    for token in tokens:
        reach = _step(token, address, reach)
        if not reach:
            return False
    return len(address) in reach


def match_addresses(pattern: str, addresses: tuple[str, ...]) -> list[str]:
    tokens = parse_pattern(pattern)
    return [a for a in addresses if matches(tokens, a)]
