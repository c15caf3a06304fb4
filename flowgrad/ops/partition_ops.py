"""Partitions, counts and shifts: ``dynamic_partition``/``dynamic_stitch``, ``roll``,
``bincount``, ``confusion_matrix``, ``reduce_euclidean_norm``."""

from __future__ import annotations

import builtins

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R




def _require_int(node: NodeSpec, i: int, what: str) -> None:
    if not node.inputs[i].dtype.is_integer:
        node.fail(f"{what} must be int32 or int64, got {node.inputs[i].dtype.name}", TypeError)


# ----- roll, dynamic partition/stitch, bincount, confusion matrix ----------------------------
@op("Roll", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype))
def _roll(xp, input, *, shift, axis):  # noqa: A002
    return xp.roll(input, shift, axis)


@_roll.grad
def _roll_grad(op_, dy):
    return [_roll(dy, shift=tuple(-s for s in op_.attrs["shift"]), axis=op_.attrs["axis"])]


def roll(input, shift, axis, name=None) -> Tensor:  # noqa: A002
    """``tf.roll``: shifts elements along ``axis`` by ``shift`` (wrapping around)."""
    shifts = A._int_list([shift] if isinstance(shift, int) else shift, "shift")
    axes = A._int_list([axis] if isinstance(axis, int) else axis, "axis")
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shift {shifts} and axis {axes} must have the same length")
    return _roll(input, shift=tuple(shifts), axis=tuple(axes), name=name or "Roll")


def _dynamic_partition_shape(node: NodeSpec):
    data, parts = node.inputs
    _require_int(node, 1, "partitions")
    n = node.attrs["num_partitions"]
    if data.shape.ndims is None or parts.shape.ndims is None:
        return [(TensorShape(None), data.dtype)] * n
    if not data.shape[:parts.shape.ndims].is_compatible_with(parts.shape):
        node.fail(f"partitions shape {parts.shape} must be a prefix of data shape {data.shape}")
    return [(TensorShape([None]).concatenate(data.shape[parts.shape.ndims:]), data.dtype)] * n


@op("DynamicPartition", shape=_dynamic_partition_shape)
def _dynamic_partition(xp, data, partitions, *, num_partitions):
    flat = partitions.reshape(-1)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= num_partitions):
        raise ValueError(f"partitions must be in [0, {num_partitions}), got {flat.tolist()}")
    rows = data.reshape((-1,) + data.shape[partitions.ndim:])
    return [rows[flat == i] for i in builtins.range(num_partitions)]


@_dynamic_partition.grad
def _dynamic_partition_grad(op_, *dys):
    data, parts = op_.inputs
    n = op_.attrs["num_partitions"]
    idx = A.reshape(A.range(0, A.size(parts)), A.shape(parts))
    idx_parts = dynamic_partition(idx, parts, n)
    stitched = dynamic_stitch(idx_parts, list(dys))
    return [A.reshape(stitched, A.shape(data)), None]


def dynamic_partition(data, partitions, num_partitions, name=None) -> list[Tensor]:
    """``tf.dynamic_partition``: splits the rows of ``data`` into ``num_partitions`` lists
    by ``partitions``, keeping their order."""
    return list(_dynamic_partition(data, partitions, num_partitions=int(num_partitions),
                                   name=name or "DynamicPartition"))


def _dynamic_stitch_shape(node: NodeSpec):
    k = len(node.inputs) // 2
    idx, data = node.inputs[:k], node.inputs[k:]
    dt = data[0].dtype
    tail = None
    for i, d in zip(idx, data):
        if d.dtype != dt:
            node.fail(f"all data must have one dtype, got {dt.name} and {d.dtype.name}",
                      TypeError)
        if i.shape.ndims is not None and d.shape.ndims is not None:
            t = d.shape[i.shape.ndims:]
            tail = t if tail is None else tail.merge_with(t)
    return TensorShape([None]).concatenate(tail if tail is not None else TensorShape(None)) \
        if tail is not None else TensorShape(None), dt


