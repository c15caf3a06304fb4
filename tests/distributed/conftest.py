"""Helpers for launching the MPI test scripts (skipped when mpi4py or mpiexec is missing)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def mpi_missing() -> str | None:
    """Why MPI jobs cannot run here, or None."""
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install flowgrad[mpi])"
    from flowgrad.distributed.run import find_mpiexec  # noqa: PLC0415
    try:
        find_mpiexec()
    except FileNotFoundError as e:
        return str(e)
    return None


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), e.get("PYTHONPATH")) if p)
    return e


def _launch(n: int, script: str, *args: str, timeout: float = 60
            ) -> subprocess.CompletedProcess:
    """``python -m flowgrad.distributed.run -n N tests/distributed/SCRIPT args``."""
    cmd = [sys.executable, "-m", "flowgrad.distributed.run", "-n", str(n), str(HERE / script),
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(),
                          cwd=str(ROOT))


@pytest.fixture(scope="session")
def mpi_env() -> dict:
    """The environment for subprocesses that import flowgrad (skips without MPI)."""
    why = mpi_missing()
    if why is not None:
        pytest.skip(f"MPI jobs cannot run: {why}")
    return env()


@pytest.fixture(scope="session")
def launch(mpi_env):
    """``launch(n, script, *args, timeout=60)``: runs an MPI job of this directory's script."""
    return _launch
