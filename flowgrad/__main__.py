"""``python -m flowgrad``: the command line (see :mod:`flowgrad.cli`)."""

import sys

from flowgrad.cli import main

if __name__ == "__main__":
    sys.exit(main())
