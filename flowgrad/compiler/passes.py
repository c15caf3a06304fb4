"""Rewrites of the program: folding, simplification, CSE, shape specialization, DCE.

One forward sweep visits every node once; each node is first given its substituted
inputs, then (in this order) folded, simplified or merged with an identical earlier node.
A backward sweep then drops nodes whose outputs nobody needs and that have no effect.

Shape specialization: ``shapes`` maps tensors to the shapes one run observed.  An
observed shape is trusted only where it provably repeats for the same fed shapes: fed
values (the plan guards them), static shapes, and outputs of ops whose output shape is a
function of their input shapes (``SHAPE_PURE``) or of input *values* that are constants
here (``VALUE_SHAPED``).  Anything else (data-dependent shapes, unknown ops) stays unknown,
and so does everything downstream of it.
"""

from __future__ import annotations

import numpy as np

from flowgrad.compiler.ir import Node, Program, Value, freeze

_ELEMENTWISE = {
    "AddV2", "Sub", "Mul", "RealDiv", "FloorDiv", "FloorMod", "Pow", "Maximum", "Minimum",
    "SquaredDifference", "Atan2", "Neg", "Abs", "Sign", "Square", "Sqrt", "Rsqrt",
    "Reciprocal", "Exp", "Expm1", "Log", "Log1p", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
    "Sinh", "Cosh", "Tanh", "Sigmoid", "Floor", "Ceil", "Round", "Rint", "Erf", "IsNan",
    "IsInf", "IsFinite", "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual",
    "LogicalAnd", "LogicalOr", "LogicalNot", "SelectV2", "Cast", "Relu", "ReluGrad",
    "ZerosLike", "OnesLike", "Identity", "StopGradient", "PreventGradient", "CheckNumerics",
    "PlaceholderWithDefault", "AddN", "BiasAdd",
}
SHAPE_PURE = _ELEMENTWISE | {
    "MatMul", "BatchMatMulV2", "SumToLike", "Sum", "Mean", "Max",
    "Min", "Prod", "Any", "All", "ArgMax", "ArgMin",
    "Softmax", "LogSoftmax", "SoftmaxCrossEntropyWithLogits",
    "SparseSoftmaxCrossEntropyWithLogits", "Shape", "Size", "Rank", "Transpose",
    "ExpandDims", "Squeeze", "Tile", "Pack", "Cumsum", "Cumprod", "ApplyGradientDescent",
    "PadV2", "Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool", "MaxPoolGrad",
    "MaxPoolGradGrad", "FusedBatchNormV3", "FusedBatchNormGradV3", "ConcatV2", "SplitV",
    "StridedSlice", "OneHot", "GatherV2", "Unpack",
}
# ops whose output shape depends on the *value* of these inputs (must be constants here)
VALUE_SHAPED = {"Reshape": (1,), "BroadcastTo": (1,), "SumToShape": (1,), "Fill": (0,),
                "Conv2DBackpropInput": (0,), "Conv2DBackpropFilter": (1,),
                "DepthwiseConv2dNativeBackpropInput": (0,),
                "DepthwiseConv2dNativeBackpropFilter": (1,), "AvgPoolGrad": (0,)}

_FOLD_LIMIT = 1 << 20       # elements: larger constants are computed at run time


def optimize(prog: Program, opts, shapes: dict | None = None, fold_call=None) -> Program:
    """``fold_call(node, values)`` runs a node on constant values for folding (a device plan
    places them first, so folding computes exactly what the run would); default: the node's
    kernel on the values as they are."""
    subst: dict[Value, Value] = {}
    seen: dict = {}
    kept: list[Node] = []
    if shapes is not None:
        for v in prog.feeds:
            if shapes.get(v.tensor) is not None:
                v.shape = shapes[v.tensor]
    for node in prog.nodes:
        node.args = [_resolve(subst, a) if isinstance(a, Value) else a for a in node.args]
        if shapes is not None:
            _specialize_shapes(node, shapes)
        if opts.fold and _fold(node, shapes is not None, fold_call):
            continue
        if opts.simplify:
            alias = _simplify(node)
            if alias is not None:
                subst[node.outs[0]] = alias
                continue
        if opts.cse and node.pure:
            key = _cse_key(node)
            if key is not None:
                prev = seen.get(key)
                if prev is not None:
                    for o, p in zip(node.outs, prev.outs):
                        if o is not None and p is not None:
                            subst[o] = p
                    continue
                seen[key] = node
        kept.append(node)
    prog.fetches = [_resolve(subst, v) for v in prog.fetches]
    prog.nodes = _dead_code(kept, prog.fetches, prog.pinned)
    return prog


def _resolve(subst: dict, v: Value) -> Value:
    while v in subst:
        v = subst[v]
    return v


# ----- shape specialization ----------------------------------------------------------------
def _specialize_shapes(node: Node, shapes: dict) -> None:
    t = node.type
    vals = node.values
    if t not in SHAPE_PURE and t not in VALUE_SHAPED:
        return
    if any(v.shape is None for v in vals):
        return
    for i in VALUE_SHAPED.get(t, ()):
        if not node.args[i].is_const:
            return
    for o in node.outs:
        if o is not None and o.shape is None:
            rec = shapes.get(o.tensor)
            if rec is not None:
                o.shape = rec


