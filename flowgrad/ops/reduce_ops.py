"""Reductions (sum, mean, max, ...) with TF1's ``axis``/``keepdims`` semantics, and argmax."""

from __future__ import annotations

import functools
import math

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant, constant_value,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M


def _axes(node: NodeSpec):
    x = node.inputs[0]
    axis = node.attrs["axis"]
    r = x.shape.ndims
    if axis is None:
        return None
    if r is None:
        return axis
    return tuple(sorted({A._norm_axis(a, r, node) for a in axis}))


def _reduce_shape(node: NodeSpec, dtype=None):
    x = node.inputs[0]
    axes = _axes(node)
    keep = node.attrs["keepdims"]
    dt = dtype or x.dtype
    if x.shape.ndims is None:
        return TensorShape(None), dt
    dims = x.shape.as_list()
    if axes is None:
        return TensorShape([1] * len(dims) if keep else []), dt
    if keep:
        return TensorShape([1 if i in axes else d for i, d in enumerate(dims)]), dt
    return TensorShape([d for i, d in enumerate(dims) if i not in axes]), dt


def _numeric_reduce_shape(node: NodeSpec):
    if not node.inputs[0].dtype.is_numeric:
        node.fail(f"expects a numeric input, got {node.inputs[0].dtype.name}", TypeError)
    return _reduce_shape(node)


def _bool_reduce_shape(node: NodeSpec):
    if not node.inputs[0].dtype.is_bool:
        node.fail(f"expects a bool input, got {node.inputs[0].dtype.name}", TypeError)
    return _reduce_shape(node)


_ONES: dict = {}


def gemv_reduces(shape, axis, dtype) -> bool:
    """Whether a sum over ``axis`` of an array ``shape``/``dtype`` runs as one GEMV: float32
    or float64, the axes a leading run of at least 16 rows, something left over."""
    if axis is None or shape is None or dtype is None or None in shape:
        return False
    if isinstance(axis, int | np.integer):
        axis = (axis,)
    return _gemv_reduces(tuple(shape), tuple(axis), np.dtype(dtype))


@functools.lru_cache(maxsize=1024)
def _gemv_reduces(shape: tuple, axis: tuple, dt: np.dtype) -> bool:
    nd = len(shape)
    if dt.kind != "f" or dt.itemsize < 4 or nd < 2:
        return False
    k = len(axis)
    if k >= nd or sorted(a % nd for a in axis) != list(range(k)):
        return False
    return math.prod(shape[:k]) >= 16 and math.prod(shape[k:]) > 0


def _leading_sum(xp, x, axis, keepdims):
    """Sum of a contiguous array over its leading axes as one GEMV (``ones @ x.reshape(m,
    rest)``), or None where ``gemv_reduces`` says no.  numpy reduces a tall ``(m, rest)``
    array over axis 0 one row at a time: the bias gradient of a LeNet conv (``(64*28*28,
    6)``) takes 1 ms that way and 0.14 ms as a GEMV, and the GEMV's blocked float32
    accumulation is the more accurate of the two."""
    if not gemv_reduces(x.shape, axis, x.dtype) or not x.flags.c_contiguous:
        return None
    k = 1 if isinstance(axis, int | np.integer) else len(axis)
    m = math.prod(x.shape[:k])
    key = (xp.__name__, x.dtype.str)
    ones = _ONES.get(key)
    if ones is None or ones.shape[0] < m:
        ones = _ONES[key] = xp.ones(max(m, 1 << 12), dtype=x.dtype)
    out = xp.matmul(ones[:m], x.reshape(m, -1))
    rest = x.shape[k:]
    return out.reshape((1,) * k + rest if keepdims else rest)


