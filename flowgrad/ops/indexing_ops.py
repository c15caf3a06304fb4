"""Indexing ops: slices, strided slices (``tensor[...]``), gather/scatter, ``where``
coordinates and ``reverse``. Re-exported by ``array_ops``."""

from __future__ import annotations

import builtins

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant, constant_shape,
                                         constant_value, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops._xp import ufunc_at
from flowgrad.ops.array_ops import _int_list, _norm_axis, _shape_literal, _shape_of, shape, stack


# ----- Slicing --------------------------------------------------------------------------
def _slice_shape(node: NodeSpec):
    x, b, s = node.inputs
    bv, sv = constant_value(b), constant_value(s)
    r = x.shape.ndims
    if r is None and sv is not None:
        r = len(np.asarray(sv).reshape(-1))
    if r is None:
        return TensorShape(None), x.dtype
    if sv is None:
        return TensorShape([None] * r), x.dtype
    sv = [int(v) for v in np.asarray(sv).reshape(-1)]
    if len(sv) != r:
        node.fail(f"size has {len(sv)} entries but the input has rank {r}")
    dims = []
    for i, n in enumerate(sv):
        if n >= 0:
            dims.append(n)
        elif bv is not None and x.shape[i] is not None:
            dims.append(x.shape[i] - int(np.asarray(bv).reshape(-1)[i]))
        else:
            dims.append(None)
    return TensorShape(dims), x.dtype


@op("Slice", shape=_slice_shape, may_alias=True)
def _slice(xp, input, begin, size):  # noqa: A002
    idx = tuple(builtins.slice(int(b), None if int(s) < 0 else int(b) + int(s))
                for b, s in zip(begin, size))
    return input[idx]


@_slice.grad
def _slice_grad(op, dy):
    x, b, s = op.inputs
    return [_slice_grad_op(dy, _shape_of(x), b), None, None]


def _slice_grad_shape(node: NodeSpec):
    return constant_shape(node.inputs[1]), node.inputs[0].dtype


@op("SliceGrad", shape=_slice_grad_shape)
def _slice_grad_op(xp, dy, shape, begin):
    out = xp.zeros(tuple(int(d) for d in shape), dtype=dy.dtype)
    idx = tuple(builtins.slice(int(b), int(b) + n) for b, n in zip(begin, dy.shape))
    out[idx] = dy
    return out


@_slice_grad_op.grad
def _slice_grad_op_grad(op, ddx):
    dy = op.inputs[0]
    return [slice(ddx, op.inputs[2], shape(dy)), None, None]


def slice(input_, begin, size, name: str | None = None) -> Tensor:  # noqa: A001
    """``tf.slice``: ``size[i]`` elements from ``begin[i]`` on each axis (-1: to the end)."""
    with name_scope(name, "Slice") as scope:               # TF1: Slice/begin, Slice/size
        b = begin if isinstance(begin, Tensor) else _shape_literal_any(begin, "begin")
        s = size if isinstance(size, Tensor) else _shape_literal_any(size, "size")
        return _slice(input_, b, s, name=scope)


def _shape_literal_any(v, name: str = "Const"):
    if isinstance(v, list | tuple) and any(isinstance(d, Tensor) for d in v):
        return stack([d if isinstance(d, Tensor) else constant(int(d), _dt.int32) for d in v],
                     name="stack" if name == "Const" else name)
    return constant(np.asarray(v, dtype=np.int32), name=name)


def _index_shape(shape: TensorShape, spec: tuple) -> TensorShape:
    """Static result shape of numpy basic indexing ``x[spec]`` (None dims stay unknown)."""
    if shape.ndims is None:
        return TensorShape(None)
    dims = shape.as_list()
    results = []
    for sentinel in (1000003, 1000033):
        fake = np.lib.stride_tricks.as_strided(np.zeros(1), shape=[sentinel if d is None else d
                                                                   for d in dims],
                                               strides=[0] * len(dims))
        results.append(fake[spec].shape)
    return TensorShape([a if a == b else None for a, b in zip(*results)])


