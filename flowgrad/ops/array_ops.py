"""Shape and indexing ops: placeholders, reshape, slicing, gather, concat, pad, ...

Arguments that describe structure (axes, permutations, slice specs) are attributes
known at build time, so static shapes flow through; shapes that may only be known at run
time (``tf.reshape(x, [tf.shape(x)[0], -1])``) are tensor inputs, as in TF.
"""

from __future__ import annotations

import builtins

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import registry as _reg
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant, constant_shape,
                                         constant_value, convert_to_tensor, op, unary)
from flowgrad.framework.shapes import TensorShape, as_shape, broadcast_shapes


def _norm_axis(axis: int, rank: int | None, node: NodeSpec | None = None) -> int:
    if rank is None:
        if axis < 0 and node is not None:
            node.fail(f"negative axis {axis} needs a known rank")
        return axis
    if not -rank <= axis < rank:
        msg = f"axis {axis} is out of range for a tensor of rank {rank}"
        if node is not None:
            node.fail(msg)
        raise ValueError(msg)
    return axis % rank


def _int_list(v, what: str) -> list[int]:
    c = constant_value(v) if isinstance(v, Tensor) else np.asarray(v)
    if c is None:
        raise ValueError(f"{what} must be known when the graph is built (a Python list or a "
                         f"constant), got the tensor {v.name}.")
    return [int(i) for i in np.asarray(c).reshape(-1)]


# ----- Placeholders and identity ---------------------------------------------------------
@op("Placeholder", shape=lambda n: (n.attrs["shape"], n.attrs["dtype"]))
def _placeholder(xp, *, dtype, shape):
    raise AssertionError("placeholders are fed, never run")


def placeholder(dtype, shape=None, name: str | None = None) -> Tensor:
    """``tf.placeholder``: a tensor whose value must be fed to ``Session.run``."""
    return _placeholder(dtype=_dt.as_dtype(dtype), shape=as_shape(shape),
                        name=name or "Placeholder")


def _pwd_shape(node: NodeSpec):
    x = node.inputs[0]
    shape = as_shape(node.attrs["shape"])
    if not shape.is_compatible_with(x.shape):
        node.fail(f"default value shape {x.shape} is incompatible with shape {shape}")
    return shape, x.dtype


@op("PlaceholderWithDefault", shape=_pwd_shape, may_alias=True)
def _placeholder_with_default(xp, input, *, shape):  # noqa: A002
    return input


@_placeholder_with_default.grad
def _pwd_grad(op, dy):
    return [dy]


def placeholder_with_default(input, shape, name: str | None = None) -> Tensor:  # noqa: A002
    return _placeholder_with_default(input, shape=as_shape(shape), name=name)


@op("Identity", shape=unary, may_alias=True)
def identity(xp, input):  # noqa: A002
    return input


@identity.grad
def _identity_grad(op, dy):
    return [dy]


@op("StopGradient", shape=unary, may_alias=True)
def stop_gradient(xp, input):  # noqa: A002
    return input


NotDifferentiable("StopGradient")


@op("PreventGradient", shape=unary, may_alias=True)
def prevent_gradient(xp, input, *, message=""):  # noqa: A002
    return input


@prevent_gradient.grad
def _prevent_gradient_grad(op, dy):
    raise LookupError(f"Gradient explicitly disabled for '{op.name}'. "
                      f"Reason: {op.attrs['message']}")


@op("CheckNumerics", shape=unary, may_alias=True)
def _check_numerics(xp, tensor, *, message):
    """Passes ``tensor`` through; raises InvalidArgumentError if it has NaN or Inf."""
    if tensor.dtype.kind == "f" and not bool(xp.isfinite(tensor).all()):
        from flowgrad.framework.errors import InvalidArgumentError  # noqa: PLC0415
        kinds = []
        if bool(xp.isnan(tensor).any()):
            kinds.append("NaN")
        if bool(xp.isinf(tensor).any()):
            kinds.append("Inf")
        raise InvalidArgumentError(None, None, f"{message} : Tensor had {' and '.join(kinds)} "
                                   "values")
    return tensor


@_check_numerics.grad
def _check_numerics_grad(op, dy):
    return [_check_numerics(dy, message="Not a number (NaN) or infinity (Inf) values detected "
                           f"in gradient. {op.attrs['message']}")]


