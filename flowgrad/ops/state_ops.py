"""Stateful ops: variables and assignments, control ops (NoOp, group), random ops.

A variable's value lives in the session that runs it.  ``VariableV2`` reads it; ops that
change it (``Assign``, ``AssignAdd``, optimizer updates) take the variable as a *ref input*:
the plan hands them a handle to the session's value instead of the value itself.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Operation, Tensor, get_default_graph, get_seed
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_shape,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape, as_shape


# ----- Variables -----------------------------------------------------------------------
@op("VariableV2", shape=lambda n: (n.attrs["shape"], n.attrs["dtype"]), stateful=True,
    may_alias=True)
def variable_op(xp, *, ctx, shape, dtype, container="", shared_name=""):
    return ctx.var(ctx.op).get()


NotDifferentiable("VariableV2")


def _assign_shape(node: NodeSpec):
    ref, value = node.inputs
    if node.attrs.get("validate_shape", True) and not ref.shape.is_compatible_with(value.shape):
        node.fail(f"cannot assign a value of shape {value.shape} to variable "
                  f"'{ref.op.name}' of shape {ref.shape}")
    if ref.dtype != value.dtype:
        node.fail(f"cannot assign a {value.dtype.name} value to {ref.dtype.name} variable "
                  f"'{ref.op.name}'", TypeError)
    return ref.shape if node.attrs.get("validate_shape", True) else value.shape, ref.dtype


def apply_update_shape(node: NodeSpec):
    """Shape rule of optimizer update ops ``Apply*(var, ..., grad)``: the variable's shape."""
    ref, grad = node.inputs[0], node.inputs[-1]
    if not ref.shape.is_compatible_with(grad.shape):
        node.fail(f"gradient shape {grad.shape} does not match variable '{ref.op.name}' of "
                  f"shape {ref.shape}")
    return ref.shape, ref.dtype


@op("Assign", shape=_assign_shape, same_dtype=True, ref_inputs=(0,), stateful=True)
def _assign(xp, ref, value, *, validate_shape=True, use_locking=False):
    if validate_shape and ref.initialized and ref.get().shape != value.shape:
        raise ValueError(f"Assign requires shapes of both tensors to match. lhs shape= "
                         f"{ref.get().shape} rhs shape= {value.shape}")
    flags = value.flags          # CuPy's flags have no ``writeable``: device arrays always are
    new = value.copy() if not flags.owndata or not getattr(flags, "writeable", True) else value
    ref.set(new)
    return new


@op("AssignAdd", shape=_assign_shape, same_dtype=True, ref_inputs=(0,), stateful=True)
def _assign_add(xp, ref, value, *, use_locking=False):
    new = ref.get() + value
    ref.set(new)
    return new


@op("AssignSub", shape=_assign_shape, same_dtype=True, ref_inputs=(0,), stateful=True)
def _assign_sub(xp, ref, value, *, use_locking=False):
    new = ref.get() - value
    ref.set(new)
    return new


for _t in ("Assign", "AssignAdd", "AssignSub"):
    NotDifferentiable(_t)


def assign(ref, value, validate_shape=None, use_locking=None, name=None) -> Tensor:
    """``tf.assign``: writes ``value`` into the variable; evaluates to the new value."""
    return _assign(_ref_tensor(ref), value, validate_shape=validate_shape is not False,
                   name=name or "Assign")


def assign_add(ref, value, use_locking=None, name=None) -> Tensor:
    return _assign_add(_ref_tensor(ref), value, name=name or "AssignAdd")


def assign_sub(ref, value, use_locking=None, name=None) -> Tensor:
    return _assign_sub(_ref_tensor(ref), value, name=name or "AssignSub")


def _ref_tensor(v) -> Tensor:
    if hasattr(v, "_variable"):
        return v._variable
    if isinstance(v, Tensor) and v.op.type == "VariableV2":
        return v
    raise TypeError(f"{v!r} is not a variable: assignments need a tf.Variable.")


@op("IsVariableInitialized", shape=lambda n: (TensorShape(()), _dt.bool_), ref_inputs=(0,),
    stateful=True)
def _is_initialized(xp, ref):
    return xp.asarray(ref.initialized)


NotDifferentiable("IsVariableInitialized")


def is_variable_initialized(variable) -> Tensor:
    return _is_initialized(_ref_tensor(variable))


# ----- Control ---------------------------------------------------------------------------
@op("NoOp", shape=lambda n: [])
def _no_op(xp):
    return None


def no_op(name: str | None = None) -> Operation:
    """``tf.no_op``: does nothing; useful as a target carrying control dependencies."""
    return _no_op(name=name or "NoOp")


