"""flowgrad.distributed in one process: op rows at size 1, sharding, fusion, the launcher."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.distributed import run as launcher
from flowgrad.distributed.optimizer import fusion_buckets
from flowgrad.distributed.sharding import shard, shard_indices

HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None


# ----- size 1 (the harness rows are in tests/ops/test_distributed_ops.py) ---------------
@pytest.fixture(scope="module")
def hvd():
    if not HAVE_MPI4PY:
        pytest.skip("mpi4py is not installed (pip install flowgrad[mpi])")
    import flowgrad.distributed as d
    d.init()
    return d


def test_rank_and_size(hvd):
    hvd.init()                                   # a second init() changes nothing
    assert (hvd.rank(), hvd.size(), hvd.local_rank(), hvd.local_size()) == (0, 1, 0, 1)
    with tf.Graph().as_default(), tf.Session() as sess:
        assert sess.run([hvd.rank_op(), hvd.size_op(), hvd.local_rank_op(),
                         hvd.local_size_op()]) == [0, 1, 0, 1]


def test_build_time_errors(hvd):
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="dtype bool"):
            hvd.allreduce(tf.constant([True]))
        with pytest.raises(ValueError, match="rank >= 1"):
            hvd.allgather(tf.constant(1.0))
        with pytest.raises(ValueError, match="Average or Sum"):
            hvd.allreduce(tf.constant(1.0), op="max")
        with pytest.raises(TypeError, match="wraps a tf.train optimizer"):
            hvd.DistributedOptimizer(object())


@pytest.mark.parametrize("kwargs", [{}, {"overlap": True}, {"fusion_threshold_bytes": 0},
                                    {"backward_passes_per_step": 3}])
def test_distributed_optimizer_at_size_one_is_the_wrapped_one(hvd, kwargs):
    rng = np.random.default_rng(0)
    xv, w0 = rng.standard_normal((6, 3)), rng.standard_normal((3, 2))
    results = []
    for wrap in (False, True):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float64, [None, 3])
            w = tf.Variable(w0)
            b = tf.Variable(np.zeros(2))
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b))
            opt = tf.train.GradientDescentOptimizer(0.1)
            step = tf.train.get_or_create_global_step()
            if wrap:
                opt = hvd.DistributedOptimizer(opt, **kwargs)
            train = opt.minimize(loss, global_step=step)
            passes = kwargs.get("backward_passes_per_step", 1) if wrap else 1
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                hvd.broadcast_variables(sess, 0)
                for _ in range(4 * passes):
                    sess.run(train, {x: xv})
                results.append(sess.run([w, b, step]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-15)
    assert results[1][2] == results[0][2] == 4


def test_broadcast_hook(hvd):
    with tf.Graph().as_default():
        v = tf.Variable([1.0, 2.0])
        hook = hvd.BroadcastGlobalVariablesHook(0)
        hook.begin()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            hook.after_create_session(sess, None)
            assert sess.run(v).tolist() == [1.0, 2.0]
        assert hvd.broadcast_global_variables(0).type == "NoOp"


def test_collective_before_init_is_a_clear_error():
    code = ("import flowgrad as tf, flowgrad.distributed as d\n"
            "s = tf.Session()\n"
            "try:\n"
            "    s.run(d.allreduce(tf.constant([1.0])))\n"
            "except Exception as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert "call flowgrad.distributed.init()" in out.stdout, out.stderr


def test_importing_flowgrad_does_not_import_mpi4py():
    code = ("import sys, flowgrad as tf\n"
            "assert 'mpi4py' not in sys.modules\n"
            "assert tf.distributed.DistributedOptimizer\n"
            "assert 'mpi4py' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr


# ----- sharding and fusion ----------------------------------------------------------------
def test_sharding_docstring_examples():
    import doctest

    from flowgrad.distributed import sharding
    assert doctest.testmod(sharding).failed == 0


def test_shard_indices_follow_dataset_shard():
    assert shard_indices(10, 1, 3).tolist() == [1, 4, 7]
    assert shard_indices(10, 1, 3, drop_remainder=True).tolist() == [1, 4, 7]
    assert shard_indices(10, 0, 3, drop_remainder=True).tolist() == [0, 3, 6]
    assert shard_indices(10, 0, 3, contiguous=True).tolist() == [0, 1, 2, 3]
    assert shard_indices(10, 2, 3, contiguous=True).tolist() == [7, 8, 9]
    assert shard_indices(10, 2, 3, contiguous=True, drop_remainder=True).tolist() == [6, 7, 8]
    every = np.sort(np.concatenate([shard_indices(11, r, 4) for r in range(4)]))
    assert every.tolist() == list(range(11))
    with pytest.raises(ValueError, match="rank < size"):
        shard_indices(5, 3, 3)


def test_shard_arrays():
    x, y = np.arange(12).reshape(6, 2), np.arange(6)
    xs, ys = shard((x, y), 1, 2)
    assert ys.tolist() == [1, 3, 5] and xs[:, 0].tolist() == [2, 6, 10]
    with pytest.raises(ValueError, match="different lengths"):
        shard((x, y[:3]), 0, 2)


def test_fusion_buckets_respect_threshold():
    with tf.Graph().as_default():
        ts = [tf.zeros([n]) for n in (10, 10, 30, 5, 100)]     # float32: 4 bytes each
        assert fusion_buckets(ts, 80) == [[0, 1], [2], [3], [4]]
        assert fusion_buckets(ts, 10 ** 6) == [[0, 1, 2, 3, 4]]
        assert fusion_buckets(ts, 0) == [[0], [1], [2], [3], [4]]


# ----- the launcher -----------------------------------------------------------------------
def test_launcher_for_mpich_sets_one_thread_per_rank():
    cmd, env = launcher.build_command(4, ["train.py", "--lr", "1"], "/x/mpiexec", "mpich",
                                      cores=2, environ={}, is_root=True)
    assert cmd[:3] == ["/x/mpiexec", "-n", "4"]
    assert "--allow-run-as-root" not in cmd and "--oversubscribe" not in cmd
    assert cmd[-5:] == ["-m", "flowgrad.distributed._bootstrap", "train.py", "--lr", "1"]
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"


def test_launcher_for_open_mpi_in_a_container():
    cmd, env = launcher.build_command(4, ["-m", "pkg.train"], "mpirun", "openmpi", cores=2,
                                      environ={"OMP_NUM_THREADS": "3"}, is_root=True)
    assert "--allow-run-as-root" in cmd and "--oversubscribe" in cmd
    assert cmd[cmd.index("-x") + 1] == "OMP_NUM_THREADS"
    assert env["OMP_NUM_THREADS"] == "3"          # the environment's choice is kept
    cmd, env = launcher.build_command(2, ["t.py"], "mpirun", "openmpi", threads=2, cores=8,
                                      environ={}, is_root=False)
    assert "--allow-run-as-root" not in cmd and "--oversubscribe" not in cmd
    assert env["OPENBLAS_NUM_THREADS"] == "2"


def test_launcher_dry_run(capsys):
    if not HAVE_MPI4PY:
        pytest.skip("mpi4py is not installed")
    try:
        launcher.find_mpiexec()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    assert launcher.main(["-n", "2", "--dry-run", "script.py", "a"]) == 0
    out = capsys.readouterr().out
    assert " -n 2 " in out and out.strip().endswith("_bootstrap script.py a")


def test_gradients_of_a_model_are_fused_into_one_collective(hvd):
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 5])
        h = x
        for n_in, n_out in ((5, 7), (7, 3)):
            w = tf.Variable(tf.zeros([n_in, n_out]))
            b = tf.Variable(tf.zeros([n_out]))
            h = tf.nn.relu(tf.matmul(h, w) + b)      # '+': dynamic-shape bias gradients
        loss = tf.reduce_mean(h)
        hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1)).minimize(loss)
        reduces = [o for o in g.get_operations() if o.type == "MPIAllreduce"]
        assert len(reduces) == 1 and len(reduces[0].inputs) == 4


def test_launcher_passes_everything_after_the_program_to_it():
    split = launcher._split
    assert split(["-n", "2", "train.py", "-n", "5"]) == (["-n", "2"], ["train.py", "-n", "5"])
    assert split(["--threads", "2", "-n", "4", "-m", "pkg.t", "--x"]) == \
        (["--threads", "2", "-n", "4"], ["-m", "pkg.t", "--x"])
    assert split(["-n", "2", "--", "-weird.py"]) == (["-n", "2"], ["-weird.py"])
    assert split(["-n", "2", "--dry-run"]) == (["-n", "2", "--dry-run"], [])
