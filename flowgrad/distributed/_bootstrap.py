"""What each rank runs under the launcher: the user's script, with faults ending the job.

``python -m flowgrad.distributed._bootstrap script.py args…`` (or ``-m module args…``)
initialises MPI, checks that the launcher's MPI is mpi4py's, installs the abort-on-error
hook and runs the script as ``__main__``.  An uncaught exception, or ``sys.exit`` with a
non-zero code, on any rank aborts every rank with that rank's message, instead of leaving
the others blocked in a collective.
"""

from __future__ import annotations

import os
import runpy
import sys

from flowgrad.distributed import _context


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m flowgrad.distributed._bootstrap (script.py | -m module) "
                 "[args...]")
    MPI = _context.import_mpi()
    _context.check_launcher(MPI, os.environ)
    _context.install_abort_hook()
    try:
        if argv[0] == "-m":
            if len(argv) < 2:
                sys.exit("-m needs a module name")
            sys.argv = argv[1:]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        code = e.code
        failed = code not in (None, 0)
        if failed and MPI.COMM_WORLD.Get_size() > 1:
            _context.report_and_abort(f"exited with {code!r} (sys.exit); aborting the job",
                                      code if isinstance(code, int) else 1)
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
