"""Elementwise math, comparisons, logic, casts, matmul and friends.

Each op: builder + shape rule + kernel + gradient, side by side.  Gradient rules are
written as if nothing broadcast; the gradient engine sums them to each input's shape.
"""

from __future__ import annotations

import builtins

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, comparison, convert_to_tensor,
                                         elementwise, op, require_float, unary)
from flowgrad.framework.shapes import TensorShape, broadcast_shapes
from flowgrad.ops import _xp
from flowgrad.ops import array_ops as A
from flowgrad.runtime import onednn


def _float_unary(node: NodeSpec):
    require_float(node)
    return unary(node)


def _numeric_unary(node: NodeSpec):
    if not node.inputs[0].dtype.is_numeric:
        node.fail(f"expects a numeric input, got {node.inputs[0].dtype.name}", TypeError)
    return unary(node)


def _numeric_binary(node: NodeSpec):
    for t in node.inputs:
        if not t.dtype.is_numeric:
            node.fail(f"expects numeric inputs, got {t.dtype.name}; cast with tf.cast",
                      TypeError)
    return elementwise(node)


def _float_binary(node: NodeSpec):
    require_float(node)
    return elementwise(node)


# ----- Binary arithmetic ---------------------------------------------------------------
# The builders keep the operators' lower-case names (``a + b``: ``add``), which library code
# gets too (TF1's was mostly written with operators); the public ``tf.add`` & co., whose
# TF1 names are ``Add``, ``Sub``, ``Mul``, ``FloorMod``, ``Pow``, are in ``ops/math_api.py``.
@op("AddV2", shape=_numeric_binary, same_dtype=True, name="add")
def add(xp, x, y):
    return x + y


@add.grad
def _add_grad(op, dy):
    return [dy, dy]


@op("Sub", shape=_numeric_binary, same_dtype=True, name="sub")
def subtract(xp, x, y):
    return x - y


@subtract.grad
def _subtract_grad(op, dy):
    return [dy, negative(dy)]


@op("Mul", shape=_numeric_binary, same_dtype=True, name="mul")
def multiply(xp, x, y):
    return x * y


@multiply.grad
def _multiply_grad(op, dy):
    x, y = op.inputs
    return [dy * y, x * dy]


@op("RealDiv", shape=_numeric_binary, same_dtype=True)
def _real_div(xp, x, y):
    if x.dtype.kind in "iu":
        return xp.floor_divide(x, y)
    return x / y


@_real_div.grad
def _real_div_grad(op, dy):
    x, y = op.inputs
    return [dy / y, negative(dy) * x / square(y)]


@op("FloorDiv", shape=_numeric_binary, same_dtype=True, name="floordiv")
def floordiv(xp, x, y):
    return xp.floor_divide(x, y)


NotDifferentiable("FloorDiv")


@op("FloorMod", shape=_numeric_binary, same_dtype=True, name="mod")
def floormod(xp, x, y):
    return xp.mod(x, y)


@floormod.grad
def _floormod_grad(op, dy):
    x, y = op.inputs
    return [dy, negative(dy) * floor(x / y)]


@op("Pow", shape=_numeric_binary, same_dtype=True, name="pow")
def pow(xp, x, y):  # noqa: A001 - TF's name
    return xp.power(x, y)


@pow.grad
def _pow_grad(op, dy):
    x, y = op.inputs
    z = op.outputs[0]
    dx = dy * y * pow(x, y - 1)
    safe_log = where(x > 0, log(where(x > 0, x, A.ones_like(x))), A.zeros_like(x))
    return [dx, dy * z * safe_log]


@op("Maximum", shape=_numeric_binary, same_dtype=True)
def maximum(xp, x, y):
    return xp.maximum(x, y)


@maximum.grad
def _maximum_grad(op, dy):
    x, y = op.inputs
    mask = greater_equal(x, y)
    zeros = A.zeros_like(dy)
    return [where(mask, dy, zeros), where(mask, zeros, dy)]


@op("Minimum", shape=_numeric_binary, same_dtype=True)
def minimum(xp, x, y):
    return xp.minimum(x, y)


@minimum.grad
def _minimum_grad(op, dy):
    x, y = op.inputs
    mask = less_equal(x, y)
    zeros = A.zeros_like(dy)
    return [where(mask, dy, zeros), where(mask, zeros, dy)]


@op("SquaredDifference", shape=_numeric_binary, same_dtype=True)
def squared_difference(xp, x, y):
    d = x - y
    return d * d