@op("DynamicStitch", shape=_dynamic_stitch_shape)
def _dynamic_stitch(xp, *inputs):
    k = len(inputs) // 2
    idx, data = inputs[:k], inputs[k:]
    n = 1 + max((int(i.max()) for i in idx if i.size), default=-1)
    tail = data[0].shape[idx[0].ndim:]
    out = xp.zeros((n,) + tail, dtype=data[0].dtype)
    for i, d in zip(idx, data):      # later lists win on repeated indices, as in TF
        out[i.reshape(-1)] = d.reshape((-1,) + tail)
    return out


@_dynamic_stitch.grad
def _dynamic_stitch_grad(op_, dy):
    k = len(op_.inputs) // 2
    idx = op_.inputs[:k]
    return [None] * k + [A.gather(dy, i) for i in idx]


def dynamic_stitch(indices, data, name=None) -> Tensor:
    """``tf.dynamic_stitch``: ``merged[indices[m][i]] = data[m][i]``."""
    if len(indices) != len(data):
        raise ValueError(f"dynamic_stitch needs as many index lists as data lists, got "
                         f"{len(indices)} and {len(data)}")
    return _dynamic_stitch(list(indices) + list(data), name=name or "DynamicStitch")


def _bincount_shape(node: NodeSpec):
    _require_int(node, 0, "arr")
    return TensorShape([None]), node.attrs["dtype"]


@op("Bincount", shape=_bincount_shape)
def _bincount(xp, arr, weights, *, minlength=0, maxlength=-1, dtype=_dt.int32):
    flat = arr.reshape(-1)
    if flat.size and int(flat.min()) < 0:
        raise ValueError("bincount: arr must be non-negative")
    w = None if weights.size == 0 else weights.reshape(-1)
    if maxlength >= 0:
        keep = flat < maxlength
        flat = flat[keep]
        w = None if w is None else w[keep]
    out = xp.bincount(flat, weights=w, minlength=max(minlength, 0))
    if maxlength >= 0:
        out = out[:maxlength]
    return out.astype(dtype.np)


NotDifferentiable("Bincount")


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=_dt.int32,
             name=None) -> Tensor:
    """``tf.bincount``: how often each value ``0..max(arr)`` occurs (or the sum of its
    ``weights``)."""
    dtype = _dt.as_dtype(dtype)
    w = convert_to_tensor(np.zeros([0], dtype.np)) if weights is None else \
        M.cast(convert_to_tensor(weights), dtype)
    return _bincount(arr, w, minlength=int(minlength or 0),
                     maxlength=-1 if maxlength is None else int(maxlength), dtype=dtype,
                     name=name or "bincount")


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=_dt.int32,
                     name=None) -> Tensor:
    """``tf.confusion_matrix``: ``[num_classes, num_classes]`` counts, rows are labels and
    columns predictions."""
    dtype = _dt.as_dtype(dtype)
    with name_scope(name, "confusion_matrix") as scope:
        labels = M.cast(convert_to_tensor(labels), _dt.int64)
        predictions = M.cast(convert_to_tensor(predictions), _dt.int64)
        if num_classes is None:
            num_classes = M.add(M.maximum(R.reduce_max(labels), R.reduce_max(predictions)),
                                convert_to_tensor(1, dtype=_dt.int64))
        n = M.cast(convert_to_tensor(num_classes), _dt.int64)
        flat = M.add(M.multiply(labels, n), predictions)
        w = A.ones_like(labels, dtype=dtype) if weights is None else \
            M.cast(convert_to_tensor(weights), dtype)
        from flowgrad.ops.array_extra_ops import unsorted_segment_sum  # noqa: PLC0415
        counts = unsorted_segment_sum(w, flat, M.cast(M.multiply(n, n), _dt.int32))
        return A.reshape(counts, A.stack([n, n]), name=scope)


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None) -> Tensor:  # noqa: A002
    """``tf.math.reduce_euclidean_norm``: ``sqrt(sum(x**2))`` over ``axis``."""
    with name_scope(name, "reduce_euclidean_norm") as scope:
        x = convert_to_tensor(input_tensor)
        return M.sqrt(R.reduce_sum(M.square(x), axis=axis, keepdims=keepdims), name=scope)
