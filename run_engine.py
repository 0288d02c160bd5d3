"""Entry point: `python run_engine.py --help`."""

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