def check_numerics(tensor, message: str, name: str | None = None) -> Tensor:
    """Passes ``tensor`` through; the run fails with ``message`` if it holds NaN or Inf."""
    return _check_numerics(tensor, message=str(message), name=name)


# ----- Shapes -----------------------------------------------------------------------------
def _shape_shape(node: NodeSpec):
    r = node.inputs[0].shape.ndims
    return TensorShape([r]), node.attrs["out_type"]


@op("Shape", shape=_shape_shape)
def _shape(xp, input, *, out_type=_dt.int32):  # noqa: A002
    return xp.asarray(input.shape, dtype=out_type.np)


def shape(input, name: str | None = None, out_type=_dt.int32) -> Tensor:  # noqa: A002
    """``tf.shape``: the dynamic shape of ``input`` as a 1-D int32 tensor."""
    return _shape(input, out_type=_dt.as_dtype(out_type), name=name)


@op("Size", shape=lambda n: (TensorShape(()), n.attrs["out_type"]))
def _size(xp, input, *, out_type=_dt.int32):  # noqa: A002
    return xp.asarray(input.size, dtype=out_type.np)


def size(input, name: str | None = None, out_type=_dt.int32) -> Tensor:  # noqa: A002
    return _size(input, out_type=_dt.as_dtype(out_type), name=name)


@op("Rank", shape=lambda n: (TensorShape(()), _dt.int32))
def rank(xp, input):  # noqa: A002
    return xp.asarray(input.ndim, dtype=xp.int32)


for _t in ("Shape", "Size", "Rank"):
    NotDifferentiable(_t)


def shape_n(inputs, out_type=_dt.int32, name: str | None = None) -> list[Tensor]:
    return [shape(i, out_type=out_type) for i in inputs]


