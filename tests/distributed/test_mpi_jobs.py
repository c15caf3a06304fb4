"""2-rank MPI jobs: data-parallel training equals one process, broadcasts, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

F32 = 1e-5        # float32 round-off after 10 steps (relative)


@pytest.fixture(scope="module")
def report(tmp_path_factory, launch):
    out = tmp_path_factory.mktemp("mpi") / "report.json"
    res = launch(2, "mpi_equivalence.py", str(out), timeout=120)
    assert res.returncode == 0, f"MPI job failed:\n{res.stdout}\n{res.stderr}"
    return json.loads(out.read_text())


def test_two_ranks_ran(report):
    assert report["size"] == 2


@pytest.mark.parametrize("case", ["mlp/sgd", "cnn/sgd", "mlp/momentum", "cnn/momentum",
                                  "mlp/adam", "cnn/adam"])
def test_half_batches_on_two_ranks_equal_whole_batch(report, case):
    assert report["cases"][case] < F32, report["cases"]
    assert report["replicas_equal"][case]


@pytest.mark.parametrize("case", ["mlp/sgd/overlap=True", "mlp/sgd/fusion_threshold_bytes=64",
                                  "mlp/sgd/passes=2"])
def test_overlap_fusion_and_accumulation_equal_whole_batch(report, case):
    assert report["cases"][case] < F32, report["cases"]
    assert report["replicas_equal"][case]


def test_fp16_compression_is_close(report):
    assert report["cases"]["mlp/sgd/compression=fp16"] < 2e-3
    assert report["replicas_equal"]["mlp/sgd/compression=fp16"]


def test_fp16_fallback_reduction_equals_native(report):
    assert report["fp16_fallback"] == 0.0


def test_broadcast_makes_differently_seeded_ranks_equal(report):
    assert report["broadcast"] == {"differ_before": True, "equal_after": True}


def test_collective_gradients_match_closed_forms(report):
    for name, err in report["gradients"].items():
        assert err < 1e-12, (name, report["gradients"])


def _assert_aborted(res, elapsed, *needles):
    assert res.returncode != 0, res.stderr
    assert elapsed < 30
    for n in needles:
        assert n in res.stderr, res.stderr


def test_crashing_rank_aborts_job_with_its_error(launch):
    t = time.monotonic()
    res = launch(2, "mpi_faults.py", "crash", timeout=60)
    _assert_aborted(res, time.monotonic() - t, "rank 1: ", "boom: rank 1 failed on purpose",
                    "RuntimeError")


def test_rank_exiting_nonzero_aborts_job(launch):
    t = time.monotonic()
    res = launch(2, "mpi_faults.py", "exit", timeout=60)
    _assert_aborted(res, time.monotonic() - t, "rank 1: exited with 3")


def test_graph_mismatch_between_ranks_is_a_clear_error(launch):
    t = time.monotonic()
    res = launch(2, "mpi_faults.py", "mismatch", timeout=60)
    _assert_aborted(res, time.monotonic() - t, "graphs differ", "dense_w",
                    "(3, 4) on rank 0", "(3, 5) on rank 1")


def test_launcher_of_another_mpi_is_detected(mpi_env):
    e = dict(mpi_env)
    e["OMPI_COMM_WORLD_SIZE"] = "2"
    res = subprocess.run([sys.executable, "-W", "ignore", "-c",
                          "import flowgrad.distributed as d; d.init()"],
                         capture_output=True, text=True, timeout=60, env=e)
    assert res.returncode != 0
    assert "OMPI_COMM_WORLD_SIZE=2" in res.stderr and "Open MPI" in res.stderr
    assert "sees a world of size 1" in res.stderr


def test_example_trains_on_two_ranks(launch):
    from pathlib import Path
    example = Path(__file__).resolve().parents[2] / "examples" / "distributed_mlp.py"
    res = launch(2, str(example), "--steps", "50", timeout=120)
    assert res.returncode == 0, res.stderr
    assert "step   50  accuracy over 2 ranks" in res.stdout