def _strided_slice_shape(node: NodeSpec):
    x = node.inputs[0]
    spec = node.attrs["spec"]
    try:
        shp = _index_shape(x.shape, _decode(spec))
    except IndexError as e:
        node.fail(f"index {_describe(spec)} is out of bounds: {e}")
    return shp, x.dtype


def _decode(spec):
    return tuple(builtins.slice(*s[1]) if s[0] == "s" else s[1] if s[0] == "i" else
                 (None if s[0] == "n" else Ellipsis) for s in spec)


def _describe(spec) -> str:
    parts = []
    for kind, v in spec:
        if kind == "i":
            parts.append(str(v))
        elif kind == "n":
            parts.append("newaxis")
        elif kind == "e":
            parts.append("...")
        else:
            a, b, c = v
            parts.append(f"{'' if a is None else a}:{'' if b is None else b}"
                         f"{'' if c is None else ':' + str(c)}")
    return "[" + ", ".join(parts) + "]"


@op("StridedSlice", shape=_strided_slice_shape, may_alias=True)
def _strided_slice(xp, input, *, spec):  # noqa: A002
    return input[_decode(spec)]


@_strided_slice.grad
def _strided_slice_grad(op, dy):
    return [_strided_slice_grad_op(dy, _shape_of(op.inputs[0]), spec=op.attrs["spec"])]


@op("StridedSliceGrad", shape=lambda n: (constant_shape(n.inputs[1]), n.inputs[0].dtype))
def _strided_slice_grad_op(xp, dy, shape, *, spec):
    out = xp.zeros(tuple(int(d) for d in shape), dtype=dy.dtype)
    out[_decode(spec)] = dy
    return out


@_strided_slice_grad_op.grad
def _strided_slice_grad_op_grad(op, ddx):
    return [_strided_slice(ddx, spec=op.attrs["spec"]), None]


def _encode(key) -> tuple:
    if not isinstance(key, tuple):
        key = (key,)
    spec = []
    for k in key:
        if k is None:
            spec.append(("n", None))
        elif k is Ellipsis:
            spec.append(("e", None))
        elif isinstance(k, builtins.slice):
            spec.append(("s", tuple(None if v is None else _static_int(v)
                                    for v in (k.start, k.stop, k.step))))
        else:
            spec.append(("i", _static_int(k)))
    return tuple(spec)


def _static_int(v) -> int:
    if isinstance(v, Tensor):
        c = constant_value(v)
        if c is None:
            raise _DynamicIndex()
        return int(c)
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) "
                        f"and scalar int32/int64 tensors are valid indices, got {v!r}")
    return int(v)


class _DynamicIndex(Exception):
    pass


def getitem(tensor: Tensor, key) -> Tensor:
    """``tensor[key]``: ints, slices with steps, ``...`` and ``tf.newaxis``; a scalar tensor
    index selects along axis 0 (gather)."""
    try:
        spec = _encode(key)
    except _DynamicIndex:
        if isinstance(key, Tensor):
            return gather(tensor, key)
        return _dynamic_getitem(tensor, key)
    return _strided_slice(tensor, spec=spec, name="strided_slice")


def _dynamic_getitem(tensor: Tensor, key) -> Tensor:
    """Indexing whose bounds include run-time scalar tensors: ``x[:n]``, ``x[i, 1:]``."""
    key = key if isinstance(key, tuple) else (key,)
    bounds: list[Tensor] = []

    def enc(v):
        if v is None:
            return None
        if isinstance(v, Tensor):
            c = constant_value(v)
            if c is not None:
                return int(c)
            if v.shape.ndims not in (None, 0) or not v.dtype.is_integer:
                raise TypeError(f"A tensor index must be an int32/int64 scalar, got {v!r}")
            bounds.append(v)
            return ("t", len(bounds) - 1)
        return _static_int(v)

    spec = []
    for k in key:
        if k is None:
            spec.append(("n", None))
        elif k is Ellipsis:
            spec.append(("e", None))
        elif isinstance(k, builtins.slice):
            spec.append(("s", (enc(k.start), enc(k.stop), enc(k.step))))
        else:
            spec.append(("i", enc(k)))
    return _dyn_strided_slice([tensor] + bounds, spec=tuple(spec), name="strided_slice")


