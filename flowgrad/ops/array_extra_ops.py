"""Array odds and ends of TF1: unique, masks, sequence reversal, segment reductions,
scatter updates on variables, space/depth shuffles, meshgrid, linspace, set differences.

Ops that can be written from primitives (``boolean_mask``, ``sequence_mask``,
``space_to_depth``, ``meshgrid``) are composites and get their gradients for free.
"""

from __future__ import annotations

import builtins

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_value,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops._xp import ufunc_at
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R


def _require_int(node: NodeSpec, i: int, what: str) -> None:
    if not node.inputs[i].dtype.is_integer:
        node.fail(f"{what} must be int32 or int64, got {node.inputs[i].dtype.name}", TypeError)


# ----- unique, set differences, permutations -------------------------------------------------
def _unique_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims not in (None, 1):
        node.fail(f"x must be a vector, got shape {x.shape}")
    out = [(TensorShape([None]), x.dtype), (x.shape if x.shape.ndims else TensorShape([None]),
                                            node.attrs["out_idx"])]
    if node.attrs["with_counts"]:
        out.append((TensorShape([None]), node.attrs["out_idx"]))
    return out


@op("Unique", shape=_unique_shape)
def _unique(xp, x, *, out_idx=_dt.int32, with_counts=False):
    _, first, inverse, counts = xp.unique(x, return_index=True, return_inverse=True,
                                          return_counts=True)
    order = xp.argsort(first, kind="stable")          # TF keeps first-occurrence order
    rank = xp.empty_like(order)
    rank[order] = xp.arange(order.size)
    y = x[xp.sort(first)]
    idx = rank[inverse.reshape(-1)].astype(out_idx.np)
    if with_counts:
        return y, idx, counts[order].astype(out_idx.np)
    return y, idx


NotDifferentiable("Unique")


def unique(x, out_idx=_dt.int32, name=None):
    """``tf.unique``: ``(y, idx)``: the distinct values in order of first occurrence, and for
    each element of ``x`` its index in ``y``.

    >>> import flowgrad as tf
    >>> y, idx = tf.Session().run(tf.unique([1, 1, 2, 4, 4, 4, 7, 8, 8]))
    >>> y.tolist(), idx.tolist()
    ([1, 2, 4, 7, 8], [0, 0, 1, 2, 2, 2, 3, 4, 4])
    """
    return tuple(_unique(x, out_idx=_dt.as_dtype(out_idx), name=name or "Unique"))


def unique_with_counts(x, out_idx=_dt.int32, name=None):
    """``tf.unique_with_counts``: ``(y, idx, count)``."""
    return tuple(_unique(x, out_idx=_dt.as_dtype(out_idx), with_counts=True,
                         name=name or "UniqueWithCounts"))


def _list_diff_shape(node: NodeSpec):
    x, y = node.inputs
    if x.dtype != y.dtype:
        node.fail(f"x and y must have the same dtype, got {x.dtype.name} and {y.dtype.name}",
                  TypeError)
    return [(TensorShape([None]), x.dtype), (TensorShape([None]), node.attrs["out_idx"])]


@op("ListDiff", shape=_list_diff_shape)
def _list_diff(xp, x, y, *, out_idx=_dt.int32):
    keep = ~xp.isin(x, y)
    return x[keep], xp.flatnonzero(keep).astype(out_idx.np)


NotDifferentiable("ListDiff")


def setdiff1d(x, y, index_dtype=_dt.int32, name=None):
    """``tf.setdiff1d``: ``(out, idx)``: the elements of ``x`` not in ``y``, in order."""
    return tuple(_list_diff(x, y, out_idx=_dt.as_dtype(index_dtype), name=name or "ListDiff"))


def _invert_permutation_shape(node: NodeSpec):
    _require_int(node, 0, "x")
    x = node.inputs[0]
    if x.shape.ndims not in (None, 1):
        node.fail(f"x must be a vector, got shape {x.shape}")
    return x.shape, x.dtype