@op("Sum", shape=_numeric_reduce_shape)
def _sum(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    out = _leading_sum(xp, input, axis, keepdims)
    if out is not None:
        return out
    return xp.sum(input, axis=axis, keepdims=keepdims, dtype=input.dtype)


@op("Mean", shape=_numeric_reduce_shape)
def _mean(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    if input.dtype.kind in "iu":   # integer mean, truncated toward zero as in TF
        s = xp.sum(input, axis=axis, keepdims=keepdims)
        n = max(1, input.size // max(1, getattr(s, "size", 1)))
        return xp.trunc(s / n).astype(input.dtype)
    out = _leading_sum(xp, input, axis, keepdims)
    if out is not None:
        out /= input.dtype.type(input.size // out.size)
        return out
    return xp.mean(input, axis=axis, keepdims=keepdims, dtype=input.dtype)


@_sum.device_kernel("cuda")
def _sum_cuda(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    # one CuPy reduction kernel (the GEMV form of the CPU kernel pays cupy.matmul's 27 us)
    return xp.sum(input, axis=axis, keepdims=keepdims, dtype=input.dtype)


@_mean.device_kernel("cuda")
def _mean_cuda(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    if input.dtype.kind in "iu":
        return _mean.opdef.kernel(xp, input, axis=axis, keepdims=keepdims)
    return xp.mean(input, axis=axis, keepdims=keepdims, dtype=input.dtype)


@op("Max", shape=_numeric_reduce_shape)
def _max(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    return xp.max(input, axis=axis, keepdims=keepdims)


@op("Min", shape=_numeric_reduce_shape)
def _min(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    return xp.min(input, axis=axis, keepdims=keepdims)


@op("Prod", shape=_numeric_reduce_shape)
def _prod(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    return xp.prod(input, axis=axis, keepdims=keepdims, dtype=input.dtype)


@op("Any", shape=_bool_reduce_shape)
def _any(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    return xp.any(input, axis=axis, keepdims=keepdims)


@op("All", shape=_bool_reduce_shape)
def _all(xp, input, *, axis=None, keepdims=False):  # noqa: A002
    return xp.all(input, axis=axis, keepdims=keepdims)


NotDifferentiable("Any")
NotDifferentiable("All")


def _expand_back(op, dy):
    """``dy`` (the reduced gradient) reshaped so it broadcasts against the op's input."""
    x = op.inputs[0]
    if op.attrs["keepdims"]:
        return dy
    axis = op.attrs["axis"]
    r = x.shape.ndims
    if axis is None:
        if r is None:
            return dy   # a scalar broadcasts against anything
        return A.reshape(dy, [1] * r)
    if r is None:
        raise ValueError(f"Gradient of '{op.name}' needs the input's rank to be known")
    axes = sorted({a % r for a in axis})
    if dy.shape.is_fully_defined() or x.shape.is_fully_defined():
        dims = x.shape.as_list()
        kept = [1 if i in axes else d for i, d in enumerate(dims)]
        if None not in kept:
            return A.reshape(dy, kept)
    for a in axes:
        dy = A.expand_dims(dy, a)
    return dy


def _broadcast_back(op, g):
    x = op.inputs[0]
    if x.shape.is_fully_defined():
        return A.broadcast_to(g, x.shape.as_list())
    return A.broadcast_to(g, A.shape(x))


@_sum.grad
def _sum_grad(op, dy):
    return [_broadcast_back(op, _expand_back(op, dy))]


@_mean.grad
def _mean_grad(op, dy):
    x, y = op.inputs[0], op.outputs[0]
    if x.shape.is_fully_defined() and y.shape.is_fully_defined():
        n = max(1, x.shape.num_elements() // max(1, y.shape.num_elements()))
        scale = constant(1.0 / n, dtype=dy.dtype)
    elif y.shape.num_elements() == 1:
        scale = M.reciprocal(M.cast(A.size(x), dy.dtype))
    else:
        n = M.cast(A.size(x), dy.dtype) / M.maximum(M.cast(A.size(y), dy.dtype), 1.0)
        scale = M.reciprocal(n)
    return [_broadcast_back(op, _expand_back(op, dy * scale))]


def _minmax_grad(op, dy):
    x, y = op.inputs[0], op.outputs[0]
    yb = _expand_back(op, y)
    mask = M.cast(M.equal(x, yb), dy.dtype)
    count = _sum(mask, axis=op.attrs["axis"], keepdims=True)
    return [mask * _expand_back(op, dy) / count]


_max.grad(_minmax_grad)
_min.grad(_minmax_grad)


@_prod.grad
def _prod_grad(op, dy):
    # d prod / d x_i = prod_{j != i} x_j, computed without dividing by x_i (zeros are fine):
    # the product of everything before i times everything after i along the reduced axes.
    x = op.inputs[0]
    axis = op.attrs["axis"]
    r = x.shape.ndims
    if r is None:
        raise ValueError(f"Gradient of '{op.name}' needs the input's rank to be known")
    axes = list(range(r)) if axis is None else sorted({a % r for a in axis})
    other = [i for i in range(r) if i not in axes]
    perm = other + axes
    xt = A.transpose(x, perm)
    shp = A._shape_of(xt)
    n_other = len(other)
    flat = A.reshape(xt, A.concat([shp[:n_other], constant([-1], _dt.int32)], 0)
                     if n_other else constant([-1], _dt.int32))
    ax = n_other
    left = cumprod(flat, axis=ax, exclusive=True)
    right = cumprod(flat, axis=ax, exclusive=True, reverse=True)
    g = A.reshape(left * right, shp)
    g = A.transpose(g, tuple(int(i) for i in np.argsort(perm)))
    return [g * _broadcast_back(op, _expand_back(op, dy))]


@op("Cumsum", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype))
def _cumsum(xp, x, *, axis=0, exclusive=False, reverse=False):
    if reverse:
        x = xp.flip(x, axis)
    out = xp.cumsum(x, axis=axis, dtype=x.dtype)
    if exclusive:
        out = out - x
    return xp.flip(out, axis) if reverse else out


@_cumsum.grad
def _cumsum_grad(op, dy):
    a = op.attrs
    return [_cumsum(dy, axis=a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])]


@op("Cumprod", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype))
def _cumprod(xp, x, *, axis=0, exclusive=False, reverse=False):
    if reverse:
        x = xp.flip(x, axis)
    if exclusive:
        ones = xp.ones_like(xp.take(x, [0], axis=axis))
        body = xp.take(x, list(range(x.shape[axis] - 1)), axis=axis)
        out = xp.cumprod(xp.concatenate([ones, body], axis=axis), axis=axis, dtype=x.dtype)
    else:
        out = xp.cumprod(x, axis=axis, dtype=x.dtype)
    return xp.flip(out, axis) if reverse else out


@_cumprod.grad
def _cumprod_grad(op, dy):
    # like TF: valid where x has no zeros
    x, y = op.inputs[0], op.outputs[0]
    a = op.attrs
    s = _cumsum(y * dy, axis=a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])
    return [s / x]


def cumsum(x, axis=0, exclusive: bool = False, reverse: bool = False, name: str | None = None):
    """``tf.cumsum`` along ``axis`` (optionally exclusive and/or reversed)."""
    return _cumsum(x, axis=int(axis), exclusive=bool(exclusive), reverse=bool(reverse), name=name)


def cumprod(x, axis=0, exclusive: bool = False, reverse: bool = False, name: str | None = None):
    """``tf.cumprod`` along ``axis`` (optionally exclusive and/or reversed)."""
    return _cumprod(x, axis=int(axis), exclusive=bool(exclusive), reverse=bool(reverse),
                    name=name)


# ----- TF API wrappers ---------------------------------------------------------------------
def _axis_attr(axis, reduction_indices):
    if axis is None:
        axis = reduction_indices
    if axis is None:
        return None
    if hasattr(axis, "_as_graph_element"):
        c = constant_value(axis)
        if c is None:
            raise ValueError("reduction axes must be known when the graph is built")
        axis = c
    arr = np.asarray(axis).reshape(-1)
    return tuple(int(a) for a in arr)


def _keep(keepdims, keep_dims) -> bool:
    return bool(keep_dims if keepdims is None and keep_dims is not None else keepdims)


def _make_reduce(builder, doc: str, default: str):
    def reduce(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None):
        return builder(input_tensor, axis=_axis_attr(axis, reduction_indices),
                       keepdims=_keep(keepdims, keep_dims), name=name or default)
    reduce.__doc__ = doc
    reduce.__name__ = f"reduce_{default.lower()}"
    return reduce


reduce_sum = _make_reduce(_sum, "``tf.reduce_sum``: sum over ``axis`` (all axes if None).", "Sum")
reduce_mean = _make_reduce(_mean, "``tf.reduce_mean``: mean over ``axis``; integer inputs give "
                           "integer means, as in TF.", "Mean")
reduce_max = _make_reduce(_max, "``tf.reduce_max``.", "Max")
reduce_min = _make_reduce(_min, "``tf.reduce_min``.", "Min")
reduce_prod = _make_reduce(_prod, "``tf.reduce_prod``.", "Prod")
reduce_any = _make_reduce(_any, "``tf.reduce_any`` (bool inputs).", "Any")
reduce_all = _make_reduce(_all, "``tf.reduce_all`` (bool inputs).", "All")


def reduce_logsumexp(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
                     keep_dims=None):
    """``log(sum(exp(x)))`` computed stably (the max is subtracted first)."""
    with name_scope(name, "ReduceLogSumExp") as scope:
        x = convert_to_tensor(input_tensor)
        ax = _axis_attr(axis, reduction_indices)
        keep = bool(_keep(keepdims, keep_dims))
        # TF1's formulation (and names: the result is ReduceLogSumExp:0); an infinite max
        # is replaced by 0, so all -inf gives -inf (not nan) and +inf gives +inf
        raw = _max(x, axis=ax, keepdims=True)
        m = A.stop_gradient(M.where(M.is_finite(raw), raw, A.zeros_like(raw)))
        s = M.log(_sum(M.exp(M.subtract(x, m)), axis=ax, keepdims=keep))
        if not keep:
            m = A.reshape(m, A.shape(s))
        return M.add(s, m, name=scope)


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    with name_scope(name, "reduce_variance"):
        x = convert_to_tensor(input_tensor)
        m = reduce_mean(x, axis=axis, keepdims=True)
        return reduce_mean(M.squared_difference(x, m), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    with name_scope(name, "reduce_std"):
        return M.sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def count_nonzero(input_tensor, axis=None, keepdims=None, dtype=_dt.int64, name=None,
                  reduction_indices=None, keep_dims=None):
    with name_scope(name, "count_nonzero"):
        x = convert_to_tensor(input_tensor)
        nz = M.cast(M.not_equal(x, A.zeros_like(x)), _dt.as_dtype(dtype))
        return reduce_sum(nz, axis=axis, keepdims=keepdims, reduction_indices=reduction_indices,
                          keep_dims=keep_dims)


def _arg_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return TensorShape(None), node.attrs["output_type"]
    ax = A._norm_axis(node.attrs["axis"], x.shape.ndims, node)
    d = x.shape.as_list()
    return TensorShape(d[:ax] + d[ax + 1:]), node.attrs["output_type"]


@op("ArgMax", shape=_arg_shape)
def _argmax(xp, input, *, axis=0, output_type=_dt.int64):  # noqa: A002
    return xp.argmax(input, axis=axis).astype(output_type.np)


@op("ArgMin", shape=_arg_shape)
def _argmin(xp, input, *, axis=0, output_type=_dt.int64):  # noqa: A002
    return xp.argmin(input, axis=axis).astype(output_type.np)


NotDifferentiable("ArgMax")
NotDifferentiable("ArgMin")


def argmax(input, axis=None, name=None, dimension=None, output_type=_dt.int64):  # noqa: A002
    """``tf.argmax``: index of the largest value along ``axis`` (default 0), int64."""
    axis = dimension if axis is None else axis
    return _argmax(input, axis=0 if axis is None else int(np.asarray(_axis_attr(axis, None))[0]),
                   output_type=_dt.as_dtype(output_type), name=name)


def argmin(input, axis=None, name=None, dimension=None, output_type=_dt.int64):  # noqa: A002
    """``tf.argmin``: index of the smallest value along ``axis`` (default 0), int64."""
    axis = dimension if axis is None else axis
    return _argmin(input, axis=0 if axis is None else int(np.asarray(_axis_attr(axis, None))[0]),
                   output_type=_dt.as_dtype(output_type), name=name)


arg_max = argmax
arg_min = argmin