@squared_difference.grad
def _squared_difference_grad(op, dy):
    x, y = op.inputs
    g = 2.0 * dy * (x - y) if dy.dtype.is_floating else dy * (x - y) * 2
    return [g, negative(g)]


@op("Atan2", shape=_float_binary, same_dtype=True)
def atan2(xp, y, x):
    return xp.arctan2(y, x)


@atan2.grad
def _atan2_grad(op, dz):
    y, x = op.inputs
    d = dz / (square(x) + square(y))
    return [d * x, negative(d) * y]


# ----- Unary ---------------------------------------------------------------------------
@op("Neg", shape=_numeric_unary)
def negative(xp, x):
    return -x


@negative.grad
def _negative_grad(op, dy):
    return [negative(dy)]


@op("Abs", shape=_numeric_unary)
def abs(xp, x):  # noqa: A001 - TF's name
    return xp.abs(x)


@abs.grad
def _abs_grad(op, dy):
    return [dy * sign(op.inputs[0])]


@op("Sign", shape=_numeric_unary)
def sign(xp, x):
    return xp.sign(x)


@sign.grad
def _sign_grad(op, dy):
    return [A.zeros_like(op.inputs[0])]


@op("Square", shape=_numeric_unary)
def square(xp, x):
    return x * x


@square.grad
def _square_grad(op, dy):
    x = op.inputs[0]
    return [dy * (2.0 * x if x.dtype.is_floating else x * 2)]


@op("Sqrt", shape=_float_unary)
def sqrt(xp, x):
    return xp.sqrt(x)


@sqrt.grad
def _sqrt_grad(op, dy):
    return [dy * 0.5 / op.outputs[0]]


@op("Rsqrt", shape=_float_unary)
def rsqrt(xp, x):
    return 1.0 / xp.sqrt(x)


@rsqrt.grad
def _rsqrt_grad(op, dy):
    y = op.outputs[0]
    return [dy * -0.5 * y * y * y]


@op("Reciprocal", shape=_float_unary)
def reciprocal(xp, x):
    return 1.0 / x


@reciprocal.grad
def _reciprocal_grad(op, dy):
    y = op.outputs[0]
    return [negative(dy) * y * y]


@op("Exp", shape=_float_unary)
def exp(xp, x):
    return xp.exp(x)


@exp.grad
def _exp_grad(op, dy):
    return [dy * op.outputs[0]]


@op("Expm1", shape=_float_unary)
def expm1(xp, x):
    return xp.expm1(x)


@expm1.grad
def _expm1_grad(op, dy):
    return [dy * exp(op.inputs[0])]


@op("Log", shape=_float_unary)
def log(xp, x):
    return xp.log(x)


@log.grad
def _log_grad(op, dy):
    return [dy / op.inputs[0]]


@op("Log1p", shape=_float_unary)
def log1p(xp, x):
    return xp.log1p(x)


@log1p.grad
def _log1p_grad(op, dy):
    return [dy / (1.0 + op.inputs[0])]


@op("Sin", shape=_float_unary)
def sin(xp, x):
    return xp.sin(x)


@sin.grad
def _sin_grad(op, dy):
    return [dy * cos(op.inputs[0])]


@op("Cos", shape=_float_unary)
def cos(xp, x):
    return xp.cos(x)


@cos.grad
def _cos_grad(op, dy):
    return [negative(dy) * sin(op.inputs[0])]


@op("Tan", shape=_float_unary)
def tan(xp, x):
    return xp.tan(x)


@tan.grad
def _tan_grad(op, dy):
    c = cos(op.inputs[0])
    return [dy / (c * c)]


@op("Asin", shape=_float_unary)
def asin(xp, x):
    return xp.arcsin(x)


@asin.grad
def _asin_grad(op, dy):
    return [dy * rsqrt(1.0 - square(op.inputs[0]))]


@op("Acos", shape=_float_unary)
def acos(xp, x):
    return xp.arccos(x)


@acos.grad
def _acos_grad(op, dy):
    return [negative(dy) * rsqrt(1.0 - square(op.inputs[0]))]


@op("Atan", shape=_float_unary)
def atan(xp, x):
    return xp.arctan(x)


@atan.grad
def _atan_grad(op, dy):
    return [dy / (1.0 + square(op.inputs[0]))]


@op("Sinh", shape=_float_unary)
def sinh(xp, x):
    return xp.sinh(x)


@sinh.grad
def _sinh_grad(op, dy):
    return [dy * cosh(op.inputs[0])]