@op("InvertPermutation", shape=_invert_permutation_shape)
def _invert_permutation(xp, x):
    n = x.shape[0]
    if sorted(x.tolist()) != list(builtins.range(n)):
        raise ValueError(f"{x.tolist()} is not a permutation of 0..{n - 1}")
    out = xp.empty_like(x)
    out[x] = xp.arange(n, dtype=x.dtype)
    return out


NotDifferentiable("InvertPermutation")


def invert_permutation(x, name=None) -> Tensor:
    """``tf.invert_permutation``: ``y`` with ``y[x[i]] = i``."""
    return _invert_permutation(x, name=name or "InvertPermutation")


# ----- masks ---------------------------------------------------------------------------------
def boolean_mask(tensor, mask, name: str = "boolean_mask", axis=None) -> Tensor:
    """``tf.boolean_mask``: the slices of ``tensor`` where ``mask`` is true; ``mask``'s
    dimensions (of known rank) line up with ``tensor``'s from ``axis`` on."""
    with name_scope(name):
        tensor = convert_to_tensor(tensor, name="tensor")
        mask = convert_to_tensor(mask, name="mask")
        if mask.dtype != _dt.bool_:
            raise TypeError(f"boolean_mask: mask must be bool, got {mask.dtype.name}")
        k = mask.shape.ndims
        if k is None:
            raise ValueError("boolean_mask: the rank of mask must be known statically")
        if k == 0:
            raise ValueError("boolean_mask: mask cannot be a scalar")
        axis = 0 if axis is None else int(axis)
        ts = tensor.shape
        if ts.ndims is not None:
            axis %= ts.ndims
            if not ts[axis:axis + k].is_compatible_with(mask.shape):
                raise ValueError(f"boolean_mask: shapes {ts[axis:axis + k]} and {mask.shape} "
                                 "are incompatible")
        full = A.shape(tensor)
        lead = A.strided_slice(full, [0], [axis], end_mask=0) if axis else None
        mid = R.reduce_prod(full[axis:axis + k], axis=[0], keepdims=True)
        tail = full[axis + k:]
        new_shape = A.concat([p for p in (lead, mid, tail) if p is not None], 0)
        flat = A.reshape(tensor, new_shape)
        idx = A.squeeze(A.where_indices(A.reshape(mask, [-1])), axis=[1])
        out = A.gather(flat, idx, axis=axis)
        if ts.ndims is not None:
            out.set_shape(ts[:axis].concatenate([None]).concatenate(ts[axis + k:]))
        return out


def sequence_mask(lengths, maxlen=None, dtype=_dt.bool_, name=None) -> Tensor:
    """``tf.sequence_mask``: ``mask[..., j] = j < lengths[...]``.

    >>> import flowgrad as tf
    >>> tf.Session().run(tf.sequence_mask([1, 3], 4)).astype(int).tolist()
    [[1, 0, 0, 0], [1, 1, 1, 0]]
    """
    with name_scope(name, "SequenceMask"):
        lengths = convert_to_tensor(lengths)
        if maxlen is None:
            maxlen = R.reduce_max(lengths)
        maxlen = M.cast(convert_to_tensor(maxlen), lengths.dtype)
        row = A.range(0, maxlen, 1, dtype=lengths.dtype)
        mask = M.less(row, A.expand_dims(lengths, -1))
        return M.cast(mask, dtype)


# ----- reverse_sequence ----------------------------------------------------------------------
def _reverse_sequence_shape(node: NodeSpec):
    x, lengths = node.inputs
    _require_int(node, 1, "seq_lengths")
    sa, ba = node.attrs["seq_dim"], node.attrs["batch_dim"]
    if x.shape.ndims is not None:
        for a in (sa, ba):
            if not 0 <= a < x.shape.ndims:
                node.fail(f"axis {a} is out of range for rank {x.shape.ndims}")
        if sa == ba:
            node.fail("seq_axis and batch_axis must differ")
        if lengths.shape.ndims is not None and \
                not TensorShape([x.shape[ba]]).is_compatible_with(lengths.shape):
            node.fail(f"seq_lengths must have shape [{x.shape[ba]}], got {lengths.shape}")
    return x.shape, x.dtype