def _resolve_spec(spec, bounds):
    def val(v):
        return int(bounds[v[1]]) if isinstance(v, tuple) else v
    return tuple(("s", tuple(val(v) for v in s[1])) if s[0] == "s" else
                 ("i", val(s[1])) if s[0] == "i" else s for s in spec)


def _dyn_slice_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return TensorShape(None), x.dtype
    static = tuple(("s", (None, None, None)) if s[0] == "s" and any(isinstance(v, tuple)
                                                                    for v in s[1])
                   else ("i", 0) if s[0] == "i" and isinstance(s[1], tuple) else s
                   for s in node.attrs["spec"])
    try:
        shp = _index_shape(x.shape, _decode(static))
    except IndexError as e:
        node.fail(f"index is out of bounds: {e}")
    dims = shp.as_list()
    has_dynamic_slice = any(s[0] == "s" and any(isinstance(v, tuple) for v in s[1])
                            for s in node.attrs["spec"])
    return TensorShape([None] * len(dims) if has_dynamic_slice else dims), x.dtype


@op("StridedSliceDynamic", shape=_dyn_slice_shape, may_alias=True)
def _dyn_strided_slice(xp, *inputs, spec):
    x, bounds = inputs[0], inputs[1:]
    return x[_decode(_resolve_spec(spec, bounds))]


@_dyn_strided_slice.grad
def _dyn_strided_slice_grad(op, dy):
    x, bounds = op.inputs[0], list(op.inputs[1:])
    g = _dyn_strided_slice_grad_op([dy, _shape_of(x)] + bounds, spec=op.attrs["spec"])
    return [g] + [None] * len(bounds)


@op("StridedSliceDynamicGrad", shape=lambda n: (constant_shape(n.inputs[1]),
                                                 n.inputs[0].dtype))
def _dyn_strided_slice_grad_op(xp, *inputs, spec):
    dy, shape, bounds = inputs[0], inputs[1], inputs[2:]
    out = xp.zeros(tuple(int(d) for d in shape), dtype=dy.dtype)
    out[_decode(_resolve_spec(spec, bounds))] = dy
    return out


@_dyn_strided_slice_grad_op.grad
def _dyn_strided_slice_grad_op_grad(op, ddx):
    bounds = list(op.inputs[2:])
    return [_dyn_strided_slice([ddx] + bounds, spec=op.attrs["spec"]), None] + \
        [None] * len(bounds)


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name: str | None = None):
    """``tf.strided_slice`` with static begin/end/strides and TF's bit masks."""
    b = _int_list(begin, "begin")
    e = _int_list(end, "end")
    s = _int_list(strides, "strides") if strides is not None else [1] * len(b)
    key = []
    for i, (bi, ei, si) in enumerate(zip(b, e, s)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(bi)
        else:
            key.append(builtins.slice(None if begin_mask & bit else bi,
                                      None if end_mask & bit else ei, si))
    return _strided_slice(input_, spec=_encode(tuple(key)), name=name or "StridedSlice")


# ----- Gather / scatter -----------------------------------------------------------------
def _gather_shape(node: NodeSpec):
    p, i = node.inputs
    if not i.dtype.is_integer:
        node.fail(f"indices must be int32 or int64, got {i.dtype.name}", TypeError)
    axis = node.attrs["axis"]
    if p.shape.ndims is None or i.shape.ndims is None:
        return TensorShape(None), p.dtype
    ax = _norm_axis(axis, p.shape.ndims, node)
    d = p.shape.as_list()
    return TensorShape(d[:ax] + i.shape.as_list() + d[ax + 1:]), p.dtype


@op("GatherV2", shape=_gather_shape)
def _gather(xp, params, indices, *, axis=0):
    n = params.shape[axis]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n):
        bad = indices[(indices < 0) | (indices >= n)].reshape(-1)[0]
        raise IndexError(f"indices contains {int(bad)}, which is not in [0, {n})")
    return xp.take(params, indices, axis=axis)


