"""The process's place in the MPI job: ``init()``, ranks and sizes, and the abort-on-error hook.

MPI is process-global state (``MPI_Init`` runs once per process), so this module keeps one
``_World`` object: the communicator the collectives use and the node-local communicator.
``mpi4py`` is imported only by :func:`init`, never when flowgrad is imported.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback


class _World:
    """The communicators of this process (set by :func:`init`)."""

    __slots__ = ("MPI", "comm", "local_comm", "rank", "size", "local_rank", "local_size",
                 "hook_installed")

    def __init__(self) -> None:
        self.MPI = None
        self.comm = None
        self.local_comm = None
        self.rank = self.size = self.local_rank = self.local_size = 0
        self.hook_installed = False


_WORLD = _World()

# Environment variables that launchers set in each process they start, and who sets them.
_LAUNCHER_SIZE_VARS = (
    ("OMPI_COMM_WORLD_SIZE", "Open MPI's mpirun/mpiexec"),
    ("PMI_SIZE", "an MPICH-family launcher (Hydra mpiexec, Intel MPI) or Slurm's PMI"),
    ("MV2_COMM_WORLD_SIZE", "MVAPICH's mpirun_rsh"),
)
_LAUNCHER_RANK_VARS = (
    ("OMPI_COMM_WORLD_RANK", "Open MPI's mpirun/mpiexec"),
    ("PMIX_RANK", "a PMIx launcher (Open MPI 5 prterun, Slurm srun --mpi=pmix)"),
    ("PMI_RANK", "an MPICH-family launcher or Slurm's PMI"),
)


def import_mpi():
    """``mpi4py.MPI``, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI  # noqa: PLC0415 - optional dependency, imported on demand
    except ImportError as e:
        raise ImportError(
            "flowgrad.distributed needs mpi4py and an MPI library: `pip install flowgrad[mpi]` "
            "installs both from wheels (mpi4py + mpich); on a cluster, install mpi4py against "
            f"the site's MPI instead (`pip install --no-binary mpi4py mpi4py`). ({e})") from e
    return MPI


def init(comm=None) -> None:
    """Initialises MPI (once per process) and the communicators the collectives use.

    Args:
        comm: an ``mpi4py`` communicator to run on (default ``MPI.COMM_WORLD``), or a list
            of world ranks to form one from (Horovod's ``init(comm=[0, 1])``).

    Raises RuntimeError when the launcher started several processes but mpi4py's MPI sees a
    world of one (a launcher from another MPI implementation).  When the job has more than
    one rank, installs an excepthook that prints ``rank N: <traceback>`` and aborts the whole
    job, so an error on one rank never leaves the others waiting in a collective.
    """
    MPI = import_mpi()
    world = MPI.COMM_WORLD
    if comm is None and _WORLD.comm is not None:
        return                          # already initialised: init() is idempotent
    if comm is None:
        comm = world
    elif isinstance(comm, list | tuple):
        group = world.Get_group().Incl(list(comm))
        comm = world.Create(group)
        if comm == MPI.COMM_NULL:
            raise ValueError(f"init(comm={list(comm)}): this process (world rank "
                             f"{world.Get_rank()}) is not among the listed ranks.")
    check_launcher(MPI, os.environ)
    w = _WORLD
    w.MPI, w.comm = MPI, comm
    w.rank, w.size = comm.Get_rank(), comm.Get_size()
    w.local_comm = comm.Split_type(MPI.COMM_TYPE_SHARED, key=w.rank)
    w.local_rank, w.local_size = w.local_comm.Get_rank(), w.local_comm.Get_size()
    if w.size > 1:
        install_abort_hook()


def is_initialized() -> bool:
    return _WORLD.comm is not None


def shutdown() -> None:
    """Forgets the communicators (MPI itself is finalised by mpi4py at exit)."""
    w = _WORLD
    if w.local_comm is not None:
        w.local_comm.Free()
    w.MPI = w.comm = w.local_comm = None
    w.rank = w.size = w.local_rank = w.local_size = 0