# ----- Reshaping -------------------------------------------------------------------------
def _reshape_shape(node: NodeSpec):
    x, s = node.inputs
    if not s.dtype.is_integer:
        node.fail(f"shape must be int32 or int64, got {s.dtype.name}", TypeError)
    target = constant_shape(s)
    cv = constant_value(s)
    if cv is not None and x.shape.is_fully_defined():
        dims = [int(d) for d in np.asarray(cv).reshape(-1)]
        n = x.shape.num_elements()
        if dims.count(-1) > 1:
            node.fail("can only infer one dimension (-1)")
        known = int(np.prod([d for d in dims if d != -1])) if dims else 1
        if -1 in dims:
            if known == 0 or n % known:
                node.fail(f"cannot reshape a tensor with {n} elements to shape {dims}")
            dims[dims.index(-1)] = n // known
        elif known != n:
            node.fail(f"cannot reshape a tensor with {n} elements to shape {dims} ({known} "
                      "elements)")
        return TensorShape(dims), x.dtype
    if cv is not None and target.ndims is not None and target.as_list().count(None) == 1 \
            and x.shape.ndims is not None:
        # one -1: solvable statically when the input's element count is known
        n = x.shape.num_elements()
        if n is not None:
            known = int(np.prod([d for d in target.as_list() if d is not None]))
            dims = [n // known if d is None else d for d in target.as_list()]
            return TensorShape(dims), x.dtype
    return target, x.dtype


@op("Reshape", shape=_reshape_shape, may_alias=True)
def _reshape(xp, tensor, shape):
    return tensor.reshape(tuple(int(d) for d in shape))


@_reshape.grad
def _reshape_grad(op, dy):
    return [reshape(dy, _shape_of(op.inputs[0])), None]


def reshape(tensor, shape, name: str | None = None) -> Tensor:
    """``tf.reshape``: same elements, new shape (one dimension may be -1)."""
    if isinstance(shape, Tensor):
        return _reshape(tensor, shape, name=name)
    # as TF1, a literal shape is a constant under the op's name: Reshape/shape
    with name_scope(name, "Reshape") as scope:
        return _reshape(tensor, _shape_literal(shape, "shape"), name=scope)


def _shape_literal(shape, name: str = "Const"):
    """A shape given as list/TensorShape: a constant, or a Pack if it holds tensors."""
    if isinstance(shape, TensorShape):
        shape = shape.as_list()
    if isinstance(shape, list | tuple) and any(isinstance(d, Tensor) for d in shape):
        return stack([d if isinstance(d, Tensor) else constant(d if d is not None else -1,
                                                                _dt.int32) for d in shape],
                     name="stack" if name == "Const" else name)
    return constant([-1 if d is None else int(d) for d in shape] if isinstance(shape, list | tuple)
                    else shape, dtype=_dt.int32, name=name)


def _shape_of(x: Tensor):
    """``x``'s shape: a constant when static, else a Shape op."""
    if x.shape.is_fully_defined():
        return constant(x.shape.as_list(), dtype=_dt.int32)
    return shape(x)


def _transpose_shape(node: NodeSpec):
    x = node.inputs[0]
    perm = node.attrs["perm"]
    if x.shape.ndims is None:
        return TensorShape(None if perm is None else [None] * len(perm)), x.dtype
    if perm is None:
        return TensorShape(x.shape.as_list()[::-1]), x.dtype
    if sorted(perm) != list(builtins.range(x.shape.ndims)):
        node.fail(f"perm {list(perm)} is not a permutation of the {x.shape.ndims} axes")
    return TensorShape([x.shape[p] for p in perm]), x.dtype


@op("Transpose", shape=_transpose_shape, may_alias=True)
def _transpose(xp, x, *, perm=None):
    return xp.transpose(x, perm)


@_transpose.grad
def _transpose_grad(op, dy):
    if op.attrs["perm"] is None:     # axes reversed (rank known only at run time)
        return [_transpose(dy, perm=None)]
    inv = tuple(int(i) for i in np.argsort(op.attrs["perm"]))
    return [_transpose(dy, perm=inv)]


def transpose(a, perm=None, name: str = "transpose", conjugate: bool = False) -> Tensor:
    """``tf.transpose``: permute axes (default: reverse them)."""
    a = convert_to_tensor(a)
    if perm is None:
        return _transpose(a, perm=None, name=name)
    perm = tuple(_int_list(perm, "perm"))
    return _transpose(a, perm=perm, name=name)


def matrix_transpose(a, name: str = "matrix_transpose", conjugate: bool = False) -> Tensor:
    a = convert_to_tensor(a)
    r = a.shape.ndims
    if r is None or r < 2:
        raise ValueError(f"matrix_transpose needs rank >= 2 with known rank, got {a.shape}")
    with name_scope(name, "matrix_transpose"):        # TF1: matrix_transpose/transpose
        return transpose(a, list(builtins.range(r - 2)) + [r - 1, r - 2])


def _expand_dims_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return TensorShape(None), x.dtype
    r = x.shape.ndims + 1
    ax = _norm_axis(node.attrs["axis"], r, node)
    dims = x.shape.as_list()
    dims.insert(ax, 1)
    return TensorShape(dims), x.dtype


@op("ExpandDims", shape=_expand_dims_shape, may_alias=True)
def _expand_dims(xp, input, *, axis):  # noqa: A002
    return xp.expand_dims(input, axis)


@_expand_dims.grad
def _expand_dims_grad(op, dy):
    return [reshape(dy, _shape_of(op.inputs[0]))]


def expand_dims(input, axis=None, name: str | None = None, dim=None) -> Tensor:  # noqa: A002
    """``tf.expand_dims``: insert a size-1 axis at ``axis``."""
    axis = dim if axis is None else axis
    if axis is None:
        raise ValueError("expand_dims needs axis")
    return _expand_dims(input, axis=int(_int_list(axis, "axis")[0]), name=name)


def _squeeze_shape(node: NodeSpec):
    x = node.inputs[0]
    axes = node.attrs["axis"]
    if x.shape.ndims is None:
        return TensorShape(None), x.dtype
    r = x.shape.ndims
    axes = [_norm_axis(a, r, node) for a in axes]
    dims = x.shape.as_list()
    for a in axes:
        if dims[a] not in (1, None):
            node.fail(f"cannot squeeze axis {a}: its size is {dims[a]}, not 1")
    if axes:
        out = [d for i, d in enumerate(dims) if i not in axes]
    else:
        if None in dims:
            return TensorShape(None), x.dtype
        out = [d for d in dims if d != 1]
    return TensorShape(out), x.dtype


@op("Squeeze", shape=_squeeze_shape, may_alias=True)
def _squeeze(xp, input, *, axis=()):  # noqa: A002
    return xp.squeeze(input, axis=tuple(axis)) if axis else xp.squeeze(input)


@_squeeze.grad
def _squeeze_grad(op, dy):
    return [reshape(dy, _shape_of(op.inputs[0]))]


def squeeze(input, axis=None, name: str | None = None, squeeze_dims=None) -> Tensor:  # noqa: A002
    """``tf.squeeze``: remove size-1 axes (all, or those in ``axis``)."""
    axis = squeeze_dims if axis is None else axis
    axes = () if axis is None else tuple(_int_list([axis] if isinstance(axis, int) else axis,
                                                   "axis"))
    return _squeeze(input, axis=axes, name=name)


def _broadcast_to_shape(node: NodeSpec):
    x, s = node.inputs
    target = constant_shape(s)
    b = broadcast_shapes(x.shape, target)
    if b is None or (target.ndims is not None and x.shape.ndims is not None
                     and x.shape.ndims > target.ndims):
        node.fail(f"cannot broadcast {x.shape} to {target}")
    return target.merge_with(b) if target.ndims is not None else target, x.dtype


@op("BroadcastTo", shape=_broadcast_to_shape, may_alias=True)
def _broadcast_to(xp, input, shape):  # noqa: A002
    return xp.broadcast_to(input, tuple(int(d) for d in shape))


@_broadcast_to.grad
def _broadcast_to_grad(op, dy):
    return [dy, None]   # the engine sums dy down to the input's shape


def broadcast_to(input, shape, name: str | None = None) -> Tensor:  # noqa: A002
    if not isinstance(shape, Tensor):
        with name_scope(name, "BroadcastTo") as scope:      # TF1: BroadcastTo/shape
            return _broadcast_to(input, _shape_literal(shape, "shape"), name=scope)
    return _broadcast_to(input, shape,
                         name=name)


@op("SumToLike", shape=lambda n: (n.inputs[1].shape, n.inputs[0].dtype), broadcasting=False)
def sum_to_like(xp, x, like):
    """Sums ``x`` down to ``like``'s shape (the reverse of broadcasting); the gradient
    engine's reduction when a dimension is known only at run time."""
    if x.shape == like.shape:
        return x
    shape = like.shape
    lead = x.ndim - len(shape)
    axes = tuple(builtins.range(lead)) + tuple(lead + i for i, d in enumerate(shape)
                                               if d == 1 and x.shape[lead + i] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


@sum_to_like.grad
def _sum_to_like_grad(op, dy):
    return [broadcast_to(dy, shape(op.inputs[0])), None]


# ----- Creation --------------------------------------------------------------------------
def _fill_shape(node: NodeSpec):
    dims, value = node.inputs
    if value.shape.ndims not in (None, 0):
        node.fail(f"value must be a scalar, got shape {value.shape}")
    return constant_shape(dims), value.dtype


@op("Fill", shape=_fill_shape)
def _fill(xp, dims, value):
    return xp.full(tuple(int(d) for d in dims), value, dtype=value.dtype)


@_fill.grad
def _fill_grad(op, dy):
    from flowgrad.ops.reduce_ops import reduce_sum  # noqa: PLC0415
    return [None, reduce_sum(dy)]


def fill(dims, value, name: str | None = None) -> Tensor:
    """``tf.fill``: a tensor of shape ``dims`` filled with ``value``."""
    if isinstance(dims, Tensor):
        return _fill(dims, value, name=name)
    with name_scope(name, "Fill") as scope:                 # TF1: Fill/dims
        return _fill(_shape_literal(dims, "dims"), value, name=scope)


def zeros(shape, dtype=_dt.float32, name: str | None = None) -> Tensor:
    dtype = _dt.as_dtype(dtype)
    with name_scope(name, "zeros") as scope:
        small = _small_constant(0, shape, dtype, scope)
        return small if small is not None else fill(shape, constant(0, dtype=dtype), name=scope)


def ones(shape, dtype=_dt.float32, name: str | None = None) -> Tensor:
    dtype = _dt.as_dtype(dtype)
    with name_scope(name, "ones") as scope:
        small = _small_constant(1, shape, dtype, scope)
        return small if small is not None else fill(shape, constant(1, dtype=dtype), name=scope)


def _small_constant(value, shape, dtype, scope: str):
    """As TF1: zeros/ones of a static shape under 1000 elements are one ``Const`` (``zeros``
    itself); larger or dynamic shapes are a ``Fill``."""
    if isinstance(shape, TensorShape):
        shape = shape.as_list() if shape.is_fully_defined() else None
    elif isinstance(shape, int | np.integer):
        shape = [shape]
    if not isinstance(shape, list | tuple) or \
            not all(isinstance(d, int | np.integer) and d >= 0 for d in shape) or \
            int(np.prod(shape)) >= 1000 or dtype == _dt.string:
        return None
    return constant(bool(value) if dtype == _dt.bool_ else value, dtype=dtype,
                    shape=[int(d) for d in shape], name=scope)


@op("ZerosLike", shape=unary)
def _zeros_like(xp, x):
    return xp.zeros_like(x)


@op("OnesLike", shape=unary)
def _ones_like(xp, x):
    return xp.ones_like(x)


NotDifferentiable("ZerosLike")
NotDifferentiable("OnesLike")


def zeros_like(tensor, dtype=None, name: str | None = None, optimize: bool = True) -> Tensor:
    t = convert_to_tensor(tensor)
    if dtype is not None and _dt.as_dtype(dtype) != t.dtype:
        return zeros(_shape_of(t), dtype=dtype, name=name or "zeros_like")
    return _zeros_like(t, name=name or "zeros_like")


def ones_like(tensor, dtype=None, name: str | None = None, optimize: bool = True) -> Tensor:
    t = convert_to_tensor(tensor)
    if dtype is not None and _dt.as_dtype(dtype) != t.dtype:
        return ones(_shape_of(t), dtype=dtype, name=name or "ones_like")
    return _ones_like(t, name=name or "ones_like")


def _range_shape(node: NodeSpec):
    vals = [constant_value(t) for t in node.inputs]
    if any(v is None for v in vals):
        return TensorShape([None]), node.attrs["Tidx"]
    start, limit, delta = (v.item() for v in vals)
    if delta == 0:
        node.fail("delta must not be 0")
    n = max(0, int(np.ceil((limit - start) / delta)))
    return TensorShape([n]), node.attrs["Tidx"]


@op("Range", shape=_range_shape)
def _range(xp, start, limit, delta, *, Tidx):  # noqa: N803
    if xp is not np:        # device arrays: CuPy's arange takes host scalars only
        start, limit, delta = (getattr(v, "item", lambda v=v: v)() for v in (start, limit, delta))
    return xp.arange(start, limit, delta, dtype=Tidx.np)


NotDifferentiable("Range")


def range(start, limit=None, delta=1, dtype=None, name: str = "range") -> Tensor:  # noqa: A001
    """``tf.range``: like Python's range; int32 for ints, float32 for floats."""
    if limit is None:
        start, limit = 0, start
    vals = [start, limit, delta]
    if dtype is None:
        dts = [v.dtype if isinstance(v, Tensor) else _dt.infer_dtype(v) for v in vals]
        order = [_dt.int32, _dt.int64, _dt.float32, _dt.float64]
        dtype = builtins.max(dts, key=lambda d: order.index(d) if d in order else 0)
    dtype = _dt.as_dtype(dtype)
    from flowgrad.ops.math_ops import cast  # noqa: PLC0415
    with name_scope(name) as scope:
        ts = [cast(v, dtype) if isinstance(v, Tensor) else constant(v, dtype=dtype) for v in vals]
        return _range(*ts, Tidx=dtype, name=scope)


def _one_hot_shape(node: NodeSpec):
    ind = node.inputs[0]
    if not ind.dtype.is_integer:
        node.fail(f"indices must be integers, got {ind.dtype.name}", TypeError)
    depth, axis = node.attrs["depth"], node.attrs["axis"]
    if ind.shape.ndims is None:
        return TensorShape(None), node.attrs["dtype"]
    dims = ind.shape.as_list()
    ax = len(dims) if axis == -1 else axis
    dims.insert(ax, depth)
    return TensorShape(dims), node.attrs["dtype"]


@op("OneHot", shape=_one_hot_shape)
def _one_hot(xp, indices, on_value, off_value, *, depth, axis=-1, dtype=_dt.float32):
    out = (indices[..., None] == xp.arange(depth)).astype(dtype.np)
    if on_value != 1 or off_value != 0:
        out = xp.where(out.astype(bool), on_value, off_value).astype(dtype.np)
    if axis != -1 and axis != indices.ndim:
        out = xp.moveaxis(out, -1, axis)
    return out


NotDifferentiable("OneHot")


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None,
            name: str | None = None) -> Tensor:
    """``tf.one_hot``: out-of-range indices give an all-``off_value`` row, as in TF."""
    if dtype is None:
        dtype = on_value.dtype if isinstance(on_value, Tensor) else \
            off_value.dtype if isinstance(off_value, Tensor) else _dt.float32
    dtype = _dt.as_dtype(dtype)
    with name_scope(name, "one_hot") as scope:        # TF1: one_hot/on_value, ..., one_hot
        on = convert_to_tensor(1 if on_value is None else on_value, dtype=dtype,
                               name="on_value")
        off = convert_to_tensor(0 if off_value is None else off_value, dtype=dtype,
                                name="off_value")
        return _one_hot(indices, on, off, depth=int(_int_list(depth, "depth")[0]),
                        axis=-1 if axis is None else int(axis), dtype=dtype, name=scope)


# ----- Joining and splitting ---------------------------------------------------------------
def _concat_shape(node: NodeSpec):
    ts = node.inputs
    ranks = {t.shape.ndims for t in ts if t.shape.ndims is not None}
    if len(ranks) > 1:
        node.fail(f"all inputs must have the same rank, got shapes {[str(t.shape) for t in ts]}")
    if not ranks:
        return TensorShape(None), ts[0].dtype
    r = ranks.pop()
    ax = _norm_axis(node.attrs["axis"], r, node)
    dims = [None] * r
    total = 0
    for t in ts:
        if t.shape.ndims is None:
            total = None
            continue
        for i, d in enumerate(t.shape.as_list()):
            if i == ax:
                total = None if total is None or d is None else total + d
            elif d is not None:
                if dims[i] is not None and dims[i] != d:
                    node.fail(f"dimension {i} of the inputs must match except on axis {ax}: "
                              f"{[str(t.shape) for t in ts]}")
                dims[i] = d
    dims[ax] = total
    return TensorShape(dims), ts[0].dtype


@op("ConcatV2", shape=_concat_shape, same_dtype=True)
def _concat(xp, *values, axis):
    return xp.concatenate(values, axis=axis)


@_concat.grad
def _concat_grad(op, dy):
    axis = op.attrs["axis"]
    sizes = [t.shape[axis] if t.shape.ndims is not None else None for t in op.inputs]
    if all(s is not None for s in sizes):
        return _split(dy, sizes=tuple(sizes), axis=axis)
    grads = []
    offset = constant(0, _dt.int32)
    for t in op.inputs:
        n = shape(t)[axis]
        grads.append(_slice_axis(dy, offset, n, axis))
        offset = offset + n
    return grads


def _slice_axis(x, start, length, axis):
    r = x.shape.ndims
    ax = axis % r
    begin = stack([constant(0, _dt.int32) if i != ax else start for i in builtins.range(r)])
    size_ = stack([constant(-1, _dt.int32) if i != ax else length for i in builtins.range(r)])
    return slice(x, begin, size_)


def concat(values, axis, name: str = "concat") -> Tensor:
    """``tf.concat``: join tensors along an existing axis."""
    values = list(values)
    if len(values) == 1:
        return identity(values[0], name=name)
    return _concat(values, axis=int(_int_list(axis, "axis")[0]), name=name)


def _pack_shape(node: NodeSpec):
    ts = node.inputs
    shape = TensorShape(None)
    for t in ts:
        try:
            shape = shape.merge_with(t.shape)
        except ValueError:
            node.fail(f"all inputs must have the same shape, got {[str(t.shape) for t in ts]}")
    if shape.ndims is None:
        return TensorShape(None), ts[0].dtype
    dims = shape.as_list()
    ax = _norm_axis(node.attrs["axis"], len(dims) + 1, node)
    dims.insert(ax, len(ts))
    return TensorShape(dims), ts[0].dtype


@op("Pack", shape=_pack_shape, same_dtype=True)
def _pack(xp, *values, axis=0):
    return xp.stack(values, axis=axis)


@_pack.grad
def _pack_grad(op, dy):
    return unstack(dy, num=len(op.inputs), axis=op.attrs["axis"])


def stack(values, axis: int = 0, name: str = "stack") -> Tensor:
    """``tf.stack``: join same-shaped tensors along a new axis."""
    return _pack(list(values), axis=int(axis), name=name)


def _autopack(values, dtype, name):
    conv = [_autopack(v, dtype, None) if isinstance(v, list | tuple) else
            convert_to_tensor(v, dtype=dtype) if dtype is not None else v for v in values]
    first = next((c for c in conv if isinstance(c, Tensor) or hasattr(c, "_as_graph_element")),
                 None)
    dt = dtype or (convert_to_tensor(first).dtype if first is not None else None)
    conv = [convert_to_tensor(c, dtype=dt) for c in conv]
    return stack(conv, name=name or "packed")


_reg._AUTOPACK[0] = _autopack


def _unpack_shape(node: NodeSpec):
    x = node.inputs[0]
    num, axis = node.attrs["num"], node.attrs["axis"]
    if x.shape.ndims is None:
        return [(TensorShape(None), x.dtype)] * num
    dims = x.shape.as_list()
    ax = _norm_axis(axis, len(dims), node)
    if dims[ax] is not None and dims[ax] != num:
        node.fail(f"cannot unstack {dims[ax]} elements into num={num}")
    out = dims[:ax] + dims[ax + 1:]
    return [(TensorShape(out), x.dtype)] * num


@op("Unpack", shape=_unpack_shape, may_alias=True)
def _unpack(xp, value, *, num, axis=0):
    return [xp.take(value, i, axis=axis) for i in builtins.range(num)] if axis else list(value)


@_unpack.grad
def _unpack_grad(op, *dys):
    return [stack(list(dys), axis=op.attrs["axis"])]


def unstack(value, num=None, axis: int = 0, name: str = "unstack") -> list[Tensor]:
    """``tf.unstack``: split along ``axis`` into rank-(R-1) tensors."""
    value = convert_to_tensor(value)
    if num is None:
        if value.shape.ndims is None or value.shape[axis] is None:
            raise ValueError(f"Cannot infer num from shape {value.shape}")
        num = int(value.shape[axis])
    out = _unpack(value, num=int(num), axis=int(axis), name=name)
    return out if isinstance(out, list) else [out]


def _split_shape(node: NodeSpec):
    x = node.inputs[0]
    sizes, axis = node.attrs["sizes"], node.attrs["axis"]
    if x.shape.ndims is None:
        return [(TensorShape(None), x.dtype) for _ in sizes]
    dims = x.shape.as_list()
    ax = _norm_axis(axis, len(dims), node)
    if dims[ax] is not None and builtins.sum(sizes) != dims[ax]:
        node.fail(f"split sizes {list(sizes)} do not add up to dimension {ax} of size "
                  f"{dims[ax]}")
    return [(TensorShape(dims[:ax] + [s] + dims[ax + 1:]), x.dtype) for s in sizes]


@op("SplitV", shape=_split_shape, may_alias=True)
def _split(xp, value, *, sizes, axis):
    idx = np.cumsum(sizes)[:-1].tolist()
    return xp.split(value, idx, axis=axis)


@_split.grad
def _split_grad(op, *dys):
    return [concat(list(dys), axis=op.attrs["axis"])]


def split(value, num_or_size_splits, axis=0, num=None, name: str = "split") -> list[Tensor]:
    """``tf.split``: into ``n`` equal parts, or parts of the given sizes."""
    value = convert_to_tensor(value)
    axis = int(_int_list(axis, "axis")[0])
    if isinstance(num_or_size_splits, int) or (isinstance(num_or_size_splits, np.integer)):
        n = int(num_or_size_splits)
        d = value.shape[axis] if value.shape.ndims is not None else None
        if d is None:
            raise ValueError(f"split into {n} parts needs a known size along axis {axis}")
        if d % n:
            raise ValueError(f"Dimension {axis} of size {d} is not evenly divisible by {n} "
                             f"(tf.split of {value.name})")
        sizes = (d // n,) * n
    else:
        sizes = list(_int_list(num_or_size_splits, "size_splits"))
        if -1 in sizes:
            d = value.shape[axis]
            sizes[sizes.index(-1)] = d - (builtins.sum(sizes) + 1)
        sizes = tuple(sizes)
    out = _split(value, sizes=sizes, axis=axis, name=name)
    return out if isinstance(out, list) else [out]


def _tile_shape(node: NodeSpec):
    x = node.inputs[0]
    m = node.attrs["multiples"]
    if x.shape.ndims is None:
        return TensorShape([None] * len(m)), x.dtype
    if len(m) != x.shape.ndims:
        node.fail(f"multiples has {len(m)} entries but the input has rank {x.shape.ndims}")
    return TensorShape([None if d is None else d * k for d, k in zip(x.shape.as_list(), m)]), \
        x.dtype


@op("Tile", shape=_tile_shape)
def _tile(xp, input, *, multiples):  # noqa: A002
    return xp.tile(input, multiples)


@_tile.grad
def _tile_grad(op, dy):
    from flowgrad.ops.reduce_ops import reduce_sum  # noqa: PLC0415
    x = op.inputs[0]
    m = op.attrs["multiples"]
    r = len(m)
    xs = _shape_of(x)
    split_shape = stack([v for k in builtins.range(r) for v in (m[k], xs[k])])
    g = reshape(dy, split_shape)
    return [reduce_sum(g, axis=list(builtins.range(0, 2 * r, 2)))]


def tile(input, multiples, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.tile``: repeat the tensor ``multiples[i]`` times along axis ``i``."""
    return _tile(input, multiples=tuple(_int_list(multiples, "multiples")), name=name)


def _pad_shape(node: NodeSpec):
    x = node.inputs[0]
    p = node.attrs["paddings"]
    if x.shape.ndims is None:
        return TensorShape([None] * len(p)), x.dtype
    if len(p) != x.shape.ndims:
        node.fail(f"paddings has {len(p)} rows but the input has rank {x.shape.ndims}")
    mode = node.attrs["mode"]
    for (lo, hi), d in zip(p, x.shape.as_list()):
        if mode == "REFLECT" and d is not None and (lo >= d or hi >= d):
            node.fail(f"REFLECT padding ({lo}, {hi}) must be smaller than the dimension {d}")
    return TensorShape([None if d is None else d + lo + hi for (lo, hi), d in
                        zip(p, x.shape.as_list())]), x.dtype


@op("PadV2", shape=_pad_shape, same_dtype=("input", "constant_values"))
def _pad(xp, input, constant_values, *, paddings, mode="CONSTANT"):  # noqa: A002
    if mode == "CONSTANT":
        # allocate and copy in: np.pad's generality costs 3x on small images
        out = xp.full(tuple(d + lo + hi for d, (lo, hi) in zip(input.shape, paddings)),
                      constant_values, dtype=input.dtype)
        out[tuple(builtins.slice(lo, lo + d) for d, (lo, _) in zip(input.shape, paddings))] = input
        return out
    return xp.pad(input, paddings, mode="reflect" if mode == "REFLECT" else "symmetric")


@_pad.grad
def _pad_grad(op, dy):
    x = op.inputs[0]
    p = op.attrs["paddings"]
    if op.attrs["mode"] != "CONSTANT":
        raise LookupError(f"Gradient of {op.attrs['mode']} padding is not implemented "
                          f"('{op.name}')")
    begin = constant([lo for lo, _ in p], _dt.int32)
    return [slice(dy, begin, _shape_of(x)), None]


def pad(tensor, paddings, mode: str = "CONSTANT", name: str | None = None,
        constant_values=0) -> Tensor:
    """``tf.pad``: CONSTANT, REFLECT or SYMMETRIC padding; ``paddings`` is [rank, 2]."""
    mode = mode.upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"Unknown padding mode: {mode}")
    p = np.asarray(_int_list(paddings, "paddings")).reshape(-1, 2)
    tensor = convert_to_tensor(tensor)
    # TF1's names: Pad (PadV2 with constant_values), MirrorPad; the op type stays PadV2
    default = "MirrorPad" if mode != "CONSTANT" else \
        "Pad" if isinstance(constant_values, int | float) and constant_values == 0 else "PadV2"
    return _pad(tensor, constant_values, paddings=tuple((int(a), int(b)) for a, b in p),
                mode=mode, name=name or default)


newaxis = None

# indexing ops live in their own module; array_ops keeps exporting them
from flowgrad.ops.indexing_ops import (_gather_grad_op, _scatter_add, _slice,  # noqa: E402, F401
                                       _strided_slice, gather, gather_nd, getitem, reverse,
                                       reverse_v2, scatter_nd, slice, strided_slice,
                                       where_indices)
