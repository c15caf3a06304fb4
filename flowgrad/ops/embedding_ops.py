"""``embedding_lookup`` with sparse gradients, and ``IndexedSlices``.

The gradient of an embedding lookup touches only the looked-up rows, so it is returned as
``IndexedSlices(values, indices, dense_shape)`` -- one row of ``values`` per looked-up id
-- instead of a dense tensor of the table's size.  The gradient engine sums such
gradients by concatenation, optimizers with an ``_apply_sparse`` method apply them as a
scatter update, and anything else gets the dense tensor on conversion
(``convert_to_tensor``), as in TensorFlow.
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import NodeSpec, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R


class IndexedSlices:
    """A sparse representation of rows of a tensor: ``dense[indices[i]] += values[i]``."""

    def __init__(self, values: Tensor, indices: Tensor, dense_shape: Tensor | None = None):
        self._values, self._indices, self._dense_shape = values, indices, dense_shape
        self._dense: Tensor | None = None

    @property
    def values(self) -> Tensor:
        return self._values

    @property
    def indices(self) -> Tensor:
        return self._indices

    @property
    def dense_shape(self) -> Tensor | None:
        return self._dense_shape

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def name(self) -> str:
        return self._values.name

    @property
    def op(self):
        return self._values.op

    @property
    def graph(self):
        return self._values.graph

    @property
    def device(self) -> str:
        return self._values.device

    @property
    def shape(self) -> TensorShape:
        from flowgrad.framework.registry import constant_shape  # noqa: PLC0415
        if self._dense_shape is None:
            return TensorShape(None)
        return constant_shape(self._dense_shape)

    def _as_graph_element(self) -> Tensor:
        """The dense tensor (rows scatter-added into zeros), built once on first use."""
        if self._dense is None:
            if self._dense_shape is None:
                raise ValueError("Cannot convert IndexedSlices without dense_shape to a "
                                 "dense tensor.")
            with name_scope(None), name_scope(self._values.op.name + "_dense/"):
                self._dense = A._gather_grad_op(self._values, self._indices,
                                                self._dense_shape, axis=0)
        return self._dense

    def __repr__(self) -> str:
        return (f"IndexedSlices(indices={self._indices!r}, values={self._values!r}, "
                f"dense_shape={self._dense_shape!r})")


def concat_slices(parts: list[IndexedSlices]) -> IndexedSlices:
    """The sum of several IndexedSlices of one tensor: their rows, concatenated."""
    if len(parts) == 1:
        return parts[0]
    vals = A.concat([p.values for p in parts], 0)
    idx = A.concat([M.cast(p.indices, _dt.int64) if p.indices.dtype != _dt.int64 else
                    p.indices for p in parts], 0)
    return IndexedSlices(vals, idx, parts[0].dense_shape)


# ----- the lookup op --------------------------------------------------------------------------
def _lookup_shape(node: NodeSpec):
    p, i = node.inputs
    if not i.dtype.is_integer:
        node.fail(f"ids must be integers, got {i.dtype.name}", TypeError)
    if p.shape.ndims == 0:
        node.fail("params must have rank >= 1")
    if p.shape.ndims is None or i.shape.ndims is None:
        return TensorShape(None), p.dtype
    return i.shape.concatenate(p.shape[1:]), p.dtype


@op("EmbeddingLookup", shape=_lookup_shape, broadcasting=False)
def _lookup(xp, params, ids):
    n = params.shape[0]
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= n):
        bad = ids[(ids < 0) | (ids >= n)].reshape(-1)[0]
        raise IndexError(f"ids contains {int(bad)}, which is not in [0, {n}) (the embedding "
                         "table's rows)")
    return xp.take(params, ids, axis=0)


@_lookup.grad
def _lookup_grad(op, dy):
    params, ids = op.inputs
    shape = A.shape(params, out_type=_dt.int64)
    row = A.shape(params)[1:]
    values = A.reshape(dy, A.concat([[-1], row], 0))
    return [IndexedSlices(values, A.reshape(ids, [-1]), shape), None]


def _clip_rows(x: Tensor, ids: Tensor, max_norm) -> Tensor:
    rank = x.shape.ndims
    axes = list(range(ids.shape.ndims, rank)) if rank is not None and ids.shape.ndims \
        is not None else [-1]
    norm = M.sqrt(R.reduce_sum(M.square(x), axis=axes, keepdims=True))
    mx = convert_to_tensor(max_norm, dtype=x.dtype)
    return x * M.minimum(M.div_no_nan(mx, norm), convert_to_tensor(1, dtype=x.dtype))


def embedding_lookup(params, ids, partition_strategy: str = "mod", name: str | None = None,
                     validate_indices: bool = True, max_norm=None) -> Tensor:
    """``tf.nn.embedding_lookup``: rows ``params[ids]``; the gradient is IndexedSlices.

    ``params`` is a table (a Variable or tensor) or a list of tables sharded along the
    first axis.  With several tables, ``partition_strategy="div"`` places ids in contiguous
    blocks; ``"mod"`` places id ``i`` in table ``i % n`` at row ``i // n``.

    >>> emb = tf.get_variable("emb", [1000, 64])
    >>> vecs = tf.nn.embedding_lookup(emb, word_ids)    # [batch, 64]
    """
    tables = list(params) if isinstance(params, list | tuple) else [params]
    if not tables:
        raise ValueError("Need at least one param")
    with name_scope(name, "embedding_lookup") as scope:
        ids = convert_to_tensor(ids)
        if len(tables) == 1:            # TF1's names: embedding_lookup, embedding_lookup/Identity
            out = _lookup(tables[0], ids, name=scope)
        elif partition_strategy == "div":
            out = _lookup(A.concat([convert_to_tensor(t) for t in tables], 0), ids)
        elif partition_strategy == "mod":
            out = _mod_lookup([convert_to_tensor(t) for t in tables], ids)
        else:
            raise ValueError(f"Unrecognized partition strategy: {partition_strategy}")
        if max_norm is not None:
            out = _clip_rows(out, ids, max_norm)
        return A.identity(out)


def _mod_lookup(tables: list[Tensor], ids: Tensor) -> Tensor:
    # interleave the shards back into one table: row i of the full table is
    # tables[i % n][i // n]; each shard's gradient stays sparse
    n = len(tables)
    parts = []
    flat = A.reshape(ids, [-1])
    n_t = convert_to_tensor(n, dtype=ids.dtype)
    shard = M.floormod(flat, n_t)
    row = M.floordiv(flat, n_t)
    out = None
    for k, t in enumerate(tables):
        mine = M.cast(M.equal(shard, convert_to_tensor(k, dtype=ids.dtype)), t.dtype)
        # ids of other shards look up a valid row (0) and are masked out
        safe = M.where(M.equal(shard, convert_to_tensor(k, dtype=ids.dtype)), row,
                       A.zeros_like(row))
        vals = _lookup(t, safe)
        mask = A.reshape(mine, A.concat([A.shape(mine), A.ones_like(A.shape(vals)[1:])], 0))
        parts.append(vals * mask)
    out = M.add_n(parts)
    return A.reshape(out, A.concat([A.shape(ids), A.shape(out)[1:]], 0))
