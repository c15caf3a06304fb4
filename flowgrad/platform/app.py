"""``tf.app``: ``run(main, argv)`` parses the flags, then calls ``main(remaining_argv)``."""

from __future__ import annotations

import sys
from typing import Callable

from flowgrad.platform import flags
from flowgrad.platform.flags import FLAGS


def run(main: Callable | None = None, argv: list[str] | None = None) -> None:
    """Parses ``argv`` (default ``sys.argv``) into ``FLAGS`` and exits with
    ``main(remaining_argv)``; ``main`` defaults to the ``main`` of the ``__main__`` module.

    Unknown flags and bad values print the error and exit with status 1, as TF1 does.
    """
    args = sys.argv if argv is None else list(argv)
    try:
        remaining = FLAGS(args, known_only=False)
    except flags.Error as e:
        sys.stderr.write(f"FATAL Flags parsing error: {e}\nPass --help to see the flags.\n")
        sys.exit(1)
    if main is None:
        main = sys.modules["__main__"].main
    sys.exit(main(remaining))