def group(*inputs, **kwargs) -> Operation:
    """``tf.group``: an op that runs all ``inputs`` (ops or tensors) when run."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"Unknown keyword arguments: {sorted(kwargs)}")
    deps = []
    for i in inputs:
        if isinstance(i, list | tuple):
            deps.extend(i)
        elif i is not None:
            deps.append(i)
    g = get_default_graph()
    with g.control_dependencies(deps):
        return no_op(name=name or "group_deps")


def tuple_(tensors, name: str | None = None, control_inputs=None) -> list:
    """``tf.tuple``: the tensors, each gated on all of them (and ``control_inputs``) running."""
    from flowgrad.ops.array_ops import identity  # noqa: PLC0415
    gate = group(*[t for t in tensors if t is not None], *(control_inputs or []))
    with get_default_graph().control_dependencies([gate]):
        return [None if t is None else identity(t) for t in tensors]


def with_dependencies(dependencies, output_tensor, name: str | None = None) -> Tensor:
    from flowgrad.ops.array_ops import identity  # noqa: PLC0415
    with get_default_graph().control_dependencies(dependencies):
        return identity(output_tensor, name=name)


# ----- Random ----------------------------------------------------------------------------
def _random_shape(node: NodeSpec):
    return constant_shape(node.inputs[0]), node.attrs["dtype"]


@op("RandomUniform", shape=_random_shape, stateful=True)
def _random_uniform(xp, shape, *, ctx, dtype, seed=None, seed2=None):
    return xp.asarray(ctx.rng.random(tuple(int(d) for d in shape)).astype(dtype.np))


@op("RandomStandardNormal", shape=_random_shape, stateful=True)
def _random_normal(xp, shape, *, ctx, dtype, seed=None, seed2=None):
    return xp.asarray(ctx.rng.standard_normal(tuple(int(d) for d in shape)).astype(dtype.np))


@op("TruncatedNormal", shape=_random_shape, stateful=True)
def _truncated_normal(xp, shape, *, ctx, dtype, seed=None, seed2=None):
    shp = tuple(int(d) for d in shape)
    out = ctx.rng.standard_normal(shp)
    bad = np.abs(out) > 2.0
    while bad.any():   # resample outside two standard deviations, as TF does
        out[bad] = ctx.rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return xp.asarray(out.astype(dtype.np))


@op("RandomUniformInt", shape=lambda n: (constant_shape(n.inputs[0]), n.inputs[1].dtype),
    stateful=True)
def _random_uniform_int(xp, shape, minval, maxval, *, ctx, seed=None, seed2=None):
    return xp.asarray(ctx.rng.integers(int(minval), int(maxval), tuple(int(d) for d in shape))
                      .astype(minval.dtype))


@op("RandomShuffle", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype), stateful=True)
def _random_shuffle(xp, value, *, ctx, seed=None, seed2=None):
    return value[xp.asarray(ctx.rng.permutation(value.shape[0]))] if value.ndim else value


@op("Multinomial", shape=lambda n: (TensorShape([n.inputs[0].shape[0], None]),
                                    n.attrs["output_dtype"]), stateful=True)
def _multinomial(xp, logits, num_samples, *, ctx, output_dtype=_dt.int64, seed=None,
                 seed2=None):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    cdf = np.cumsum(p, axis=1)
    u = ctx.rng.random((logits.shape[0], int(num_samples)))
    return np.minimum((u[:, :, None] > cdf[:, None, :]).sum(-1), logits.shape[1] - 1) \
        .astype(output_dtype.np)


for _t in ("RandomUniform", "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt",
           "RandomShuffle", "Multinomial"):
    NotDifferentiable(_t)


def _seeds(seed):
    gs, s = get_seed(seed)
    return {"seed": gs, "seed2": s}


def _shape_arg(shape):
    from flowgrad.ops.array_ops import _shape_literal  # noqa: PLC0415
    return shape if isinstance(shape, Tensor) else _shape_literal(as_shape(shape).as_list()
                                                                  if isinstance(shape, TensorShape)
                                                                  else shape, "shape")


def random_uniform(shape, minval=0, maxval=None, dtype=_dt.float32, seed=None, name=None):
    """``tf.random_uniform``: uniform in ``[minval, maxval)`` (ints need ``maxval``)."""
    from flowgrad.framework.graph import name_scope  # noqa: PLC0415
    dtype = _dt.as_dtype(dtype)
    with name_scope(name, "random_uniform") as scope:  # TF1: random_uniform/shape, /min, /max
        s = _shape_arg(shape)
        if dtype.is_integer and maxval is None:
            raise ValueError("Must specify maxval for integer dtype")
        maxval = 1 if maxval is None else maxval
        lo = convert_to_tensor(minval, dtype=dtype, name="min")
        hi = convert_to_tensor(maxval, dtype=dtype, name="max")
        if dtype.is_integer:
            return _random_uniform_int(s, lo, hi, name=scope, **_seeds(seed))
        u = _random_uniform(s, dtype=dtype, **_seeds(seed))
        return _add_scaled(u, hi - lo, lo, scope)


def _add_scaled(u, scale, shift, scope):
    from flowgrad.ops.math_ops import add, multiply  # noqa: PLC0415
    return add(multiply(u, scale), shift, name=scope)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    """``tf.random_normal``: normal samples with the given mean and standard deviation."""
    from flowgrad.framework.graph import name_scope  # noqa: PLC0415
    dtype = _dt.as_dtype(dtype)
    with name_scope(name, "random_normal") as scope:   # TF1: random_normal/shape, /mean, ...
        s = _shape_arg(shape)
        mean = convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = convert_to_tensor(stddev, dtype=dtype, name="stddev")
        n = _random_normal(s, dtype=dtype, **_seeds(seed))
        return _add_scaled(n, stddev, mean, scope)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    """``tf.truncated_normal``: normal samples redrawn beyond 2 standard deviations."""
    from flowgrad.framework.graph import name_scope  # noqa: PLC0415
    dtype = _dt.as_dtype(dtype)
    with name_scope(name, "truncated_normal") as scope:
        s = _shape_arg(shape)
        mean = convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = convert_to_tensor(stddev, dtype=dtype, name="stddev")
        n = _truncated_normal(s, dtype=dtype, **_seeds(seed))
        return _add_scaled(n, stddev, mean, scope)


def random_shuffle(value, seed=None, name=None):
    return _random_shuffle(value, name=name, **_seeds(seed))


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None):
    return _multinomial(logits, convert_to_tensor(num_samples, dtype=_dt.int32), name=name,
                        output_dtype=_dt.as_dtype(output_dtype or _dt.int64), **_seeds(seed))


categorical = multinomial
