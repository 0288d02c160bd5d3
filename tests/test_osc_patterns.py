"""OSC address patterns: OSC 1.0 semantics, and no pattern a client sends can stall the matcher."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.control.patterns import MAX_WILDCARDS, match_addresses
from engine.params.store import ParamStore
from engine.params.table import build_param_table

ROOT = Path(__file__).resolve().parents[1]
ADDRESSES = ParamStore(build_param_table(8)).addresses


@pytest.mark.parametrize(("pattern", "expected"), [
    ("/rave/latent/*/bias", [f"/rave/latent/{i}/bias" for i in range(8)]),
    ("/rave/latent/[0-2]/bias", [f"/rave/latent/{i}/bias" for i in range(3)]),
    ("/rave/latent/[!0-5]/bias", ["/rave/latent/6/bias", "/rave/latent/7/bias"]),
    ("/rave/energ?", ["/rave/energy"]),
    ("/{rave,master}/{energy,gain_db}", ["/rave/energy", "/master/gain_db"]),
    ("/rave/*", [a for a in ADDRESSES if a.startswith("/rave/") and a.count("/") == 2]),  # `*` stops at `/`
    ("/ra**ve/energy", ["/rave/energy"]),
    ("/nothing/*", []),
])
def test_patterns_match_like_osc_1_0(pattern: str, expected: list[str]) -> None:
    assert sorted(match_addresses(pattern, ADDRESSES)) == sorted(expected)


@pytest.mark.parametrize("pattern", ["/rave/latent/[0-", "/rave/{energy", "/rave/[]x", "/rave/[z-a]",
                                     "/" + "*x" * (MAX_WILDCARDS + 1)])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        match_addresses(pattern, ADDRESSES)


def test_hostile_patterns_match_in_linear_time() -> None:
    """A backtracking regex needs minutes for these; in a subprocess, so a regression cannot hang the run."""
    script = ("import time\n"
              "from engine.control.patterns import match_addresses\n"
              "from engine.params.store import ParamStore\n"
              "from engine.params.table import build_param_table\n"
              "addresses = ParamStore(build_param_table(64)).addresses\n"
              "start = time.perf_counter()\n"
              "for pattern in ['/' + '*r' * 31 + 'x', '/r' + '*a' * 30 + '*z', '/' + '?*' * 16 + '#', '/' + '*' * 200]:\n"
              "    assert match_addresses(pattern, addresses) == []\n"
              "print(time.perf_counter() - start)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 0.5
