"""Symbolic reverse-mode differentiation: ``gradients(ys, xs)`` adds gradient nodes.

The sweep visits, in reverse creation order (creation order is topological), only the
ops that lie on a path from some x to some y.  Each op's gradient rule receives the
summed gradient of each output and returns one gradient per input, built from ordinary
ops under ``gradients/<op>_grad/`` -- so gradients can be differentiated again.  Where a
tensor feeds several ops its gradients are summed with ``AddN`` (the multivariate chain
rule).  Rules are written as if nothing broadcast; this engine sums each gradient down to
its input's shape, statically where shapes are known and with ``SumToLike`` otherwise.
"""

from __future__ import annotations

from flowgrad.framework.graph import Operation, Tensor, get_default_graph
from flowgrad.framework.registry import convert_to_tensor, get_gradient_function
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.embedding_ops import IndexedSlices, concat_slices


def _as_list(v) -> tuple[list, bool]:
    if isinstance(v, list | tuple):
        return list(v), True
    return [v], False


def _x_tensor(x) -> Tensor:
    if hasattr(x, "_ref") and callable(x._ref):      # a Variable: differentiate its ref
        return x._ref()
    return convert_to_tensor(x)


def _differentiable(t: Tensor) -> bool:
    return t.dtype.is_floating or t.dtype.is_complex


def gradients(ys, xs, grad_ys=None, name: str = "gradients",
              colocate_gradients_with_ops: bool = False, gate_gradients: bool = False,
              aggregation_method=None, stop_gradients=None,
              unconnected_gradients: str = "none") -> list:
    """d(sum ys)/d x for each x in ``xs``: a list of tensors (None where unconnected)."""
    ys, _ = _as_list(ys)
    xs, _ = _as_list(xs)
    ys = [convert_to_tensor(y) for y in ys]
    xs = [_x_tensor(x) for x in xs]
    if grad_ys is not None:
        grad_ys, _ = _as_list(grad_ys)
        if len(grad_ys) != len(ys):
            raise ValueError(f"Passed {len(grad_ys)} grad_ys for {len(ys)} ys")
    stop = {convert_to_tensor(s) for s in (_as_list(stop_gradients)[0]
                                           if stop_gradients is not None else [])}
    g = ys[0].graph if ys else get_default_graph()
    for y in ys:
        if not _differentiable(y):
            raise TypeError(f"Cannot differentiate {y.name}: its dtype {y.dtype.name} is not a "
                            "floating-point type. Cast it to float first.")

    with g.as_default(), g.name_scope(name):
        between = _ops_between(xs, ys, stop)
        grads: dict[Tensor, list[Tensor]] = {}
        for i, y in enumerate(ys):
            gy = grad_ys[i] if grad_ys is not None and grad_ys[i] is not None else None
            if gy is None:
                gy = A.ones_like(y, name=f"grad_ys_{i}")
            else:
                gy = convert_to_tensor(gy, dtype=y.dtype)
                if not y.shape.is_compatible_with(gy.shape):
                    raise ValueError(f"grad_ys[{i}] has shape {gy.shape}, incompatible with "
                                     f"{y.name} of shape {y.shape}")
            grads.setdefault(y, []).append(gy)

        for op in sorted(between, key=lambda o: o._id, reverse=True):
            out_grads = [_aggregate(grads.get(t)) for t in op.outputs]
            if all(d is None for d in out_grads):
                continue
            _backprop_op(g, op, out_grads, grads, stop)

        results = []
        for x in xs:
            d = _aggregate(grads.get(x))
            if d is None and unconnected_gradients == "zero":
                d = A.zeros_like(x)
            results.append(d)
    return results


def _ops_between(xs: list[Tensor], ys: list[Tensor], stop: set) -> set[Operation]:
    """Ops on some path x -> y (gradients flow through stop tensors to no further)."""
    to_y: set[Operation] = set()
    stack = [y.op for y in ys]
    while stack:
        o = stack.pop()
        if o in to_y:
            continue
        to_y.add(o)
        refs = o._opdef.ref_inputs if o._opdef is not None else ()
        for i, t in enumerate(o.inputs):
            if i in refs or t in stop:
                continue
            stack.append(t.op)
    from_x: set[Operation] = set()
    stack = []
    for x in xs:
        for c in x._consumers:
            stack.append(c)
    while stack:
        o = stack.pop()
        if o in from_x or o not in to_y:
            continue
        from_x.add(o)
        for t in o.outputs:
            stack.extend(t._consumers)
    return from_x


def _aggregate(gs: list[Tensor] | None) -> Tensor | None:
    if not gs:
        return None
    if len(gs) == 1:
        return gs[0]
    if any(type(d) is IndexedSlices for d in gs):
        if all(type(d) is IndexedSlices for d in gs):   # sparse + sparse stays sparse
            return concat_slices(gs)
        gs = [convert_to_tensor(d) for d in gs]
    return M.add_n(gs)


