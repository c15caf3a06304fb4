"""Data-parallel training on MPI with Horovod's API (``import flowgrad.distributed as hvd``).

Every process (rank) runs the same script on its own shard of the data; gradients are
averaged over the ranks with fused allreduce ops before each update, so the replicas stay
identical.  Launch with ``python -m flowgrad.distributed.run -n 4 script.py`` (or the site's
``mpirun``/``srun``)::

    import flowgrad as tf
    import flowgrad.distributed as hvd

    hvd.init()
    x_shard = x_train[hvd.shard_indices(len(x_train), hvd.rank(), hvd.size())]
    opt = hvd.DistributedOptimizer(tf.train.MomentumOptimizer(0.01 * hvd.size(), 0.9))
    train = opt.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        hvd.broadcast_variables(sess, root_rank=0)
        ...                                   # rank 0 alone writes checkpoints and logs

Importing this package does not import mpi4py; :func:`init` does.  See docs/distributed.md.
"""

from flowgrad.distributed._context import (init, is_initialized, local_rank, local_size,
                                           mpi_threads_supported, rank, shutdown, size)
from flowgrad.distributed.hooks import (BroadcastGlobalVariablesHook, broadcast_global_variables,
                                        broadcast_variables)
from flowgrad.distributed.ops import (allgather, allreduce, broadcast, grouped_allreduce,
                                      grouped_broadcast, local_rank_op, local_size_op, rank_op,
                                      size_op)
from flowgrad.distributed.optimizer import (Average, Compression, DistributedOptimizer, Sum,
                                            allreduce_gradients, fusion_buckets)
from flowgrad.distributed.sharding import shard, shard_indices

__all__ = [
    "init", "is_initialized", "shutdown", "rank", "size", "local_rank", "local_size",
    "mpi_threads_supported", "allreduce", "grouped_allreduce", "allgather", "broadcast",
    "grouped_broadcast", "rank_op", "size_op", "local_rank_op", "local_size_op",
    "DistributedOptimizer", "Average", "Sum", "Compression", "allreduce_gradients",
    "fusion_buckets", "broadcast_global_variables", "broadcast_variables",
    "BroadcastGlobalVariablesHook", "shard_indices", "shard",
]