@op("Cosh", shape=_float_unary)
def cosh(xp, x):
    return xp.cosh(x)


@cosh.grad
def _cosh_grad(op, dy):
    return [dy * sinh(op.inputs[0])]


@op("Tanh", shape=_float_unary)
def tanh(xp, x):
    return xp.tanh(x)


@tanh.grad
def _tanh_grad(op, dy):
    y = op.outputs[0]
    return [dy * (1.0 - y * y)]


@op("Sigmoid", shape=_float_unary)
def sigmoid(xp, x):
    # 0.5 * (1 + tanh(x / 2)) is exact, stable for large |x| and one transcendental call
    h = xp.tanh(x * 0.5)
    h += 1.0
    h *= 0.5
    return h


@sigmoid.grad
def _sigmoid_grad(op, dy):
    y = op.outputs[0]
    return [dy * y * (1.0 - y)]


@op("Floor", shape=_float_unary)
def floor(xp, x):
    return xp.floor(x)


@op("Ceil", shape=_float_unary)
def ceil(xp, x):
    return xp.ceil(x)


@op("Round", shape=_numeric_unary)
def round(xp, x):  # noqa: A001 - TF's name; banker's rounding like TF
    return xp.round(x)


@op("Rint", shape=_float_unary)
def rint(xp, x):
    return xp.rint(x)


for _t in ("Floor", "Ceil", "Round", "Rint"):
    NotDifferentiable(_t)


@op("Erf", shape=_float_unary)
def erf(xp, x):
    return _xp.erf(xp, x)


@erf.grad
def _erf_grad(op, dy):
    x = op.inputs[0]
    return [dy * (2.0 / 3.141592653589793 ** 0.5) * exp(negative(square(x)))]


@op("IsNan", shape=lambda n: (n.inputs[0].shape, _dt.bool_))
def is_nan(xp, x):
    return xp.isnan(x)


@op("IsInf", shape=lambda n: (n.inputs[0].shape, _dt.bool_))
def is_inf(xp, x):
    return xp.isinf(x)


@op("IsFinite", shape=lambda n: (n.inputs[0].shape, _dt.bool_))
def is_finite(xp, x):
    return xp.isfinite(x)


# ----- Comparisons and logic -----------------------------------------------------------
@op("Equal", shape=comparison, same_dtype=True)
def equal(xp, x, y):
    return xp.equal(x, y)


@op("NotEqual", shape=comparison, same_dtype=True)
def not_equal(xp, x, y):
    return xp.not_equal(x, y)


@op("Less", shape=comparison, same_dtype=True)
def less(xp, x, y):
    return xp.less(x, y)


@op("LessEqual", shape=comparison, same_dtype=True)
def less_equal(xp, x, y):
    return xp.less_equal(x, y)


@op("Greater", shape=comparison, same_dtype=True)
def greater(xp, x, y):
    return xp.greater(x, y)


@op("GreaterEqual", shape=comparison, same_dtype=True)
def greater_equal(xp, x, y):
    return xp.greater_equal(x, y)


def _bool_binary(node: NodeSpec):
    for t in node.inputs:
        if not t.dtype.is_bool:
            node.fail(f"expects bool inputs, got {t.dtype.name}", TypeError)
    return elementwise(node)


@op("LogicalAnd", shape=_bool_binary, same_dtype=True)
def logical_and(xp, x, y):
    return xp.logical_and(x, y)


@op("LogicalOr", shape=_bool_binary, same_dtype=True)
def logical_or(xp, x, y):
    return xp.logical_or(x, y)


@op("LogicalNot", shape=lambda n: _bool_binary(n))
def logical_not(xp, x):
    return xp.logical_not(x)


def logical_xor(x, y, name: str = "LogicalXor"):
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name)


def _xor_operator(x, y):
    from flowgrad.framework.graph import name_scope  # noqa: PLC0415
    with name_scope("xor") as scope:                  # TF1: xor/LogicalOr, ..., xor
        return logical_xor(x, y, name=scope)


for _t in ("Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd",
           "LogicalOr", "LogicalNot", "IsNan", "IsInf", "IsFinite"):
    NotDifferentiable(_t)