@op("ReverseSequence", shape=_reverse_sequence_shape)
def _reverse_sequence(xp, input, seq_lengths, *, seq_dim, batch_dim=0):  # noqa: A002
    n = input.shape[seq_dim]
    if seq_lengths.size and (int(seq_lengths.max()) > n or int(seq_lengths.min()) < 0):
        raise ValueError(f"seq_lengths must be in [0, {n}], got {seq_lengths.tolist()}")
    t = xp.arange(n)
    lens = seq_lengths.astype(np.int64)[:, None]                  # [batch, 1]
    src = xp.where(t[None, :] < lens, lens - 1 - t[None, :], t[None, :])   # [batch, time]
    shape = [1] * input.ndim
    shape[batch_dim], shape[seq_dim] = src.shape[0], n
    if batch_dim > seq_dim:
        src = src.T
    src = src.reshape(shape)
    return xp.take_along_axis(input, xp.broadcast_to(src, input.shape), axis=seq_dim)


@_reverse_sequence.grad
def _reverse_sequence_grad(op, dy):
    return [_reverse_sequence(dy, op.inputs[1], seq_dim=op.attrs["seq_dim"],
                              batch_dim=op.attrs["batch_dim"]), None]


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None,  # noqa: A002
                     name=None, seq_dim=None, batch_dim=None) -> Tensor:
    """``tf.reverse_sequence``: reverses the first ``seq_lengths[b]`` steps of each batch
    entry ``b`` along ``seq_axis``."""
    seq_axis = seq_dim if seq_axis is None else seq_axis
    batch_axis = (batch_dim if batch_dim is not None else 0) if batch_axis is None \
        else batch_axis
    if seq_axis is None:
        raise ValueError("reverse_sequence needs seq_axis")
    x = convert_to_tensor(input)
    r = x.shape.ndims
    if r is not None:
        seq_axis, batch_axis = seq_axis % r, batch_axis % r
    return _reverse_sequence(x, seq_lengths, seq_dim=int(seq_axis), batch_dim=int(batch_axis),
                             name=name or "ReverseSequence")


# ----- segment reductions --------------------------------------------------------------------
def _segment_kernel(xp, data, ids, n, kind):
    """Reduces the rows of ``data`` (leading dims matching ``ids``) into ``n`` segments;
    negative ids are dropped."""
    rest = data.shape[ids.ndim:]
    flat_ids = ids.reshape(-1)
    rows = data.reshape((-1,) + rest)
    keep = flat_ids >= 0
    if not keep.all():
        flat_ids, rows = flat_ids[keep], rows[keep]
    if flat_ids.size and int(flat_ids.max()) >= n:
        raise ValueError(f"segment id {int(flat_ids.max())} is out of range [0, {n})")
    if kind in ("sum", "mean"):
        out = xp.zeros((n,) + rest, dtype=data.dtype)
        A._scatter_add(xp, out, flat_ids, rows)
        if kind == "mean":
            counts = xp.bincount(flat_ids, minlength=n).reshape((n,) + (1,) * len(rest))
            out = out / xp.maximum(counts, 1)
            if data.dtype.kind in "iu":     # integer means truncate, as TF's kernels do
                out = xp.trunc(out)
            out = out.astype(data.dtype)
        return out
    if kind == "prod":
        out = xp.ones((n,) + rest, dtype=data.dtype)
        ufunc_at(xp, "multiply", out, flat_ids, rows)
        return out
    if data.dtype.kind == "f":
        lowest, highest = -np.inf, np.inf
    else:
        info = np.iinfo(data.dtype)
        lowest, highest = info.min, info.max
    out = xp.full((n,) + rest, lowest if kind == "max" else highest, dtype=data.dtype)
    ufunc_at(xp, "maximum" if kind == "max" else "minimum", out, flat_ids, rows)
    return out


def _segment_shape(node: NodeSpec):
    data, ids = node.inputs[:2]
    _require_int(node, 1, "segment_ids")
    sorted_ = node.attrs.get("sorted", False)
    if sorted_ and ids.shape.ndims not in (None, 1):
        node.fail(f"segment_ids must be a vector, got shape {ids.shape}")
    if data.shape.ndims is None or ids.shape.ndims is None:
        return TensorShape(None), data.dtype
    if not data.shape[:ids.shape.ndims].is_compatible_with(ids.shape):
        node.fail(f"segment_ids shape {ids.shape} must be a prefix of data shape {data.shape}")
    n = None
    if len(node.inputs) > 2:
        c = constant_value(node.inputs[2])
        n = None if c is None else int(c)
    return TensorShape([n]).concatenate(data.shape[ids.shape.ndims:]), data.dtype