def world() -> _World:
    """The initialised world; a clear error when :func:`init` has not run."""
    if _WORLD.comm is None:
        raise ValueError("flowgrad.distributed is not initialised: call "
                         "flowgrad.distributed.init() at the start of the program, before "
                         "running collective ops or asking for rank()/size().")
    return _WORLD


def rank() -> int:
    """This process's rank in the job (0 … size()-1)."""
    return world().rank


def size() -> int:
    """The number of processes in the job."""
    return world().size


def local_rank() -> int:
    """This process's rank among the processes on its machine (to pick a GPU, say)."""
    return world().local_rank


def local_size() -> int:
    """The number of processes of the job on this machine."""
    return world().local_size


def mpi_threads_supported() -> bool:
    w = world()
    return w.MPI.Query_thread() == w.MPI.THREAD_MULTIPLE


# ----- faults -------------------------------------------------------------------------------
def check_launcher(MPI, environ) -> None:  # noqa: N803 - the module's name
    """Raises when the launcher's MPI is not mpi4py's (mpi4py would then see size 1)."""
    if MPI.COMM_WORLD.Get_size() != 1:
        return
    for var, who in _LAUNCHER_SIZE_VARS:
        n = _int_env(environ, var)
        if n is not None and n > 1:
            raise RuntimeError(_mismatch_message(MPI, f"{var}={n}", who, n))
    for var, who in _LAUNCHER_RANK_VARS:
        r = _int_env(environ, var)
        if r is not None and r > 0:
            raise RuntimeError(_mismatch_message(MPI, f"{var}={r}", who, None))


def _int_env(environ, var: str) -> int | None:
    try:
        return int(environ[var])
    except (KeyError, ValueError):
        return None


def _mismatch_message(MPI, evidence: str, who: str, n: int | None) -> str:
    lib = MPI.Get_library_version().strip().splitlines()[0].strip()
    ours = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or "its mpiexec"
    started = f"one of {n} processes" if n else "a process of rank > 0"
    return (
        f"flowgrad.distributed.init(): the launcher started this program as {started} "
        f"({evidence}, set by {who}), but mpi4py's MPI library ({lib}) sees a world of size "
        "1. The launcher and mpi4py belong to different MPI implementations, so each process "
        "would silently train alone. Launch with the mpiexec of mpi4py's MPI "
        f"({ours}; `python -m flowgrad.distributed.run -n N script.py` does this), or "
        "rebuild mpi4py against the launcher's MPI (`pip install --no-binary mpi4py mpi4py`).")


def install_abort_hook() -> None:
    """``sys.excepthook`` prints ``rank N: <traceback>`` and aborts every rank of the job.

    Without it, an uncaught exception on one rank ends that process while the others wait
    forever in their next collective.
    """
    if _WORLD.hook_installed:
        return
    previous = sys.excepthook

    def abort_on_error(exc_type, exc, tb) -> None:
        MPI = sys.modules.get("mpi4py.MPI")
        if MPI is None or MPI.COMM_WORLD.Get_size() <= 1:
            previous(exc_type, exc, tb)
            return
        report_and_abort("".join(traceback.format_exception(exc_type, exc, tb)))

    sys.excepthook = abort_on_error
    _WORLD.hook_installed = True


def report_and_abort(text: str, code: int = 1) -> None:
    """Writes ``text`` with every line prefixed by ``rank N:`` and aborts the whole job."""
    MPI = sys.modules["mpi4py.MPI"]
    prefix = f"rank {MPI.COMM_WORLD.Get_rank()}: "
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a closed stdout must not keep the job alive
        pass
    sys.stderr.write("".join(prefix + line for line in text.splitlines(True)))
    if not text.endswith("\n"):
        sys.stderr.write("\n")
    sys.stderr.flush()
    # the launcher forwards a rank's stderr asynchronously and Abort tears the job down at
    # once: give the message a moment to get out (under load it was once lost)
    time.sleep(0.25)
    MPI.COMM_WORLD.Abort(code)