@_gather.grad
def _gather_grad(op, dy):
    p, i = op.inputs
    return [_gather_grad_op(dy, i, _shape_of(p), axis=op.attrs["axis"]), None]


@op("GatherGrad", shape=lambda n: (constant_shape(n.inputs[2]), n.inputs[0].dtype))
def _gather_grad_op(xp, dy, indices, shape, *, axis=0):
    """Scatter-adds ``dy`` back into a zero tensor of the params' ``shape``."""
    shape = tuple(int(d) for d in shape)
    ax = axis % len(shape)
    out = xp.zeros((shape[ax],) + shape[:ax] + shape[ax + 1:], dtype=dy.dtype)
    # move the gathered axes of dy to the front, flatten the indices
    k = indices.ndim
    g = xp.moveaxis(dy, tuple(builtins.range(ax, ax + k)), tuple(builtins.range(k)))
    g = g.reshape((-1,) + out.shape[1:])
    _scatter_add(xp, out, indices.reshape(-1), g)
    return xp.moveaxis(out, 0, ax)


def _scatter_add(xp, out, idx, updates) -> None:
    """``out[idx] += updates`` with repeated indices summed (a sorted segment sum)."""
    if idx.size == 0:
        return
    if xp is np and out.ndim > 1:
        order = np.argsort(idx, kind="stable")
        sidx = idx[order]
        starts = np.flatnonzero(np.r_[True, sidx[1:] != sidx[:-1]])
        sums = np.add.reduceat(updates[order], starts, axis=0)
        out[sidx[starts]] += sums
    else:
        ufunc_at(xp, "add", out, idx, updates)


@_gather_grad_op.grad
def _gather_grad_op_grad(op, ddx):
    return [gather(ddx, op.inputs[1], axis=op.attrs["axis"]), None, None]


def gather(params, indices, validate_indices=None, name: str | None = None, axis=0,
           batch_dims: int = 0) -> Tensor:
    """``tf.gather``: slices of ``params`` along ``axis`` at ``indices`` (checked in range).

    With ``batch_dims=b`` the first ``b`` dimensions of ``params`` and ``indices`` are batch
    dimensions: each batch element gathers from its own slice (TF's ``batch_dims``)."""
    axis = int(_int_list(axis, "axis")[0])
    if not batch_dims:
        return _gather(params, indices, axis=axis, name=name)
    return _batch_gather(params, indices, axis, int(batch_dims), name)


def _batch_gather(params, indices, axis: int, b: int, name):
    """``gather`` with batch dimensions, as one gather on the batch-flattened params: the
    indices are offset by each batch element's position."""
    from flowgrad.framework.registry import convert_to_tensor  # noqa: PLC0415
    from flowgrad.ops import math_ops as M  # noqa: PLC0415
    params, indices = convert_to_tensor(params), convert_to_tensor(indices)
    rp, ri = params.shape.ndims, indices.shape.ndims
    if rp is None or ri is None:
        raise ValueError("gather with batch_dims needs params and indices of known rank")
    b = b % ri if b < 0 else b
    axis = axis % rp
    if axis != b or b > ri:
        raise ValueError(f"gather with batch_dims={b} supports axis == batch_dims, got axis "
                         f"{axis}")
    ps, is_ = shape(params), shape(indices, out_type=indices.dtype)
    from flowgrad.ops.array_ops import concat, reshape  # noqa: PLC0415
    from flowgrad.ops.reduce_ops import reduce_prod  # noqa: PLC0415
    nb = reduce_prod(ps[:b])
    n = ps[b]
    flat_p = reshape(params, concat([[-1], ps[b + 1:]], 0))
    offsets = M.cast(M.multiply(_range_int(nb), n), indices.dtype)
    flat_i = reshape(indices, stack([nb, -1]) if ri > b else stack([nb]))
    flat_i = flat_i + reshape(offsets, [-1, 1] if ri > b else [-1])
    out = _gather(flat_p, flat_i, axis=0, name=name)
    return reshape(out, concat([M.cast(is_, ps.dtype), ps[b + 1:]], 0))