def _backprop_op(g, op: Operation, out_grads: list, grads: dict, stop: set) -> None:
    fn = get_gradient_function(op)
    if fn is None:          # NotDifferentiable: no gradient reaches the inputs
        return
    if len(out_grads) > 1:
        out_grads = [d if d is not None or not _differentiable(t) else A.zeros_like(t)
                     for d, t in zip(out_grads, op.outputs)]
    if op.type != "Identity":       # only Identity passes sparse gradients through
        out_grads = [convert_to_tensor(d) if type(d) is IndexedSlices else d
                     for d in out_grads]
    with g.name_scope(op.name + "_grad") as grad_scope:
        in_grads = fn(op, *out_grads)
    in_grads = list(in_grads) if isinstance(in_grads, list | tuple) else [in_grads]
    if len(in_grads) != len(op.inputs):
        raise ValueError(f"Num gradients {len(in_grads)} generated for op '{op.name}' "
                         f"({op.type}) do not match num inputs {len(op.inputs)}")
    refs = op._opdef.ref_inputs if op._opdef is not None else ()
    with g.name_scope(grad_scope):      # re-enter gradients/<op>_grad/, not a root scope
        for i, (t, d) in enumerate(zip(op.inputs, in_grads)):
            if d is None or i in refs or not _differentiable(t):
                continue
            if type(d) is IndexedSlices:    # rows of an embedding: kept sparse
                grads.setdefault(t, []).append(d)
                continue
            d = convert_to_tensor(d)
            if _may_broadcast(op):
                d = _sum_to(d, t, op, i)
            elif not d.shape.is_compatible_with(t.shape):
                raise ValueError(f"Gradient of '{op.name}' ({op.type}) for input {i} has shape "
                                 f"{d.shape}, incompatible with the input's shape {t.shape}")
            grads.setdefault(t, []).append(d)


def _may_broadcast(op: Operation) -> bool:
    """Whether ``op``'s inputs may have been broadcast against each other: one-input ops
    and ops declared ``broadcasting=False`` give gradients of their inputs' exact shapes."""
    return len(op.inputs) > 1 and (op._opdef is None or op._opdef.broadcasting)


def _surely_not_broadcast(op: Operation, index: int, axis: int) -> bool:
    """True when input ``index``'s unknown dimension ``axis`` cannot have been stretched:
    every other input lacks that axis or has size 1 there, so the output's size along it is
    this input's own size.  Only for elementwise ops, whose operands share one dtype; any
    other input (a shape, a condition) makes the answer "don't know"."""
    x = op.inputs[index]
    r = x.shape.ndims
    for j, t in enumerate(op.inputs):
        if j == index:
            continue
        if t.shape.ndims is None or t.dtype != x.dtype or op.type == "BroadcastTo":
            return False
        k = axis - (r - t.shape.ndims)          # t's axis aligned with x's axis
        if k >= 0 and t.shape[k] != 1:
            return False
    return True


def _sum_to(d: Tensor, x: Tensor, op: Operation, index: int) -> Tensor:
    """Reduces a gradient computed at a broadcast shape back to ``x``'s shape."""
    ds, xsh = d.shape, x.shape
    if ds.ndims is not None and xsh.ndims is not None:
        if ds.as_list() == xsh.as_list() and xsh.is_fully_defined():
            return d
        if ds.ndims < xsh.ndims:
            raise ValueError(f"Gradient of '{op.name}' ({op.type}) for input {index} has shape "
                             f"{ds}, which cannot be reduced to the input's shape {xsh}")
        lead = ds.ndims - xsh.ndims
        axes_keep, ambiguous = [], False
        for i, xd in enumerate(xsh.as_list()):
            dd = ds[lead + i]
            if xd == 1:
                if dd != 1:
                    axes_keep.append(lead + i)
            elif xd is None:
                if dd != 1 and not _surely_not_broadcast(op, index, i):
                    ambiguous = True      # x's dim may be 1 at run time
            elif dd is not None and dd != xd:
                raise ValueError(f"Gradient of '{op.name}' ({op.type}) for input {index} has "
                                 f"shape {ds}, incompatible with the input's shape {xsh}")
        if not ambiguous:
            if axes_keep:
                d = R._sum(d, axis=tuple(axes_keep), keepdims=True)
            if lead:
                d = R._sum(d, axis=tuple(range(lead)), keepdims=False)
            if d.shape.ndims == xsh.ndims:
                return d
    return A.sum_to_like(d, x)


def hessians(ys, xs, name: str = "hessians", colocate_gradients_with_ops: bool = False,
             gate_gradients: bool = False, aggregation_method=None) -> list:
    """Hessian of ``sum(ys)`` with respect to each x (of known 1-D or scalar shape)."""
    xs, _ = _as_list(xs)
    out = []
    with get_default_graph().name_scope(name):
        for x, gx in zip(xs, gradients(ys, xs)):
            x = _x_tensor(x)
            n = x.shape.num_elements()
            if n is None:
                raise ValueError("hessians needs xs of fully-defined shape")
            flat = A.reshape(gx, [-1])
            rows = [A.reshape(gradients(flat[i], x)[0], [-1]) for i in range(n)]
            out.append(A.reshape(A.stack(rows), x.shape.as_list() + x.shape.as_list()))
    return out
