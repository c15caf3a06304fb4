"""``python -m flowgrad.distributed.run -n 4 script.py [args…]``: start a job on this machine.

Wraps the ``mpiexec`` that belongs to mpi4py's MPI (the one installed next to this Python
by ``pip install flowgrad[mpi]``, else the first on ``PATH``) with what a container or a
laptop needs:

* Open MPI: ``--allow-run-as-root`` when running as root, ``--oversubscribe`` when there
  are more ranks than cores, ``-x`` to forward the thread settings.  MPICH's Hydra needs
  none of these.
* one BLAS/OpenMP thread per rank (``OMP_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``,
  ``MKL_NUM_THREADS=1``) unless ``--threads`` or the environment says otherwise: N ranks
  with N BLAS threads each oversubscribe the cores, and steps become several times slower.
* each rank runs the script through ``flowgrad.distributed._bootstrap``, so an error on
  one rank aborts the whole job with that rank's traceback.

On a cluster, call the site's ``mpirun``/``srun`` directly (see docs/distributed.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def find_mpiexec(explicit: str | None = None) -> str:
    """The mpiexec to use: ``explicit``, ``$FLOWGRAD_MPIEXEC``, next to Python, on PATH."""
    for cand in (explicit, os.environ.get("FLOWGRAD_MPIEXEC")):
        if cand:
            path = shutil.which(cand)
            if path is None:
                raise FileNotFoundError(f"mpiexec '{cand}' not found")
            return path
    here = os.path.dirname(sys.executable)
    for name in ("mpiexec", "mpirun"):
        path = shutil.which(name, path=here) or shutil.which(name)
        if path:
            return path
    raise FileNotFoundError(
        "no mpiexec found: `pip install flowgrad[mpi]` installs mpi4py with an MPI (mpich) "
        "from wheels, including mpiexec; on a cluster, load the site's MPI module.")


def mpi_flavor(mpiexec: str) -> str:
    """``'openmpi'``, ``'mpich'`` (Hydra, also Intel MPI) or ``'unknown'``."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                             timeout=20)
        text = (out.stdout + out.stderr).lower()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if "open mpi" in text or "openrte" in text or "prte" in text:
        return "openmpi"
    if "hydra" in text or "mpich" in text or "intel" in text:
        return "mpich"
    return "unknown"


def build_command(n: int, program: list[str], mpiexec: str, flavor: str,
                  threads: int | None = None, hosts: str | None = None,
                  extra: list[str] | None = None, cores: int | None = None,
                  environ: dict | None = None, is_root: bool | None = None
                  ) -> tuple[list[str], dict]:
    """The mpiexec command line and environment for ``n`` ranks running ``program``.

    ``program`` is ``[script.py, args…]`` or ``["-m", module, args…]``.
    """
    env = dict(os.environ if environ is None else environ)
    for var in _THREAD_VARS:
        if threads is not None:
            env[var] = str(threads)
        else:
            env.setdefault(var, "1")
    cores = cores or os.cpu_count() or 1
    is_root = (hasattr(os, "geteuid") and os.geteuid() == 0) if is_root is None else is_root
    cmd = [mpiexec, "-n", str(n)]
    if flavor == "openmpi":
        if is_root:
            cmd.append("--allow-run-as-root")
            env["OMPI_ALLOW_RUN_AS_ROOT"] = env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        if n > cores or hosts:
            cmd.append("--oversubscribe")
        for var in _THREAD_VARS:
            cmd += ["-x", var]
        if hosts:
            cmd += ["-H", hosts]
    elif hosts:
        cmd += ["-hosts", hosts]
    cmd += list(extra or [])
    cmd += [sys.executable, "-m", "flowgrad.distributed._bootstrap", *program]
    return cmd, env


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m flowgrad.distributed.run",
        description="Run a flowgrad script on N MPI ranks of this machine (or of --hosts).")
    p.add_argument("-n", "-np", "--num-proc", dest="n", type=int, required=True,
                   help="number of ranks (processes)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS/OpenMP threads per rank (default: 1, or the environment's)")
    p.add_argument("-H", "--hosts", default=None,
                   help="comma-separated hosts (host:slots) passed to mpiexec")
    p.add_argument("--mpiexec", default=None, help="the mpiexec to use")
    p.add_argument("--mpi-args", default="", help="extra arguments for mpiexec, quoted")
    p.add_argument("--dry-run", action="store_true", help="print the command and exit")
    p.add_argument("program", nargs="*", metavar="(script.py | -m module) [args...]",
                   help="what every rank runs; everything after it is its own arguments")
    return p


_VALUED = {"-n", "-np", "--num-proc", "--threads", "-H", "--hosts", "--mpiexec", "--mpi-args"}


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the launcher's options, the program and its arguments): the program starts at the
    first word that is not an option (or at ``-m module``, or after ``--``)."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv[:i], argv[i + 1:]
        if a == "-m":
            return argv[:i], argv[i:]
        if a in _VALUED:
            i += 2
            continue
        if not a.startswith("-") or a == "-":
            return argv[:i], argv[i:]
        i += 1
    return argv, []


def main(argv: list[str] | None = None) -> int:
    own, program = _split(list(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(own)
    if args.n < 1:
        raise SystemExit("-n must be at least 1")
    if program[:1] == ["-m"] and len(program) < 2:
        raise SystemExit("-m needs a module name")
    if not program:
        raise SystemExit("give a script to run: python -m flowgrad.distributed.run -n 4 "
                         "train.py [args...]")
    mpiexec = find_mpiexec(args.mpiexec)
    cmd, env = build_command(args.n, program, mpiexec, mpi_flavor(mpiexec), args.threads,
                             args.hosts, args.mpi_args.split())
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
