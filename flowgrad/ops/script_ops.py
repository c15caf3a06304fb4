"""``tf.py_func`` / ``tf.numpy_function``: a Python function as an op of the graph."""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.errors import InvalidArgumentError
from flowgrad.framework.registry import NodeSpec, get_opdef, make_op, op
from flowgrad.framework.shapes import TensorShape


def _py_func_shape(node: NodeSpec):
    touts = node.attrs["Tout"]
    if node.attrs["single"]:
        return TensorShape(None), touts[0]
    return [(TensorShape(None), t) for t in touts]


@op("PyFunc", shape=_py_func_shape, stateful=True)
def _py_func(xp, *inputs, func, Tout, single, fname=""):  # noqa: N803 - TF's attr name
    out = func(*inputs)
    outs = [out] if single else list(out if isinstance(out, list | tuple) else [out])
    if len(outs) != len(Tout):
        raise InvalidArgumentError(None, None, f"py_func {fname} returned {len(outs)} values, "
                                   f"expected {len(Tout)} (Tout)")
    outs = [_dt.string_array(o) if t == _dt.string else xp.asarray(o, dtype=t.np)
            for o, t in zip(outs, Tout)]
    return outs[0] if single else tuple(outs)


def py_func(func, inp, Tout, stateful: bool = True, name=None):  # noqa: N803
    """Wraps ``func(*numpy_arrays)`` as an op; ``Tout`` is a dtype or a list of dtypes.

    It has no gradient unless one is registered and mapped with
    ``Graph.gradient_override_map({"PyFunc": "MyGrad"})``, as in TF1."""
    single = not isinstance(Tout, list | tuple)
    touts = [_dt.as_dtype(Tout)] if single else [_dt.as_dtype(t) for t in Tout]
    return make_op(get_opdef("PyFunc"), list(inp),
                   {"func": func, "Tout": tuple(touts), "single": single,
                    "fname": getattr(func, "__name__", "")}, name or "PyFunc")


def numpy_function(func, inp, Tout, name=None):
    return py_func(func, inp, Tout, name=name)


def _identity_n_shape(node: NodeSpec):
    return [(t.shape, t.dtype) for t in node.inputs]


@op("IdentityN", shape=_identity_n_shape, may_alias=True, broadcasting=False)
def _identity_n(xp, *inputs):
    return tuple(inputs)


@_identity_n.grad
def _identity_n_grad(op, *dys):
    return list(dys)


def identity_n(input, name=None):  # noqa: A002
    """``tf.identity_n``: passes a list of tensors through (one op)."""
    return list(_identity_n(list(input), name=name))