def _sorted_count(ids) -> int:
    if ids.size == 0:
        return 0
    if int(ids.min()) < 0:
        raise ValueError("segment ids must be non-negative")
    if bool((ids[1:] < ids[:-1]).any()):
        raise ValueError(f"segment ids are not increasing: {ids.tolist()}")
    return int(ids[-1]) + 1


@op("SegmentReduce", shape=_segment_shape)
def _segment_reduce(xp, data, segment_ids, *, kind, sorted=True):  # noqa: A002
    n = _sorted_count(segment_ids)
    if kind == "sum" and xp is np and data.ndim > 1 and segment_ids.size:
        # ids are sorted: one reduceat over the runs, no scatter (see the benchmark)
        starts = np.flatnonzero(np.r_[True, segment_ids[1:] != segment_ids[:-1]])
        out = np.zeros((n,) + data.shape[1:], dtype=data.dtype)
        out[segment_ids[starts]] = np.add.reduceat(data, starts, axis=0)
        return out
    out = _segment_kernel(xp, data, segment_ids, n, kind)
    if kind in ("max", "min"):
        # TF's sorted segment max/min give 0 for an empty segment
        counts = xp.bincount(segment_ids, minlength=out.shape[0])
        out[counts == 0] = 0
    return out


@op("UnsortedSegmentReduce", shape=_segment_shape)
def _unsorted_segment_reduce(xp, data, segment_ids, num_segments, *, kind):
    return _segment_kernel(xp, data, segment_ids, int(num_segments), kind)


def _num_segments_of(op_) -> Tensor:
    if op_.type == "UnsortedSegmentReduce":
        return op_.inputs[2]
    return A.shape(op_.outputs[0])[0]


def _segment_grad(op_, dy):
    data, ids = op_.inputs[:2]
    kind = op_.attrs["kind"]
    n = _num_segments_of(op_)
    extra = [None] if op_.type == "UnsortedSegmentReduce" else []
    if kind == "sum":
        return [_gather_segments(dy, ids)] + [None] + extra
    if kind == "mean":
        counts = unsorted_segment_sum(A.ones_like(data), ids, n)
        return [_gather_segments(dy / M.maximum(counts, 1.0), ids)] + [None] + extra
    if kind == "prod":
        # y / x, except where x is 0: then the product of the others (0 if another is 0)
        zero = M.equal(data, A.zeros_like(data))
        one = A.ones_like(data)
        n_zero = unsorted_segment_sum(M.cast(zero, data.dtype), ids, n)
        others = _unsorted_segment_reduce(M.where(zero, one, data), ids, n, kind="prod")
        y_over_x = _gather_segments(op_.outputs[0], ids) / M.where(zero, one, data)
        at_zero = M.where(M.equal(_gather_segments(n_zero, ids), one), _gather_segments(
            others, ids), A.zeros_like(data))
        return [_gather_segments(dy, ids) * M.where(zero, at_zero, y_over_x)] + [None] + extra
    # max / min: the gradient is split evenly between the elements that attain it
    y = op_.outputs[0]
    hit = M.cast(M.equal(data, _gather_segments(y, ids)), data.dtype)
    n_hit = unsorted_segment_sum(hit, ids, n)
    return [hit * _gather_segments(dy / M.maximum(n_hit, 1.0), ids)] + [None] + extra


_segment_reduce.grad(_segment_grad)
_unsorted_segment_reduce.grad(_segment_grad)


def _gather_segments_shape(node: NodeSpec):
    p, ids = node.inputs
    if p.shape.ndims is None or ids.shape.ndims is None:
        return TensorShape(None), p.dtype
    return ids.shape.concatenate(p.shape[1:]), p.dtype


