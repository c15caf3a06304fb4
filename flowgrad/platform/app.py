"""``tf.app``: ``run(main, argv)`` parses the flags, then calls ``main(remaining_argv)``."""

from __future__ import annotations

import sys
from typing import Callable

from flowgrad.platform import flags
from flowgrad.platform.flags import FLAGS


def run(main: Callable | None = None, argv: list[str] | None = None) -> None:
    """Parses ``argv`` (default ``sys.argv``) into ``FLAGS`` and exits with
    ``main(remaining_argv)``; ``main`` defaults to the ``main`` of the ``__main__`` module.

    As in TF1, flags that no ``DEFINE_*`` declared are passed through to ``main`` in its
    ``argv`` (scripts often parse them with argparse); a bad value for a declared flag prints
    the error and exits with status 1.
    """
    args = sys.argv if argv is None else list(argv)
    try:
        remaining = FLAGS(args, known_only=True)
    except flags.Error as e:
        sys.stderr.write(f"FATAL Flags parsing error: {e}\nPass --help to see the flags.\n")
        sys.exit(1)
    if main is None:
        main = sys.modules["__main__"].main
    sys.exit(main(remaining))