# ----- constant folding ----------------------------------------------------------------
def _fold(node: Node, specialized: bool, fold_call=None) -> bool:
    t = node.type
    outs = node.outs
    if t == "Const":
        outs[0].const = freeze(node.op.attrs["value"])
        outs[0].shape = tuple(outs[0].const.shape)
        return True
    vals = node.values
    if t in ("Shape", "Size", "Rank") and vals and vals[0].shape is not None:
        shp = vals[0].shape
        v = shp if t == "Shape" else int(np.prod(shp, dtype=np.int64)) if t == "Size" else len(shp)
        dt = np.int32 if t == "Rank" else node.op.attrs["out_type"].np
        outs[0].const = freeze(np.asarray(v, dtype=dt))
        outs[0].shape = tuple(outs[0].const.shape)
        return True
    if t in ("ZerosLike", "OnesLike") and vals[0].shape is not None and \
            int(np.prod(vals[0].shape)) <= _FOLD_LIMIT and outs[0].dtype is not None:
        fill = np.zeros if t == "ZerosLike" else np.ones
        outs[0].const = freeze(fill(vals[0].shape, outs[0].dtype))
        outs[0].shape = vals[0].shape
        return True
    if not node.pure or not vals or len(vals) != len(node.args):
        return False
    if not all(v.is_const for v in vals):
        return False
    if any(getattr(v.const, "size", 1) > _FOLD_LIMIT for v in vals):
        return False
    try:
        consts = [v.const for v in vals]
        res = node.kernel(*consts) if fold_call is None else fold_call(node, consts)
    except Exception:  # noqa: BLE001 - leave the error to the run, where it is reported
        return False
    res = list(res) if node.op._multi else [res]
    if any(getattr(r, "size", 1) > _FOLD_LIMIT for r in res):
        return False
    for o, r in zip(outs, res):
        if o is not None:
            o.const = freeze(r)
            o.shape = tuple(np.shape(r))
    return True


# ----- algebraic simplification ----------------------------------------------------------
_PASS_THROUGH = {"Identity", "StopGradient", "PreventGradient", "PlaceholderWithDefault",
                 "Snapshot"}


def _simplify(node: Node) -> Value | None:
    t = node.type
    if len(node.outs) != 1 or node.outs[0] is None:
        return None
    out = node.outs[0]
    args = node.args
    if t in _PASS_THROUGH and len(args) == 1 and isinstance(args[0], Value):
        return args[0]
    if t in ("AddV2", "Sub", "Mul", "RealDiv"):
        x, y = args
        unit = 1 if t in ("Mul", "RealDiv") else 0
        if _is_all(y, unit) and _keeps_shape(x, y, out):
            return x
        if t in ("AddV2", "Mul") and _is_all(x, unit) and _keeps_shape(y, x, out):
            return y
        return None
    if t in ("Sum", "Mean", "Max", "Min", "Prod") and _same(args[0], out):
        return args[0]      # reduces only axes of size 1, keeping them
    if t == "SumToLike":
        x, like = args
        if x.shape is not None and x.shape == like.shape and x.dtype == out.dtype:
            return x
        return None
    if t in ("Reshape", "BroadcastTo", "SumToShape"):
        x, s = args
        if x.shape is not None and out.shape is not None and x.shape == out.shape and \
                x.dtype == out.dtype:
            return x
        if s.is_const and x.shape is not None and tuple(int(d) for d in s.const) == x.shape:
            return x
        if t == "Reshape" and x.producer is not None and x.producer.type == "Reshape" and \
                x.tensor.dtype == out.tensor.dtype:
            node.args = [x.producer.args[0], s]      # reshape of reshape: one reshape
    return None


def _is_all(v: Value, unit) -> bool:
    return v.is_const and isinstance(v.const, np.ndarray | np.generic) and \
        np.size(v.const) <= 16 and bool(np.all(v.const == unit))


def _keeps_shape(x: Value, c: Value, out: Value) -> bool:
    """Broadcasting ``x`` with the constant ``c`` gives ``x``'s own shape and dtype."""
    if x.dtype != out.dtype:
        return False
    if _same(x, out):
        return True
    nd = np.ndim(c.const)
    rank = x.tensor.shape.ndims if x.tensor is not None else None
    return nd == 0 or (rank is not None and nd <= rank and all(d == 1 for d in
                                                              np.shape(c.const)))


def _same(x: Value, out: Value) -> bool:
    return x.shape is not None and x.shape == out.shape and x.dtype == out.dtype


# ----- common subexpressions -------------------------------------------------------------
def _cse_key(node: Node):
    try:
        key = (node.type, tuple(id(a) for a in node.args), _freeze_attrs(node.op.attrs))
        hash(key)
    except TypeError:
        return None
    return key


def _freeze_attrs(attrs: dict):
    out = []
    for k in sorted(attrs):
        v = attrs[k]
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise TypeError("object array")
            v = ("ndarray", v.dtype.str, v.shape, v.tobytes())
        elif isinstance(v, list):
            v = ("list", tuple(v))
        out.append((k, v))
    return tuple(out)


# ----- dead code -------------------------------------------------------------------------
def _dead_code(nodes: list[Node], fetches: list[Value], pinned: set) -> list[Node]:
    live = {id(v) for v in fetches}
    keep = []
    for node in reversed(nodes):
        used = any(o is not None and id(o) in live for o in node.outs)
        effect = (not node.pure or node.op in pinned) and node.type != "NoOp"
        if used or effect:
            keep.append(node)
            for a in node.args:
                if isinstance(a, Value):
                    live.add(id(a))
    keep.reverse()
    return keep
