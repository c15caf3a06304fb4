"""Op-harness rows of the collective ops (flowgrad.distributed) at size 1.

In one process the collectives are identities (allreduce, broadcast) or a copy
(allgather), so the rows check forward values, static shapes and first/second-order
gradients of the graph plumbing; the values and gradients across 2 ranks are checked by the
MPI jobs of tests/distributed/test_mpi_jobs.py.
"""

import importlib.util

import numpy as np
import pytest

import flowgrad as tf
import flowgrad.distributed as hvd
from flowgrad.testing.op_test import OpCase, check_op


# The rows run wherever tests/ops rows run (the device harness reruns them too), so the
# single-process MPI world is set up when this module is imported.
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
if HAVE_MPI4PY:
    hvd.init()


def _started_and_waited(x):
    return hvd.ops.iallreduce_wait(hvd.ops.iallreduce_start([x, x * 2.0]))


CASES = [] if not HAVE_MPI4PY else [
    OpCase("allreduce_average", lambda x: hvd.allreduce(x), lambda x: x, [(3, 4)]),
    OpCase("allreduce_sum", lambda x: hvd.allreduce(x * x, op=hvd.Sum), lambda x: x * x,
           [(2, 3)]),
    OpCase("grouped_allreduce", lambda x, y: hvd.grouped_allreduce([x, y]),
           lambda x, y: [x, y], [(2, 3), (4,)]),
    OpCase("allreduce_fp16", lambda x: hvd.allreduce(x, compression=hvd.Compression.fp16),
           lambda x: x.astype(np.float16).astype(np.float64), [(5,)], grad=False,
           rtol=0, atol=0),
    OpCase("allgather", lambda x: hvd.allgather(x), lambda x: x, [(3, 2)]),
    OpCase("broadcast", lambda x: hvd.broadcast(x, 0), lambda x: x, [(2, 2)]),
    OpCase("grouped_broadcast", lambda x, y: hvd.grouped_broadcast([x, y * 2.0], 0),
           lambda x, y: [x, y * 2], [(3,), (2, 2)]),
    OpCase("scaled_by_size_and_rank",
           lambda x: x * tf.cast(hvd.size_op() + hvd.local_size_op() + hvd.rank_op()
                                 + hvd.local_rank_op(), tf.float64),
           lambda x: x * 2, [(2, 3)]),
    OpCase("iallreduce_start_wait", _started_and_waited, lambda x: [x, x * 2], [(4,)],
           grad=False, dynamic=False),
]


@pytest.mark.skipif(not HAVE_MPI4PY, reason="mpi4py is not installed (pip install "
                    "flowgrad[mpi]): no collective op rows")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)