@op("SegmentGather", shape=_gather_segments_shape)
def _gather_segments(xp, params, segment_ids):
    """``params[segment_ids]`` with zeros where an id is negative (a dropped element)."""
    safe = xp.maximum(segment_ids, 0)
    out = xp.take(params, safe, axis=0)
    if (segment_ids < 0).any():
        out = out * (segment_ids >= 0).reshape(segment_ids.shape + (1,) * (params.ndim - 1))
    return out


@_gather_segments.grad
def _gather_segments_grad(op_, dy):
    p, ids = op_.inputs
    return [unsorted_segment_sum(dy, ids, A.shape(p)[0]), None]


def _segment_api(kind: str, type_name: str):
    def segment(data, segment_ids, name=None) -> Tensor:
        return _segment_reduce(data, segment_ids, kind=kind, name=name or type_name)
    segment.__name__ = f"segment_{kind}"
    segment.__doc__ = (f"``tf.segment_{kind}``: the {kind} of the rows of ``data`` in each "
                       "segment; ``segment_ids`` is sorted, and ids that are skipped give an "
                       f"empty segment{' (0)' if kind in ('max', 'min') else ''}.")
    return segment


def _unsorted_api(kind: str, type_name: str):
    def unsorted_segment(data, segment_ids, num_segments, name=None) -> Tensor:
        return _unsorted_segment_reduce(data, segment_ids,
                                        convert_to_tensor(num_segments, dtype=_dt.int32)
                                        if not isinstance(num_segments, Tensor) else
                                        num_segments, kind=kind, name=name or type_name)
    unsorted_segment.__name__ = f"unsorted_segment_{kind}"
    unsorted_segment.__doc__ = (f"``tf.unsorted_segment_{kind}``: the {kind} of the rows of "
                                "``data`` in each of ``num_segments`` segments; ids may come "
                                "in any order, negative ids are dropped.")
    return unsorted_segment


segment_sum = _segment_api("sum", "SegmentSum")
segment_mean = _segment_api("mean", "SegmentMean")
segment_max = _segment_api("max", "SegmentMax")
segment_min = _segment_api("min", "SegmentMin")
segment_prod = _segment_api("prod", "SegmentProd")
unsorted_segment_sum = _unsorted_api("sum", "UnsortedSegmentSum")
unsorted_segment_mean = _unsorted_api("mean", "UnsortedSegmentMean")
unsorted_segment_max = _unsorted_api("max", "UnsortedSegmentMax")
unsorted_segment_min = _unsorted_api("min", "UnsortedSegmentMin")
unsorted_segment_prod = _unsorted_api("prod", "UnsortedSegmentProd")

# ----- space/depth shuffles, meshgrid, linspace ------------------------------------------------
def _nhwc(x: Tensor, data_format: str):
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return x if data_format == "NHWC" else A.transpose(x, [0, 2, 3, 1])


def _from_nhwc(x: Tensor, data_format: str):
    return x if data_format == "NHWC" else A.transpose(x, [0, 3, 1, 2])


