"""Splitting a data set between ranks: each rank trains on its own disjoint shard.

``shard_indices(n, rank, size)`` follows ``tf.data.Dataset.shard(num_shards, index)``:
element ``i`` goes to rank ``i % size``.  With ``drop_remainder=True`` every rank gets
exactly ``n // size`` elements, so that batches have equal sizes on all ranks (an average
of per-rank averages then equals the average over the whole batch).

How the command line uses it: ``flowgrad train --workers N`` starts N ranks, and each
takes ``x[shard_indices(len(x), rank(), size())]`` of the training set (the validation set
is evaluated on rank 0, or sharded and its metric averaged with ``allreduce``).
"""

from __future__ import annotations

import numpy as np


def shard_indices(n: int, rank: int | None = None, size: int | None = None, *,
                  contiguous: bool = False, drop_remainder: bool = False) -> np.ndarray:
    """The indices of ``range(n)`` that belong to ``rank`` of ``size`` ranks.

    Args:
        n: number of elements.
        rank, size: this rank and the number of ranks (default: the MPI job's).
        contiguous: one contiguous block per rank instead of every ``size``-th element.
        drop_remainder: give every rank exactly ``n // size`` elements.

    >>> shard_indices(10, 1, 3)
    array([1, 4, 7])
    >>> shard_indices(10, 1, 3, contiguous=True)
    array([4, 5, 6])
    """
    if rank is None or size is None:
        from flowgrad.distributed import _context  # noqa: PLC0415
        rank = _context.rank() if rank is None else rank
        size = _context.size() if size is None else size
    n, rank, size = int(n), int(rank), int(size)
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"shard_indices: need 0 <= rank < size, got rank={rank}, size={size}")
    if n < 0:
        raise ValueError(f"shard_indices: n must be >= 0, got {n}")
    per = n // size
    if contiguous:
        if drop_remainder:
            return np.arange(rank * per, (rank + 1) * per)
        extra = n % size          # the first `extra` ranks take one more element
        start = rank * per + min(rank, extra)
        return np.arange(start, start + per + (rank < extra))
    idx = np.arange(rank, n, size)
    return idx[:per] if drop_remainder else idx


def shard(arrays, rank: int | None = None, size: int | None = None, **kwargs):
    """``rank``'s shard of one array or of a tuple of arrays with the same first dimension."""
    single = isinstance(arrays, np.ndarray)
    items = [arrays] if single else list(arrays)
    n = len(items[0])
    for a in items[1:]:
        if len(a) != n:
            raise ValueError(f"shard: arrays have different lengths ({n} and {len(a)})")
    idx = shard_indices(n, rank, size, **kwargs)
    out = [np.asarray(a)[idx] for a in items]
    return out[0] if single else tuple(out)
