"""The command line's rich consoles, which never wrap a line that a user or a script reads.

Rich wraps at the terminal width, and with no terminal at $COLUMNS or 80: a message holding a long
path would come out split over lines, so a script (or a test) that looks for it would miss it. On a
terminal the terminal wraps long lines itself and tables fit its width; into a pipe or a file every
line keeps its natural length, whatever $COLUMNS says.
"""

from __future__ import annotations

import sys

from rich.console import Console

UNLIMITED_WIDTH = 10_000  # into a pipe or a file: wide enough that no table is squeezed


def cli_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else UNLIMITED_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width)