def _select_shape(node: NodeSpec):
    c, x, y = node.inputs
    if not c.dtype.is_bool:
        node.fail(f"condition must be bool, got {c.dtype.name}", TypeError)
    if x.dtype != y.dtype:
        node.fail(f"x and y must have the same dtype, got {x.dtype.name} and {y.dtype.name}",
                  TypeError)
    shape = broadcast_shapes(x.shape, y.shape)
    shape = broadcast_shapes(shape, c.shape) if shape is not None else None
    if shape is None:
        node.fail("condition, x and y must broadcast to one shape")
    return shape, x.dtype


@op("SelectV2", shape=_select_shape, same_dtype=("x", "y"))
def _select(xp, condition, x, y):
    return xp.where(condition, x, y)


@_select.grad
def _select_grad(op, dy):
    c = op.inputs[0]
    zeros = A.zeros_like(dy)
    return [None, where(c, dy, zeros), where(c, zeros, dy)]


def where(condition, x=None, y=None, name: str | None = None):
    """``tf.where``: elementwise select, or coordinates of true elements with one argument."""
    if x is None and y is None:
        return A.where_indices(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    return select(condition, x, y, name=name or "Select")     # TF1's Select: rows for rank 1


def where_v2(condition, x=None, y=None, name: str | None = None):
    """``tf.where_v2``: ``tf.where`` whose condition broadcasts with ``x`` and ``y``."""
    if x is None and y is None:
        return A.where_indices(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    return _select(condition, x, y, name=name)


def select(condition, x, y, name: str | None = None):
    """TF1 ``tf.select``/``tf.where`` with a rank-1 condition selecting whole rows."""
    c = convert_to_tensor(condition)
    ranks = [v._as_graph_element().shape.ndims if hasattr(v, "_as_graph_element") else np.ndim(v)
             for v in (x, y)]
    rank = None if None in ranks else builtins.max(ranks)
    if c.shape.ndims == 1 and rank not in (None, 0, 1):
        c = A.reshape(c, [-1] + [1] * (rank - 1))
    return _select(c, x, y, name=name)


# ----- Casts ---------------------------------------------------------------------------
@op("Cast", shape=lambda n: (n.inputs[0].shape, n.attrs["DstT"]))
def _cast(xp, x, *, DstT, Truncate=False):  # noqa: N803 - TF's attr names
    return x.astype(DstT.np, copy=False)


@_cast.grad
def _cast_grad(op, dy):
    src = op.inputs[0].dtype
    if not (src.is_floating or src.is_complex) or not op.outputs[0].dtype.is_floating:
        return [None]
    return [cast(dy, src)]


def cast(x, dtype, name: str | None = None):
    """``tf.cast``: a new tensor with elements converted to ``dtype`` (identity if same)."""
    dtype = _dt.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype == dtype:
        return x
    return _cast(x, DstT=dtype, name=name or "Cast")


def to_float(x, name: str = "ToFloat"):
    return cast(x, _dt.float32, name)


def to_double(x, name: str = "ToDouble"):
    return cast(x, _dt.float64, name)


def to_int32(x, name: str = "ToInt32"):
    return cast(x, _dt.int32, name)


def to_int64(x, name: str = "ToInt64"):
    return cast(x, _dt.int64, name)


def saturate_cast(value, dtype, name: str | None = None):
    dtype = _dt.as_dtype(dtype)
    value = convert_to_tensor(value)
    if value.dtype.is_floating and dtype.is_integer or value.dtype.size > dtype.size:
        value = clip_by_value(value, cast(dtype.min, value.dtype), cast(dtype.max, value.dtype))
    return cast(value, dtype, name)


# ----- Matrix multiply -----------------------------------------------------------------
def _matmul_shape(node: NodeSpec):
    a, b = node.inputs
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    if not a.dtype.is_numeric or a.dtype.is_bool:
        node.fail(f"expects numeric inputs, got {a.dtype.name}", TypeError)
    sa, sb = a.shape, b.shape
    if sa.ndims is None or sb.ndims is None:
        return TensorShape(None), a.dtype
    if sa.ndims < 2 or sb.ndims < 2:
        node.fail(f"both inputs must be at least rank 2, got ranks {sa.ndims} and {sb.ndims}. "
                  "Use tf.reshape or tf.expand_dims to make a vector a matrix.")
    m, ka = (sa[-1], sa[-2]) if ta else (sa[-2], sa[-1])
    kb, n = (sb[-1], sb[-2]) if tb else (sb[-2], sb[-1])
    if ka is not None and kb is not None and ka != kb:
        node.fail(f"inner dimensions differ: {sa} @ {sb}"
                  f"{' (transpose_a)' if ta else ''}{' (transpose_b)' if tb else ''}: "
                  f"{int(ka)} != {int(kb)}")
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    if batch is None:
        node.fail(f"batch dimensions {sa[:-2]} and {sb[:-2]} do not broadcast")
    return batch.concatenate([m, n]), a.dtype


def _matmul_kernel(xp, a, b, *, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = xp.swapaxes(a, -1, -2)
    if transpose_b:
        b = xp.swapaxes(b, -1, -2)
    if xp is np and a.ndim == 2 and b.ndim == 2:
        return onednn.product(a, b)        # oneDNN's GEMM for large float32 products
    return xp.matmul(a, b)


def _matmul_grad(op, dy):
    a, b = op.inputs
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    if not ta and not tb:
        return [matmul(dy, b, transpose_b=True), matmul(a, dy, transpose_a=True)]
    if not ta and tb:
        return [matmul(dy, b), matmul(dy, a, transpose_a=True)]
    if ta and not tb:
        return [matmul(b, dy, transpose_b=True), matmul(a, dy)]
    return [matmul(b, dy, transpose_a=True, transpose_b=True),
            matmul(dy, a, transpose_a=True, transpose_b=True)]


# TF's two op types: MatMul for matrices, BatchMatMulV2 for stacks of them (broadcast batch)
_matmul2d = op("MatMul", shape=_matmul_shape, same_dtype=True, broadcasting=False)(
    _matmul_kernel)
_batch_matmul = op("BatchMatMulV2", shape=_matmul_shape, same_dtype=True)(_matmul_kernel)


@_matmul2d.device_kernel("cuda")
def _matmul_cuda(xp, a, b, *, transpose_a=False, transpose_b=False):
    """One direct cuBLAS GEMM (``runtime.cuda.gemm``), else CuPy's matmul."""
    from flowgrad.runtime import cuda  # noqa: PLC0415 - imports CuPy
    out = cuda.gemm(a, b, transpose_a, transpose_b)
    if out is None:
        out = _matmul_kernel(xp, a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    return out
_matmul2d.grad(_matmul_grad)
_batch_matmul.grad(_matmul_grad)


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False, adjoint_a: bool = False,
           adjoint_b: bool = False, a_is_sparse: bool = False, b_is_sparse: bool = False,
           name: str | None = None, output_type=None):
    """``tf.matmul``: (batched) matrix product ``a @ b`` with optional transposes."""
    a = convert_to_tensor(a) if not hasattr(b, "_as_graph_element") else a
    ra = a.shape.ndims if hasattr(a, "shape") and hasattr(a.shape, "ndims") else np.ndim(a)
    bt = b if hasattr(b, "_as_graph_element") else None
    rb = bt._as_graph_element().shape.ndims if bt is not None else np.ndim(b)
    builder = _matmul2d if ra == 2 and rb == 2 else _batch_matmul
    return builder(a, b, transpose_a=bool(transpose_a or adjoint_a),
                   transpose_b=bool(transpose_b or adjoint_b), name=name or "MatMul")


# ----- n-ary ---------------------------------------------------------------------------
def _add_n_shape(node: NodeSpec):
    if not node.inputs:
        node.fail("needs at least one input")
    shape = node.inputs[0].shape
    for t in node.inputs[1:]:
        try:
            shape = shape.merge_with(t.shape)
        except ValueError:
            node.fail(f"all inputs must have the same shape, got {node.inputs[0].shape} and "
                      f"{t.shape}")
    return shape, node.inputs[0].dtype


@op("AddN", shape=_add_n_shape, same_dtype=True, broadcasting=False)
def _add_n(xp, *inputs):
    out = inputs[0] + inputs[1] if len(inputs) > 1 else inputs[0].copy()
    for x in inputs[2:]:
        out += x
    return out


@_add_n.grad
def _add_n_grad(op, dy):
    return [dy] * len(op.inputs)


def add_n(inputs, name: str | None = None):
    """``tf.add_n``: elementwise sum of a list of same-shaped tensors."""
    if not isinstance(inputs, list | tuple) or not inputs:
        raise ValueError("inputs must be a non-empty list of tensors with the same shape")
    if len(inputs) == 1:
        return A.identity(inputs[0], name=name)
    return _add_n(list(inputs), name=name or "AddN")


def accumulate_n(inputs, shape=None, tensor_dtype=None, name: str | None = None):
    return add_n(inputs, name=name)


# ----- API wrappers with TF names --------------------------------------------------------
def divide(x, y, name: str | None = None):
    """``tf.divide``: true division (floats) — ``x / y``."""
    return truediv(x, y, name=name)


def truediv(x, y, name: str | None = None):
    """Python-3 division: integer inputs are cast to float first, as in TF."""
    dt = _dtype_of(x) or _dtype_of(y)
    if dt is not None and dt.is_integer:
        # as TF1: the casts live under the division's name (``truediv/Cast``)
        from flowgrad.framework.graph import get_default_graph  # noqa: PLC0415
        g = get_default_graph()
        own = name[:-1] if name and name.endswith("/") else g.unique_name(name or "truediv")
        target = _dt.float32 if dt.size <= 2 else _dt.float64
        with g.name_scope(own + "/"):
            x = x if _dtype_of(x) else convert_to_tensor(x, dtype=dt, name="x")
            y = y if _dtype_of(y) else convert_to_tensor(y, dtype=dt, name="y")
            x, y = cast(x, target), cast(y, target)
        return _real_div(x, y, name=own + "/")
    return _real_div(x, y, name=name or "truediv")


def _dtype_of(v):
    if hasattr(v, "_as_graph_element"):
        return v._as_graph_element().dtype
    return None


def div(x, y, name: str | None = None):
    """TF1 ``tf.div``: Python-2 semantics (floor division for integers)."""
    return _real_div(x, y, name=name or "div")


def realdiv(x, y, name: str | None = None):
    """``tf.realdiv``: the ``RealDiv`` op itself."""
    return _real_div(x, y, name=name or "RealDiv")


def floor_div(x, y, name: str | None = None):
    """``tf.floor_div``: the ``FloorDiv`` op (``tf.floordiv`` names it ``floordiv``)."""
    return floordiv(x, y, name=name or "FloorDiv")


def div_no_nan(x, y, name: str | None = None):
    y = convert_to_tensor(y)
    safe = where(equal(y, 0), A.ones_like(y), y)
    return where(equal(y, 0), A.zeros_like(_real_div(x, safe)), _real_div(x, safe), name=name)


def clip_by_value(t, clip_value_min, clip_value_max, name: str | None = None):
    """``tf.clip_by_value``: elementwise ``min(max(t, lo), hi)``; gradient 0 outside."""
    from flowgrad.framework.graph import name_scope  # noqa: PLC0415
    with name_scope(name, "clip_by_value") as scope:   # TF1: clip_by_value/Minimum, clip_by_value
        t = convert_to_tensor(t)
        return maximum(minimum(t, clip_value_max), clip_value_min, name=scope)


def sigmoid_v1(x, name=None):
    return sigmoid(x, name=name)


# ----- Operator overloads ----------------------------------------------------------------
def _binary(fn, op_name: str, reverse: bool = False):
    # TF1 names an operator's op after the operator (``a + b``: ``add``, ``a @ b``:
    # ``matmul``); a Python operand becomes a constant under it (``2.0 + a``: ``add/x``)
    if reverse:
        def method(self, other):
            return fn(other, self, name=op_name)
    else:
        def method(self, other):
            return fn(self, other, name=op_name)
    return method


def _install_operators() -> None:
    from flowgrad.framework.graph import Tensor  # noqa: PLC0415
    pairs = {"add": add, "sub": subtract, "mul": multiply, "truediv": truediv,
             "floordiv": floordiv, "mod": floormod, "pow": pow, "matmul": matmul}
    for nm, fn in pairs.items():
        setattr(Tensor, f"__{nm}__", _binary(fn, nm))
        setattr(Tensor, f"__r{nm}__", _binary(fn, nm, reverse=True))
    Tensor.__neg__ = lambda self: negative(self)
    Tensor.__abs__ = lambda self: abs(self)
    Tensor.__invert__ = lambda self: logical_not(self)
    Tensor.__lt__ = lambda self, o: less(self, o)
    Tensor.__le__ = lambda self, o: less_equal(self, o)
    Tensor.__gt__ = lambda self, o: greater(self, o)
    Tensor.__ge__ = lambda self, o: greater_equal(self, o)
    Tensor.__and__ = lambda self, o: logical_and(self, o, name="and")
    Tensor.__rand__ = lambda self, o: logical_and(o, self, name="and")
    Tensor.__or__ = lambda self, o: logical_or(self, o, name="or")
    Tensor.__ror__ = lambda self, o: logical_or(o, self, name="or")
    Tensor.__xor__ = _xor_operator
    Tensor.__getitem__ = lambda self, key: A.getitem(self, key)


_install_operators()