def space_to_depth(input, block_size, name=None, data_format="NHWC") -> Tensor:  # noqa: A002
    """``tf.space_to_depth``: moves ``block_size x block_size`` spatial blocks into channels."""
    b = int(block_size)
    if b < 2:
        raise ValueError(f"block_size must be at least 2, got {b}")
    with name_scope(name, "SpaceToDepth") as scope:
        x = _nhwc(convert_to_tensor(input), data_format)
        n, h, w, c = _dims4(x, "space_to_depth")
        if isinstance(h, int) and h % b or isinstance(w, int) and w % b:
            raise ValueError(f"space_to_depth: height {h} and width {w} must be divisible by "
                             f"block_size {b}")
        y = A.reshape(x, A.stack([n, h // b, b, w // b, b, c]))
        y = A.transpose(y, [0, 1, 3, 2, 4, 5])
        y = A.reshape(y, A.stack([n, h // b, w // b, c * b * b]))
        return A.identity(_from_nhwc(y, data_format), name=scope)


def depth_to_space(input, block_size, name=None, data_format="NHWC") -> Tensor:  # noqa: A002
    """``tf.depth_to_space``: the inverse of ``space_to_depth``."""
    b = int(block_size)
    if b < 2:
        raise ValueError(f"block_size must be at least 2, got {b}")
    with name_scope(name, "DepthToSpace") as scope:
        x = _nhwc(convert_to_tensor(input), data_format)
        n, h, w, c = _dims4(x, "depth_to_space")
        if isinstance(c, int) and c % (b * b):
            raise ValueError(f"depth_to_space: depth {c} must be divisible by block_size^2 = "
                             f"{b * b}")
        y = A.reshape(x, A.stack([n, h, w, b, b, c // (b * b)]))
        y = A.transpose(y, [0, 1, 3, 2, 4, 5])
        y = A.reshape(y, A.stack([n, h * b, w * b, c // (b * b)]))
        return A.identity(_from_nhwc(y, data_format), name=scope)


def _dims4(x: Tensor, what: str):
    if x.shape.ndims not in (None, 4):
        raise ValueError(f"{what} needs a 4-D input, got shape {x.shape}")
    dyn = A.shape(x)
    return [d if d is not None else dyn[i] for i, d in
            enumerate(x.shape.as_list() if x.shape.ndims else [None] * 4)]


def meshgrid(*args, **kwargs) -> list[Tensor]:
    """``tf.meshgrid``: N-D coordinate arrays from 1-D ones (``indexing='xy'`` or ``'ij'``)."""
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        raise TypeError(f"meshgrid got unexpected keyword arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing must be 'xy' or 'ij', got {indexing!r}")
    with name_scope(name):
        xs = [A.reshape(convert_to_tensor(a), [-1]) for a in args]
        n = len(xs)
        outs = []
        for i, x in enumerate(xs):
            shape = [1] * n
            shape[i] = -1
            outs.append(A.reshape(x, shape))
        if indexing == "xy" and n > 1:
            outs[0] = A.reshape(xs[0], [1, -1] + [1] * (n - 2))
            outs[1] = A.reshape(xs[1], [-1, 1] + [1] * (n - 2))
        sizes = [A.size(x) for x in xs]
        if indexing == "xy" and n > 1:
            sizes[0], sizes[1] = sizes[1], sizes[0]
        full = A.stack(sizes)
        return [A.broadcast_to(o, full) for o in outs]


def _linspace_shape(node: NodeSpec):
    start, stop, num = node.inputs
    if not start.dtype.is_floating:
        node.fail(f"start must be a float, got {start.dtype.name}", TypeError)
    c = constant_value(num)
    return TensorShape([None if c is None else int(c)]), start.dtype


@op("LinSpace", shape=_linspace_shape, same_dtype=("start", "stop"))
def _linspace(xp, start, stop, num):
    if int(num) < 1:
        raise ValueError(f"num must be positive, got {int(num)}")
    return xp.linspace(start, stop, int(num)).astype(start.dtype)


NotDifferentiable("LinSpace")


def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    """``tf.linspace``: ``num`` evenly spaced values from ``start`` to ``stop`` inclusive."""
    start = convert_to_tensor(start)
    if start.dtype.is_integer:
        raise TypeError("tf.linspace needs float start/stop, e.g. 0.0 and 1.0")
    return _linspace(start, convert_to_tensor(stop, dtype=start.dtype),
                     convert_to_tensor(num, dtype=_dt.int32), name=name or "LinSpace")


lin_space = linspace


def log_sigmoid(x, name=None) -> Tensor:
    """``tf.log_sigmoid``: ``log(1 / (1 + exp(-x)))``, computed stably."""
    with name_scope(name, "LogSigmoid") as scope:
        x = convert_to_tensor(x)
        zero = convert_to_tensor(0, dtype=x.dtype)
        return M.subtract(M.minimum(x, zero), M.log1p(M.exp(-M.abs(x))), name=scope)


from flowgrad.ops.partition_ops import (bincount, confusion_matrix, dynamic_partition,  # noqa: E402,F401
                                        dynamic_stitch, reduce_euclidean_norm, roll)
from flowgrad.ops.scatter_ops import (scatter_add, scatter_div, scatter_max, scatter_min,  # noqa: E402,F401
                                      scatter_mul, scatter_nd_add, scatter_nd_sub,
                                      scatter_nd_update, scatter_sub, scatter_update)