def _range_int(n):
    from flowgrad.ops.array_ops import range as tf_range  # noqa: PLC0415
    return tf_range(n)


def _gather_nd_shape(node: NodeSpec):
    p, i = node.inputs
    if not i.dtype.is_integer:
        node.fail(f"indices must be int32 or int64, got {i.dtype.name}", TypeError)
    if p.shape.ndims is None or i.shape.ndims is None or i.shape[-1] is None:
        return TensorShape(None), p.dtype
    k = i.shape[-1]
    if k > p.shape.ndims:
        node.fail(f"index depth {k} exceeds the params rank {p.shape.ndims}")
    return TensorShape(i.shape.as_list()[:-1] + p.shape.as_list()[k:]), p.dtype


@op("GatherNd", shape=_gather_nd_shape)
def _gather_nd(xp, params, indices):
    k = indices.shape[-1]
    for j in builtins.range(k):
        col = indices[..., j]
        if col.size and (int(col.min()) < 0 or int(col.max()) >= params.shape[j]):
            raise IndexError(f"indices[..., {j}] out of range [0, {params.shape[j]})")
    return params[tuple(indices[..., j] for j in builtins.range(k))]


@_gather_nd.grad
def _gather_nd_grad(op, dy):
    p, i = op.inputs
    return [scatter_nd(i, dy, _shape_of(p)), None]


@op("ScatterNd", shape=lambda n: (constant_shape(n.inputs[2]), n.inputs[1].dtype))
def _scatter_nd(xp, indices, updates, shape):
    out = xp.zeros(tuple(int(d) for d in shape), dtype=updates.dtype)
    k = indices.shape[-1]
    flat = xp.ravel_multi_index(tuple(indices[..., j].reshape(-1) for j in builtins.range(k)),
                                out.shape[:k])
    view = out.reshape((-1,) + out.shape[k:])
    _scatter_add(xp, view, flat, updates.reshape((-1,) + out.shape[k:]))
    return out


@_scatter_nd.grad
def _scatter_nd_grad(op, dy):
    return [None, gather_nd(dy, op.inputs[0]), None]


def gather_nd(params, indices, name: str | None = None, batch_dims: int = 0) -> Tensor:
    """``tf.gather_nd``: ``params[indices[..., 0], indices[..., 1], ...]``."""
    return _gather_nd(params, indices, name=name)


def scatter_nd(indices, updates, shape, name: str | None = None) -> Tensor:
    """``tf.scatter_nd``: zeros of ``shape`` with ``updates`` added at ``indices``."""
    if isinstance(shape, Tensor):
        return _scatter_nd(indices, updates, shape, name=name)
    with name_scope(name, "ScatterNd") as scope:           # TF1: ScatterNd/shape
        return _scatter_nd(indices, updates, _shape_literal(shape, "shape"), name=scope)


def _where_shape(node: NodeSpec):
    c = node.inputs[0]
    return TensorShape([None, c.shape.ndims]), _dt.int64


@op("Where", shape=_where_shape)
def where_indices(xp, condition):
    return xp.argwhere(condition).astype(xp.int64)


NotDifferentiable("Where")


def _reverse_shape(node: NodeSpec):
    return node.inputs[0].shape, node.inputs[0].dtype


@op("ReverseV2", shape=_reverse_shape, may_alias=True)
def _reverse(xp, tensor, *, axis):
    return xp.flip(tensor, axis=axis)


@_reverse.grad
def _reverse_grad(op, dy):
    return [_reverse(dy, axis=op.attrs["axis"])]


def reverse(tensor, axis, name: str | None = None) -> Tensor:
    """``tf.reverse``: flip the given axes."""
    return _reverse(tensor, axis=tuple(_int_list(axis, "axis")), name=name)


reverse_v2 = reverse
