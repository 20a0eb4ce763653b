"""``python -m ngramsim``: the command-line interface."""

import sys

from ngramsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
