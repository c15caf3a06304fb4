"""Control flow in the graph: ``cond``, ``case``, ``while_loop`` and their gradients.

Branches and loop bodies are *functional sub-graphs*: the ops a branch or body function
creates live in the outer graph (so variables, names and collections work as usual), but
they are reached only through an ``If`` or ``While`` op.  Every outer tensor a sub-graph
uses is *captured*: it becomes an explicit input of the ``If``/``While`` op, so pruning,
plan ordering and gradients see it, and the sub-graph's plan is fed with its value.  The
kernel of ``If``/``While`` runs the sub-graph's own compiled plan (cached per session).

Gradients: ``If`` and ``While`` have an extra ``variant`` output holding the values the
gradient needs from the run (the taken branch and its intermediates; per iteration, the
body's intermediates).  The gradient is a sub-graph too -- the symbolic gradient of the
branch or body -- run by ``IfGrad``/``WhileGrad``; ``WhileGrad`` replays the iterations
backwards.  Only intermediates that the gradient sub-graph reads are recorded.
Gradients of these gradient ops (``IfGradGrad``, ``WhileGradGrad``) differentiate the
gradient sub-graph together with the recorded forward values (see docs/design.md).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework import structure as nest
from flowgrad.framework.graph import Operation, Tensor, get_default_graph
from flowgrad.framework.registry import NodeSpec, constant, convert_to_tensor, make_op, op
from flowgrad.framework.shapes import TensorShape, as_shape
from flowgrad.ops import array_ops as A


# ----- sub-graphs ----------------------------------------------------------------------------
@op("_Arg", shape=lambda n: (n.attrs["shape"], n.attrs["dtype"]), name="arg")
def _arg(xp, *, dtype, shape):
    raise errors.InvalidArgumentError(None, None, "A sub-graph argument runs only inside its "
                                      "If/While op; it cannot be evaluated on its own.")


class SubGraph:
    """The ops one branch or body function created: its arguments, outputs and captures."""

    def __init__(self, name: str, start: int, end: int, args: list[Tensor],
                 outputs: list[Tensor], captures: list[Tensor]) -> None:
        self.name, self.start, self.end = name, start, end
        self.args, self.outputs, self.captures = args, outputs, captures
        # intermediates recorded for gradients (grows as gradients are built)
        self.saved: list[Tensor] = []
        self._saved_index: dict[Tensor, int] = {}

    def contains(self, o: Operation) -> bool:
        return self.start <= o._id < self.end

    def save(self, t: Tensor) -> int:
        i = self._saved_index.get(t)
        if i is None:
            i = self._saved_index[t] = len(self.saved)
            self.saved.append(t)
        return i

    def plan(self, session, record: bool):
        """The compiled plan ``fn(*args, *captures) -> (*outputs[, *saved])``, per session."""
        key = ("flowgrad.subgraph", self, len(self.saved) if record else -1)
        p = session._resources.get(key)
        if p is None:
            fetch = list(self.outputs) + (list(self.saved) if record else [])
            p = session.compile_subplan(fetch, [], list(self.args) + list(self.captures))
            session._resources[key] = p
        return p

    def __repr__(self) -> str:
        return f"<SubGraph {self.name}: {len(self.args)} args, {len(self.outputs)} outputs, " \
               f"{len(self.captures)} captures>"


def _make(builder, inputs: list, name: str, **attrs):
    """Adds a node of a variadic op whose kernel also takes leading fixed inputs."""
    return make_op(builder.opdef, list(inputs), attrs, name)


def _run(session, plan, values):
    """Calls a sub-plan; errors name the op inside the sub-graph that failed."""
    try:
        return plan.fn(*values)
    except errors.OpError:
        raise
    except Exception as e:
        from flowgrad.runtime.session import _translate  # noqa: PLC0415
        raise _translate(plan, e, session) from e


def _find_captures(outputs, fed: set, inside: Callable[[Operation], bool]):
    """Outer tensors the ops behind ``outputs`` read, and outer control inputs (moved out)."""
    captures: list[Tensor] = []
    seen: set = set()
    ctrl: list[Operation] = []
    visited: set = set()
    stack = []

    def take(t):
        if t not in seen:
            seen.add(t)
            captures.append(t)

    for t in outputs:
        if t in fed:
            continue
        if inside(t.op):
            stack.append(t.op)
        else:
            take(t)
    while stack:
        o = stack.pop()
        if o in visited:
            continue
        visited.add(o)
        refs = o._opdef.ref_inputs if o._opdef is not None else ()
        for i, t in enumerate(o.inputs):
            if i in refs or t in fed:
                continue
            if inside(t.op):
                stack.append(t.op)
            else:
                take(t)
        kept = []
        for c in o.control_inputs:
            if inside(c):
                kept.append(c)
                stack.append(c)
            else:
                ctrl.append(c)
        o.control_inputs[:] = kept
    return captures, ctrl


def _region_inside(start: int, end: int) -> Callable[[Operation], bool]:
    # a variable's value is read outside the loop and captured, so that its gradient
    # reaches the variable through the If/While op
    return lambda o: start <= o._id < end and o.type != "VariableV2"


def _build(g, name: str, fn: Callable, arg_specs: list[tuple]):
    """Calls ``fn(args)`` recording the ops it creates.

    Returns (SubGraph, the raw result, a per-leaf flag "this leaf was an Operation", outer
    control inputs).  An Operation leaf becomes a marker output that runs after it.
    """
    start = len(g._ops)
    with g.control_dependencies(None):
        args = [_arg(dtype=dt, shape=as_shape(sh), name=f"{name}_arg") for dt, sh in arg_specs]
        result = fn(args)
        flat, is_op = [], []
        for v in nest.flatten(result):
            if isinstance(v, Operation):
                with g.control_dependencies([v]):
                    flat.append(constant(True, name="done"))
                is_op.append(True)
                continue
            t = convert_to_tensor(v)
            # outputs are always ops of the region, so a gradient never walks out of it
            if t.op._id < start or t.op.type in ("_Arg", "VariableV2"):
                t = A.identity(t)
            flat.append(t)
            is_op.append(False)
    end = len(g._ops)
    caps, ctrl = _find_captures(flat, set(args), _region_inside(start, end))
    return SubGraph(name, start, end, args, flat, caps), result, is_op, ctrl


def _is_float(t: Tensor) -> bool:
    return t.dtype.is_floating or t.dtype.is_complex


def _dense(d):
    if d is None or isinstance(d, Tensor):
        return d
    return convert_to_tensor(d)


def _merge_shapes(a: TensorShape, b: TensorShape) -> TensorShape:
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.as_list(), b.as_list())])


class _History:
    """What a loop records for its gradient: the trip count and per-iteration values."""

    __slots__ = ("count", "saved")

    def __init__(self, count: int, saved: list) -> None:
        self.count, self.saved = count, saved


# ----- If ------------------------------------------------------------------------------------
class _IfSpec:
    def __init__(self, branches, cap_idx, shapes, dtypes) -> None:
        self.branches = branches          # (true SubGraph, false SubGraph)
        self.cap_idx = cap_idx            # per branch: positions of its captures in the inputs
        self.shapes, self.dtypes = shapes, dtypes

    def __repr__(self) -> str:
        return f"<If {self.branches[0].name} / {self.branches[1].name}>"


def _if_shape(node: NodeSpec):
    p = node.inputs[0]
    if not p.dtype.is_bool:
        node.fail(f"pred must be a bool tensor, got {p.dtype.name}", TypeError)
    if p.shape.ndims not in (None, 0):
        node.fail(f"pred must be a scalar, got shape {p.shape}")
    spec = node.attrs["spec"]
    return [(s, d) for s, d in zip(spec.shapes, spec.dtypes)] + [(TensorShape(()), _dt.variant)]


@op("If", shape=_if_shape, stateful=True, may_alias=True,
    broadcasting=False)
def _if(xp, pred, *captures, spec, ctx):
    b = 0 if bool(pred) else 1
    sub = spec.branches[b]
    record = bool(sub.saved)
    out = _run(ctx.session, sub.plan(ctx.session, record),
               [captures[i] for i in spec.cap_idx[b]])
    n = len(spec.shapes)
    return (*out[:n], (b, out[n:]))


class _IfGradSpec:
    def __init__(self, subs, sources, n_caps, grad_caps) -> None:
        self.subs = subs                  # per branch: the gradient SubGraph (or None)
        self.sources = sources            # per branch: where each capture's value comes from
        self.n_caps = n_caps
        self.grad_caps = grad_caps        # forward capture positions that get a gradient
        self.cap_pos = [{c: k for k, c in enumerate(s.out_caps)} if s is not None else {}
                        for s in subs]

    def __repr__(self) -> str:
        return "<IfGrad>"


def _if_grad_shape(node: NodeSpec):
    spec = node.attrs["spec"]
    caps = node.inputs[2:2 + spec.n_caps]
    return [(caps[i].shape, caps[i].dtype) for i in spec.grad_caps]


@op("IfGrad", shape=_if_grad_shape, stateful=True, may_alias=True,
    broadcasting=False)
def _if_grad_kernel(xp, pred, history, *inputs, spec, ctx):
    b, saved = history
    caps = inputs[:spec.n_caps]
    xcaps = inputs[spec.n_caps:]
    sub = spec.subs[b]
    got = {}
    if sub is not None:
        vals = []
        for kind, k in spec.sources[b]:
            vals.append(saved[k] if kind == "saved" else caps[k] if kind == "cap" else xcaps[k])
        out = _run(ctx.session, sub.plan(ctx.session, False), vals)
        for c, v in zip(sub.out_caps, out):
            got[c] = v
    return [got[i] if i in got else xp.zeros_like(caps[i]) for i in spec.grad_caps]


@_if.grad
def _if_gradient(op, *dys):
    from flowgrad.autodiff.gradients import gradients  # noqa: PLC0415 - autodiff sits beside
    spec = op.attrs["spec"]
    n = len(spec.shapes)
    caps = list(op.inputs[1:])
    fl = [i for i in range(n) if _is_float(op.outputs[i]) and dys[i] is not None]
    if not fl:
        return [None] * len(op.inputs)
    g = op.graph
    dy = [dys[i] for i in fl]
    subs, sources, xcaps = [], [], []
    for b, sub in enumerate(spec.branches):
        fcaps = [(k, c) for k, c in zip(spec.cap_idx[b], sub.captures) if _is_float(c)]
        start = len(g._ops)
        with g.control_dependencies(None), g.name_scope(f"{sub.name}_grad"):
            grads = gradients([sub.outputs[i] for i in fl], [c for _, c in fcaps],
                              grad_ys=dy, stop_gradients=sub.captures) if fcaps else []
            grads = [_dense(d) for d in grads]
        end = len(g._ops)
        outs = [(k, d) for (k, _), d in zip(fcaps, grads) if d is not None]
        if not outs:
            subs.append(None)
            sources.append([])
            continue
        gcaps, _ = _find_captures([d for _, d in outs], set(), _region_inside(start, end))
        src = []
        fwd = {c: k for k, c in zip(spec.cap_idx[b], sub.captures)}
        for c in gcaps:
            if c in fwd:
                src.append(("cap", fwd[c]))
            elif sub.contains(c.op):
                src.append(("saved", sub.save(c)))
            else:
                if c not in xcaps:
                    xcaps.append(c)
                src.append(("x", xcaps.index(c)))
        gsub = SubGraph(f"{sub.name}_grad", start, end, [], [d for _, d in outs], gcaps)
        gsub.out_caps = [k for k, _ in outs]
        subs.append(gsub)
        sources.append(src)
    grad_caps = sorted({k for s in subs if s is not None for k in s.out_caps})
    if not grad_caps:
        return [None] * len(op.inputs)
    gspec = _IfGradSpec(subs, sources, len(caps), grad_caps)
    res = _make(_if_grad_kernel, [op.inputs[0], op.outputs[-1], *caps, *xcaps], "IfGrad",
                spec=gspec)
    res = [res] if isinstance(res, Tensor) else list(res)
    out = [None] * len(op.inputs)
    for k, r in zip(grad_caps, res):
        out[1 + k] = r
    return out


# ----- gradients of gradients through If ------------------------------------------------------
# ``IfGrad`` (and ``IfGradGrad``) compute, in the taken branch b, a gradient sub-graph G_b
# that reads the op's inputs and intermediates of the forward branch F_b (recorded in the
# forward If's history).  Its gradient is the symbolic gradient of the composition: calling
# ``gradients`` on G_b's outputs walks back through G_b and, via the recorded tensors, into
# F_b down to the If's captures -- all ops already in the graph, so nothing is cloned.  The
# new ops form a sub-graph H_b whose plan recomputes G_b (the first-order op records
# nothing) and reads F_b's values from the same history, which now also records what H_b
# needs.  ``IfGradGrad`` has the same form as the op it differentiates, so its own gradient
# is built the same way, to any order.  First-order gradients are unchanged.
class _IfGradGradSpec:
    def __init__(self, subs, sources, n_in, out_pos) -> None:
        self.subs = subs                  # per branch: the gradient SubGraph (or None)
        self.sources = sources            # per branch: ("saved", k) or ("in", k) per capture
        self.n_in = n_in
        self.out_pos = out_pos            # input positions (after pred, history) differentiated

    def __repr__(self) -> str:
        return "<IfGradGrad>"


def _if_grad_grad_shape(node: NodeSpec):
    spec = node.attrs["spec"]
    ins = node.inputs[2:]
    return [(ins[i].shape, ins[i].dtype) for i in spec.out_pos]


@op("IfGradGrad", shape=_if_grad_grad_shape, stateful=True, may_alias=True,
    broadcasting=False)
def _if_grad_grad_kernel(xp, pred, history, *ins, spec, ctx):
    b, saved = history
    sub = spec.subs[b]
    got = {}
    if sub is not None:
        vals = [saved[k] if kind == "saved" else ins[k] for kind, k in spec.sources[b]]
        out = _run(ctx.session, sub.plan(ctx.session, False), vals)
        got = dict(zip(sub.out_pos, out))
    return [got[i] if i in got else xp.zeros_like(ins[i]) for i in spec.out_pos]


def _grad_branch_view(op: Operation, b: int):
    """For an IfGrad/IfGradGrad op and branch b: (gradient SubGraph or None, [(output index,
    sub output)], {sub capture: position among op.inputs[2:] or None when recorded})."""
    spec = op.attrs["spec"]
    sub = spec.subs[b]
    if sub is None:
        return None, [], {}
    ins = list(op.inputs[2:])
    if op.type == "IfGrad":
        outs = [(spec.grad_caps.index(k), t) for k, t in zip(sub.out_caps, sub.outputs)]
        pos = {"cap": 0, "x": spec.n_caps}
    else:
        outs = [(spec.out_pos.index(k), t) for k, t in zip(sub.out_pos, sub.outputs)]
        pos = {"in": 0}
    where = {}
    for c, (kind, k) in zip(sub.captures, spec.sources[b]):
        where[c] = None if kind == "saved" else pos[kind] + k
    assert all(w is None or ins[w] is c for c, w in where.items())
    return sub, outs, where


def _if_grad_gradient(op, *dys):
    from flowgrad.autodiff.gradients import gradients  # noqa: PLC0415 - autodiff sits beside
    fwd_spec = op.inputs[1].op.attrs["spec"]        # the forward If's spec
    ins = list(op.inputs[2:])
    first = {}
    for i, t in enumerate(ins):
        first.setdefault(t, i)
    xs = [t for t, i in first.items() if _is_float(t)]
    g = op.graph
    subs, sources, extra = [], [], []
    for b, fsub in enumerate(fwd_spec.branches):
        gsub, outs, _ = _grad_branch_view(op, b)
        outs = [(j, t) for j, t in outs if dys[j] is not None]
        if gsub is None or not outs or not xs:
            subs.append(None)
            sources.append([])
            continue
        stop = list(first) + [c for c in fsub.captures if c not in first]
        start = len(g._ops)
        with g.control_dependencies(None), g.name_scope(f"{gsub.name}_grad"):
            grads = gradients([t for _, t in outs], xs, grad_ys=[_dense(dys[j]) for j, _ in outs],
                              stop_gradients=stop)
            grads = [_dense(d) for d in grads]
        end = len(g._ops)
        res = [(first[x], d) for x, d in zip(xs, grads) if d is not None]
        if not res:
            subs.append(None)
            sources.append([])
            continue
        deps = [gsub] + list(getattr(gsub, "deps", []))
        regions = [(start, end)] + [(s.start, s.end) for s in deps]

        def inside(o, regions=regions):
            return o.type != "VariableV2" and any(a <= o._id < z for a, z in regions)
        hcaps, _ = _find_captures([d for _, d in res], set(), inside)
        src = []
        for c in hcaps:
            if c in first:
                src.append(("in", first[c]))
            elif fsub.contains(c.op) and c.op.type != "VariableV2":
                src.append(("saved", fsub.save(c)))
            else:
                if c not in extra:
                    extra.append(c)
                src.append(("in", len(ins) + extra.index(c)))
        hsub = SubGraph(f"{gsub.name}_grad", start, end, [], [d for _, d in res], hcaps)
        hsub.out_pos = [i for i, _ in res]
        hsub.deps = deps
        subs.append(hsub)
        sources.append(src)
    out_pos = sorted({i for s in subs if s is not None for i in s.out_pos})
    if not out_pos:
        return [None] * len(op.inputs)
    spec = _IfGradGradSpec(subs, sources, len(ins) + len(extra), out_pos)
    r = _make(_if_grad_grad_kernel, [op.inputs[0], op.inputs[1], *ins, *extra], "IfGradGrad",
              spec=spec)
    r = [r] if isinstance(r, Tensor) else list(r)
    out = [None] * len(op.inputs)
    for i, d in zip(out_pos, r):
        out[2 + i] = d
    return out


_if_grad_kernel.grad(_if_grad_gradient)
_if_grad_grad_kernel.grad(_if_grad_gradient)


def cond(pred, true_fn=None, false_fn=None, strict: bool = False, name: str | None = None,
         fn1=None, fn2=None):
    """``tf.cond``: runs ``true_fn()`` if ``pred`` else ``false_fn()``; only one branch runs.

    >>> x = tf.placeholder(tf.float32, [])
    >>> y = tf.cond(x > 0, lambda: x * 2.0, lambda: -x)
    """
    true_fn = true_fn if true_fn is not None else fn1
    false_fn = false_fn if false_fn is not None else fn2
    if not callable(true_fn):
        raise TypeError("true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("false_fn must be callable.")
    if isinstance(pred, bool | np.bool_):
        return true_fn() if pred else false_fn()
    pred = convert_to_tensor(pred)
    if not pred.dtype.is_bool:
        raise TypeError(f"cond: pred must be a bool tensor, got {pred.dtype.name} ({pred!r})")
    g = pred.graph
    with g.as_default(), g.name_scope(name or "cond"):
        t_sub, t_res, t_flat, t_ctrl = _build(g, "cond_true", lambda _: true_fn(), [])
        f_sub, f_res, f_flat, f_ctrl = _build(g, "cond_false", lambda _: false_fn(), [])
        if t_res is None or f_res is None:
            raise ValueError("true_fn and false_fn must have a return value.")
        try:
            nest.assert_same_structure(t_res, f_res)
        except ValueError:
            raise ValueError("true_fn and false_fn must return the same structure of outputs; "
                             f"got {t_res!r} and {f_res!r}.") from None
        if t_flat != f_flat:
            raise ValueError("cond: one branch returns an Operation where the other returns a "
                             "Tensor.")
        shapes, dtypes = [], []
        for a, b in zip(t_sub.outputs, f_sub.outputs):
            if a.dtype != b.dtype:
                raise TypeError(f"cond: true_fn returns {a.dtype.name} ({a.name}) where "
                                f"false_fn returns {b.dtype.name} ({b.name}); outputs of both "
                                "branches must have the same dtype.")
            shapes.append(_merge_shapes(a.shape, b.shape))
            dtypes.append(a.dtype)
        caps = list(t_sub.captures)
        caps += [c for c in f_sub.captures if c not in caps]
        idx = [[caps.index(c) for c in s.captures] for s in (t_sub, f_sub)]
        spec = _IfSpec((t_sub, f_sub), idx, shapes, dtypes)
        outs = _make(_if, [pred, *caps], "If", spec=spec)
        if_op = outs[0].op if isinstance(outs, list) else outs.op
        for c in t_ctrl + f_ctrl:
            if_op._add_control_input(c)
    leaves = [if_op if was_op else t for t, was_op in zip(outs[:-1], t_flat)]
    result = nest.pack_sequence_as(t_res, leaves)
    if not strict and isinstance(result, list | tuple) and len(result) == 1 \
            and not hasattr(result, "_fields"):
        return result[0]
    return result


def case(pred_fn_pairs, default=None, exclusive: bool = False, strict: bool = False,
         name: str = "case"):
    """``tf.case``: the fn of the first true predicate (``default`` if none is true)."""
    if isinstance(pred_fn_pairs, dict):
        pairs = list(pred_fn_pairs.items())
    else:
        pairs = list(pred_fn_pairs)
    for p in pairs:
        if not isinstance(p, tuple | list) or len(p) != 2 or not callable(p[1]):
            raise TypeError(f"case: each entry of pred_fn_pairs must be a (pred, callable) "
                            f"pair, got {p!r}")
    if not pairs:
        if default is None:
            raise ValueError("case: pred_fn_pairs is empty and there is no default.")
        return default()
    preds = [convert_to_tensor(p) for p, _ in pairs]
    g = preds[0].graph
    with g.as_default(), g.name_scope(name):
        check = None
        if exclusive or default is None:
            check = _make(_case_check, preds, "Assert", exclusive=bool(exclusive),
                          need_one=default is None)
        if default is None:
            pairs, default = pairs[:-1], pairs[-1][1]
            preds = preds[:-1]

        def chain(i):
            if i == len(pairs):
                return default()
            return cond(preds[i], pairs[i][1], lambda: chain(i + 1), strict=strict)
        if not pairs:
            res = default()
        else:
            res = chain(0)
        if check is not None:       # the results wait for the predicates' check
            with g.control_dependencies([check]):
                res = nest.map_structure(
                    lambda v: A.identity(v) if not isinstance(v, Operation) else
                    _after(v, check), res)
    return res


def _after(o: Operation, check: Tensor) -> Operation:
    from flowgrad.ops.state_ops import group  # noqa: PLC0415
    with o.graph.control_dependencies([check]):
        return group(o)


def _case_check_shape(node: NodeSpec):
    return TensorShape(()), _dt.bool_


@op("CaseCheck", shape=_case_check_shape)
def _case_check(xp, *preds, exclusive, need_one):
    n = sum(bool(p) for p in preds)
    if exclusive and n > 1:
        raise errors.InvalidArgumentError(
            None, None, f"Input error: exclusive=True and more than one predicate evaluated "
            f"to True: {[bool(p) for p in preds]}")
    if need_one and n == 0:
        raise errors.InvalidArgumentError(
            None, None, "Input error: none of the predicates evaluated to True and no default "
            f"was given: {[bool(p) for p in preds]}")
    return xp.asarray(True)


# ----- While ---------------------------------------------------------------------------------
class _LoopSpec:
    def __init__(self, cond_sub, body, n_vars, n_seqs, n_emit, cond_idx, body_idx, reverse,
                 back_prop, var_shapes, var_dtypes, emit_shapes, emit_dtypes, static_len):
        self.cond, self.body = cond_sub, body
        self.n_vars, self.n_seqs, self.n_emit = n_vars, n_seqs, n_emit
        self.cond_idx, self.body_idx = cond_idx, body_idx
        self.reverse, self.back_prop = reverse, back_prop
        self.var_shapes, self.var_dtypes = var_shapes, var_dtypes
        self.emit_shapes, self.emit_dtypes = emit_shapes, emit_dtypes
        self.static_len = static_len

    def __repr__(self) -> str:
        return f"<While {self.body.name}: {self.n_vars} vars, {self.n_seqs} sequences>"


def _while_shape(node: NodeSpec):
    spec = node.attrs["spec"]
    out = list(zip(spec.var_shapes, spec.var_dtypes))
    lead = TensorShape([spec.static_len])
    out += [(lead.concatenate(s), d) for s, d in zip(spec.emit_shapes, spec.emit_dtypes)]
    return out + [(TensorShape(()), _dt.variant)]


@op("While", shape=_while_shape, stateful=True, may_alias=True,
    broadcasting=False)
def _while(xp, max_iter, *inputs, spec, ctx):
    n, ns, ne = spec.n_vars, spec.n_seqs, spec.n_emit
    vals = list(inputs[:n])
    seqs = inputs[n:n + ns]
    caps = inputs[n + ns:]
    sess = ctx.session
    body = spec.body
    record = spec.back_prop and bool(body.saved)
    bplan = body.plan(sess, record)
    bcaps = [caps[i] for i in spec.body_idx]
    cplan = spec.cond.plan(sess, False) if spec.cond is not None else None
    ccaps = [caps[i] for i in spec.cond_idx]
    limit = int(max_iter)
    length = min((int(s.shape[0]) for s in seqs), default=-1)
    if length >= 0 and (limit < 0 or length < limit):
        limit = length
    emits = [[] for _ in range(ne)]
    hist = []
    t = 0
    while limit < 0 or t < limit:
        if cplan is not None and not bool(_run(ctx.session, cplan, vals + ccaps)[0]):
            break
        if ns:
            i = length - 1 - t if spec.reverse else t
            out = _run(ctx.session, bplan, vals + [s[i] for s in seqs] + bcaps)
        else:
            out = _run(ctx.session, bplan, vals + bcaps)
        vals = list(out[:n])
        for k in range(ne):
            emits[k].append(out[n + k])
        if record:
            hist.append(out[n + ne:])
        t += 1
    stacked = []
    for k in range(ne):
        e = emits[k][::-1] if spec.reverse else emits[k]
        if e:
            stacked.append(xp.stack([xp.asarray(v) for v in e]))
        else:
            shp = tuple(d or 0 for d in spec.emit_shapes[k].as_list()) \
                if spec.emit_shapes[k].ndims is not None else ()
            stacked.append(xp.zeros((0,) + shp, dtype=spec.emit_dtypes[k].np))
    return (*vals, *stacked, _History(t, hist))


class _WhileGradSpec:
    def __init__(self, sub, sources, n_dv, n_de, has_dvar, seq_pos, n_seqs, n_caps,
                 cap_pos, reverse, n_x=None, n_init=0):
        self.sub, self.sources = sub, sources
        self.n_dv, self.n_de = n_dv, n_de
        self.has_dvar = has_dvar      # per float var: does the body gradient reach it
        self.seq_pos = seq_pos        # seq positions (of all seqs) that get a gradient
        self.n_seqs, self.n_caps = n_seqs, n_caps
        self.cap_pos = cap_pos        # body-capture positions that get a gradient
        self.reverse = reverse
        self.n_x = n_x                # outer tensors the gradient sub-graph reads
        self.n_init = n_init          # the loop's initial values (inputs for 2nd order only)
        self.record = False           # keep each iteration's inputs (for a 2nd-order gradient)

    def __repr__(self) -> str:
        return f"<WhileGrad {self.sub.name}>"


def _while_grad_shape(node: NodeSpec):
    s = node.attrs["spec"]
    ins = node.inputs[1:]
    dv = ins[:s.n_dv]
    seqs = ins[s.n_dv + s.n_de:s.n_dv + s.n_de + s.n_seqs]
    caps = ins[s.n_dv + s.n_de + s.n_seqs:s.n_dv + s.n_de + s.n_seqs + s.n_caps]
    return [(t.shape, t.dtype) for t in dv] + [(seqs[j].shape, seqs[j].dtype)
                                               for j in s.seq_pos] + \
        [(caps[k].shape, caps[k].dtype) for k in s.cap_pos] + \
        [(TensorShape(()), _dt.variant)]


@op("WhileGrad", shape=_while_grad_shape, stateful=True, may_alias=True,
    broadcasting=False)
def _while_grad_kernel(xp, history, *inputs, spec, ctx):
    s = spec
    dv = list(inputs[:s.n_dv])
    de = inputs[s.n_dv:s.n_dv + s.n_de]
    o = s.n_dv + s.n_de
    seqs = inputs[o:o + s.n_seqs]
    caps = inputs[o + s.n_seqs:o + s.n_seqs + s.n_caps]
    # files exported before second-order loops lack n_init / record
    xcaps = inputs[o + s.n_seqs + s.n_caps:len(inputs) - getattr(s, "n_init", 0)]
    record = getattr(s, "record", False)
    plan = s.sub.plan(ctx.session, False)
    T = history.count
    dseq = [xp.zeros_like(seqs[j]) for j in s.seq_pos]
    dcap = [None] * len(s.cap_pos)
    length = int(seqs[0].shape[0]) if s.n_seqs else 0
    rec = []
    for t in range(T - 1, -1, -1):
        saved = history.saved[t] if history.saved else ()
        p = T - 1 - t if s.reverse else t
        vals = dv + [d[p] for d in de]
        for kind, k in s.sources:
            vals.append(saved[k] if kind == "saved" else caps[k] if kind == "cap" else xcaps[k])
        if record:
            rec.append(vals)
        out = _run(ctx.session, plan, vals)
        i = 0
        new_dv = []
        for j, has in enumerate(s.has_dvar):
            if has:
                new_dv.append(out[i])
                i += 1
            else:
                new_dv.append(xp.zeros_like(dv[j]))
        dv = new_dv
        idx = length - 1 - t if s.reverse else t
        for j in range(len(s.seq_pos)):
            dseq[j][idx] = out[i]
            i += 1
        for j in range(len(s.cap_pos)):
            dcap[j] = out[i] if dcap[j] is None else xp.asarray(dcap[j] + out[i])
            i += 1
    dcap = [xp.zeros_like(caps[k]) if d is None else d for k, d in zip(s.cap_pos, dcap)]
    return (*dv, *dseq, *dcap, _History(T, rec))


@_while.grad
def _while_gradient(op, *dys):
    spec = op.attrs["spec"]
    n = spec.n_vars
    fv = [i for i in range(n) if _is_float(spec.body.args[i])]
    fe = [k for k in range(spec.n_emit) if _is_float(spec.body.outputs[n + k])]
    if all(dys[i] is None for i in fv) and all(dys[n + k] is None for k in fe):
        return [None] * len(op.inputs)
    return _build_while_grad(op, dys, [])


def _build_while_grad(op, dys, extra):
    """A WhileGrad op for the While ``op``: cotangents ``dys`` of its outputs, plus
    ``extra``: (recorded body tensor, its per-iteration cotangents as a variant) pairs.
    Returns the gradients of ``op``'s inputs."""
    from flowgrad.autodiff.gradients import gradients  # noqa: PLC0415 - autodiff sits beside
    spec = op.attrs["spec"]
    none = [None] * len(op.inputs)
    if not spec.back_prop:
        return none
    n, ns, ne = spec.n_vars, spec.n_seqs, spec.n_emit
    body = spec.body
    fv = [i for i in range(n) if _is_float(body.args[i])]
    fe = [k for k in range(ne) if _is_float(body.outputs[n + k])]
    fs = [j for j in range(ns) if _is_float(body.args[n + j])]
    fc = [k for k, c in enumerate(body.captures) if _is_float(c)]
    dv_outer = [dys[i] if dys[i] is not None else A.zeros_like(op.outputs[i]) for i in fv]
    de_outer = [dys[n + k] if dys[n + k] is not None else A.zeros_like(op.outputs[n + k])
                for k in fe]
    g = op.graph
    start = len(g._ops)
    with g.control_dependencies(None), g.name_scope(f"{body.name}_grad"):
        dv_args = [_arg(dtype=body.args[i].dtype, shape=body.args[i].shape, name="dvar")
                   for i in fv]
        de_args = [_arg(dtype=body.outputs[n + k].dtype, shape=body.outputs[n + k].shape,
                        name="demit") for k in fe]
        ds_args = [_arg(dtype=t.dtype, shape=t.shape, name="dsaved") for t, _ in extra]
        ys = [body.outputs[i] for i in fv] + [body.outputs[n + k] for k in fe] + \
            [t for t, _ in extra]
        xs = [body.args[i] for i in fv] + [body.args[n + j] for j in fs] + \
            [body.captures[k] for k in fc]
        grads = gradients(ys, xs, grad_ys=dv_args + de_args + ds_args,
                          stop_gradients=body.captures)
        grads = [_dense(d) for d in grads]
    end = len(g._ops)
    gv, gs, gc = grads[:len(fv)], grads[len(fv):len(fv) + len(fs)], grads[len(fv) + len(fs):]
    outs = [d for d in grads if d is not None]
    if not outs:
        return none
    args = dv_args + de_args + ds_args
    gcaps, _ = _find_captures(outs, set(args), _region_inside(start, end))
    bcap = {c: k for k, c in enumerate(body.captures)}
    sources, xcaps = [], []
    for c in gcaps:
        if c in bcap:
            sources.append(("cap", bcap[c]))
        elif body.contains(c.op):
            sources.append(("saved", body.save(c)))
        else:
            if c not in xcaps:
                xcaps.append(c)
            sources.append(("x", xcaps.index(c)))
    sub = SubGraph(f"{body.name}_grad", start, end, args, outs, gcaps)
    seq_pos = [j for j, d in zip(fs, gs) if d is not None]
    cap_pos = [k for k, d in zip(fc, gc) if d is not None]
    inits = list(op.inputs[1:1 + n])
    gspec = _WhileGradSpec(sub, sources, len(fv), len(fe) + len(extra),
                           [d is not None for d in gv], seq_pos, ns, len(body.captures),
                           cap_pos, spec.reverse, len(xcaps), len(inits))
    seqs = list(op.inputs[1 + n:1 + n + ns])
    bcaps = [op.inputs[1 + n + ns + i] for i in spec.body_idx]
    res = _make(_while_grad_kernel,
                [op.outputs[-1], *dv_outer, *de_outer, *[d for _, d in extra], *seqs, *bcaps,
                 *xcaps, *inits], "WhileGrad", spec=gspec)
    res = [res] if isinstance(res, Tensor) else list(res)
    out = list(none)
    it = iter(res[:-1])
    for i in fv:
        out[1 + i] = next(it)
    for j in seq_pos:
        out[1 + n + j] = next(it)
    for k in cap_pos:
        out[1 + n + ns + spec.body_idx[k]] = next(it)
    return out


# ----- gradients of gradients through While --------------------------------------------------
# WhileGrad runs the body's gradient sub-graph G once per iteration, backwards.  Its own
# gradient is a loop too, forwards: ``WhileGradGrad`` feeds each iteration's recorded G
# inputs (WhileGrad keeps them once a second-order gradient exists) to H, the symbolic
# gradient of G, carrying the cotangent of the running loop-variable gradient.  H yields
# cotangents for G's inputs: the loop-variable gradient, the emitted-value gradients, the
# captures, and the body values the forward loop recorded.  The last ones depend on the
# forward iterations, so they are sent back through the forward loop by another WhileGrad
# of the forward While, whose body gradient takes them as per-iteration cotangents (like
# emitted values).  That is why WhileGrad has the loop's initial values as inputs: they
# receive gradients only this way.
class _WhileGradGradSpec:
    def __init__(self, sub, sources, outs, nargs, n_dv, n_seq_pos, n_cap_pos, has_dvar,
                 o_de, o_seq, reverse, fwd_reverse) -> None:
        self.sub, self.sources, self.outs = sub, sources, outs
        self.nargs = nargs                # G's arguments (recorded per iteration)
        self.n_dv, self.n_seq_pos, self.n_cap_pos = n_dv, n_seq_pos, n_cap_pos
        self.has_dvar = has_dvar          # per dv: is the new dv an output of G
        self.o_de, self.o_seq = o_de, o_seq  # WhileGrad's de and seq inputs within ``ins``
        self.reverse, self.fwd_reverse = reverse, fwd_reverse

    def __repr__(self) -> str:
        return f"<WhileGradGrad {self.sub.name}>"


def _while_grad_grad_shape(node: NodeSpec):
    s = node.attrs["spec"]
    ins = node.inputs[2:]
    res = []
    for kind, k in s.outs:
        if kind == "saved":
            res.append((TensorShape(()), _dt.variant))
        else:
            t = ins[s.o_de + k] if kind == "de" else ins[k]
            res.append((t.shape, t.dtype))
    return res


@op("WhileGradGrad", shape=_while_grad_grad_shape, stateful=True, may_alias=True,
    broadcasting=False)
def _while_grad_grad_kernel(xp, fwd_history, history, *ins, spec, ctx):
    # ins: cotangents of WhileGrad's outputs (dv, seq rows, caps), WhileGrad's own inputs,
    # then other outer tensors H reads; out kinds ("in", i) index ``ins``
    s = spec
    plan = s.sub.plan(ctx.session, False)
    T = history.count
    nout = s.n_dv + s.n_seq_pos + s.n_cap_pos
    ddv = list(ins[:s.n_dv])
    dds = ins[s.n_dv:s.n_dv + s.n_seq_pos]
    ddc = list(ins[s.n_dv + s.n_seq_pos:nout])
    length = int(ins[s.o_seq].shape[0]) if s.n_seq_pos else 0
    acc: dict = {}
    saved_rows: dict = {}
    for r in range(T - 1, -1, -1):          # WhileGrad's iterations, the last one first
        t = T - 1 - r                       # the forward iteration it handled
        rec = history.saved[r]
        fsaved = fwd_history.saved[t] if fwd_history.saved else ()
        vals = list(rec[:s.nargs])
        vals += [d for d, h in zip(ddv, s.has_dvar) if h]
        idx = length - 1 - t if s.reverse else t
        vals += [d[idx] for d in dds]
        vals += ddc
        for kind, k in s.sources:
            vals.append(rec[k] if kind == "rec" else fsaved[k] if kind == "saved" else ins[k])
        out = _run(ctx.session, plan, vals)
        new_ddv = [None] * s.n_dv
        for (kind, k), v in zip(s.sub.out_kinds, out):
            if kind == "dv":
                new_ddv[k] = v
            elif kind == "de":
                if ("de", k) not in acc:
                    acc[("de", k)] = xp.zeros_like(ins[s.o_de + k])
                acc[("de", k)][T - 1 - t if s.reverse else t] = v
            elif kind == "saved":
                rows = saved_rows.setdefault(k, [None] * T)
                rows[T - 1 - t if s.fwd_reverse else t] = v
            else:
                acc[("in", k)] = v if ("in", k) not in acc else xp.asarray(acc[("in", k)] + v)
        ddv = [v if v is not None else xp.zeros_like(ins[s.n_dv + s.n_seq_pos + s.n_cap_pos + j])
               for j, v in enumerate(new_ddv)]
    res = []
    for kind, k in s.outs:
        if kind == "dv":
            res.append(ddv[k])
        elif kind == "saved":
            rows = saved_rows.get(k, [None] * T)
            res.append([xp.zeros_like(xp.asarray(
                fwd_history.saved[T - 1 - p if s.fwd_reverse else p][k])) if v is None else v
                for p, v in enumerate(rows)])
        else:
            v = acc.get((kind, k))
            if v is None:
                v = xp.zeros_like(ins[s.o_de + k] if kind == "de" else ins[k])
            res.append(v)
    return res


@_while_grad_grad_kernel.grad
def _while_grad_grad_gradient(op, *dys):
    raise LookupError(
        f"Third- and higher-order gradients through tf.while_loop are not supported: "
        f"'{op.name}' (WhileGradGrad, the second-order gradient of a loop) has no gradient. "
        "Unroll the loop with a Python for loop for higher orders.")


@_while_grad_kernel.grad
def _while_grad_gradient(op, *dys):
    from flowgrad.autodiff.gradients import gradients  # noqa: PLC0415 - autodiff sits beside
    from flowgrad.ops import math_ops as M  # noqa: PLC0415
    s = op.attrs["spec"]
    G = s.sub
    fop = op.inputs[0].op
    fspec = fop.attrs["spec"]
    body = fspec.body
    none = [None] * len(op.inputs)
    nout = s.n_dv + len(s.seq_pos) + len(s.cap_pos)
    if all(d is None for d in dys[:nout]):
        return none
    if getattr(s, "n_x", None) is None:
        raise LookupError(f"'{op.name}' (WhileGrad) has no second-order gradient: it comes "
                          "from a meta-graph exported by an older flowgrad; rebuild the "
                          "first-order gradient with tf.gradients.")
    o_de = nout + s.n_dv                     # positions within ``ins``
    o_seq = o_de + s.n_de
    o_cap = o_seq + s.n_seqs
    o_x = o_cap + s.n_caps
    o_init = o_x + s.n_x
    g = op.graph
    start = len(g._ops)
    with g.control_dependencies(None), g.name_scope(f"{G.name}_grad"):
        h_args = [_arg(dtype=t.dtype, shape=t.shape, name="dd") for t in G.outputs]
        xs = [t for t in list(G.args) + list(G.captures) if _is_float(t)]
        grads = gradients(list(G.outputs), xs, grad_ys=h_args,
                          stop_gradients=list(G.args) + list(G.captures))
        grads = [_dense(d) for d in grads]
    end = len(g._ops)
    kinds = []
    for t in xs:                             # what each gradient is the cotangent of
        if t in G.args:
            i = G.args.index(t)
            kinds.append(("dv", i) if i < s.n_dv else ("de", i - s.n_dv))
        else:
            kind, k = s.sources[G.captures.index(t)]
            kinds.append(("saved", k) if kind == "saved" else
                         ("in", o_cap + k) if kind == "cap" else ("in", o_x + k))
    res = [(kd, d) for kd, d in zip(kinds, grads) if d is not None]
    if not res:
        return none
    regions = [(start, end), (G.start, G.end)]

    def inside(o):
        return o.type != "VariableV2" and any(a <= o._id < z for a, z in regions)
    hcaps, _ = _find_captures([d for _, d in res], set(G.args) | set(h_args), inside)
    ins = [dys[j] if dys[j] is not None else A.zeros_like(op.outputs[j]) for j in range(nout)]
    ins += list(op.inputs[1:])
    gidx = {c: k for k, c in enumerate(G.captures)}
    src = []
    for c in hcaps:
        if c in gidx:
            src.append(("rec", len(G.args) + gidx[c]))
        elif body.contains(c.op) and c.op.type != "VariableV2":
            src.append(("saved", body.save(c)))
        else:
            if c not in ins:
                ins.append(c)
            src.append(("in", ins.index(c)))
    hsub = SubGraph(f"{G.name}_grad", start, end, list(G.args) + h_args,
                    [d for _, d in res], hcaps)
    hsub.out_kinds = [kd for kd, _ in res]
    de_float = [_is_float(op.inputs[1 + s.n_dv + k]) for k in range(s.n_de)]
    outs = [("dv", j) for j in range(s.n_dv)]
    outs += sorted({kd for kd in hsub.out_kinds if kd[0] == "in"})
    outs += sorted({kd for kd in hsub.out_kinds if kd[0] == "de" and de_float[kd[1]]})
    saved_ks = sorted({k for kind, k in hsub.out_kinds if kind == "saved"
                       and _is_float(body.saved[k])})
    outs += [("saved", k) for k in saved_ks]
    gspec = _WhileGradGradSpec(hsub, src, outs, len(G.args), s.n_dv, len(s.seq_pos),
                               len(s.cap_pos), list(s.has_dvar), o_de, o_seq, s.reverse,
                               fspec.reverse)
    s.record = True
    r = _make(_while_grad_grad_kernel, [op.inputs[0], op.outputs[-1], *ins], "WhileGradGrad",
              spec=gspec)
    r = [r] if isinstance(r, Tensor) else list(r)
    out = list(none)

    def add(i, d):
        out[i] = d if out[i] is None else M.add(out[i], d)
    extra = []
    for (kind, k), d in zip(outs, r):
        if kind == "dv":
            add(1 + k, d)
        elif kind == "de":
            add(1 + s.n_dv + k, d)
        elif kind == "in":
            add(1 + k - nout, d)
        else:
            extra.append((body.saved[k], d))
    if extra:       # the recorded body values' cotangents, back through the forward loop
        fg = _build_while_grad(fop, [None] * len(fop.outputs), extra)
        n, ns = fspec.n_vars, fspec.n_seqs
        for i in range(n):
            if fg[1 + i] is not None:
                add(1 + o_init - nout + i, fg[1 + i])
        for j in range(ns):
            if fg[1 + n + j] is not None:
                add(1 + o_seq - nout + j, fg[1 + n + j])
        for k, ci in enumerate(fspec.body_idx):
            if fg[1 + n + ns + ci] is not None:
                add(1 + o_cap - nout + k, fg[1 + n + ns + ci])
    return out


# ----- building loops ------------------------------------------------------------------------
def build_loop(cond_fn: Callable | None, body_fn: Callable, inits: list, seqs: list = (),
               invariants: list | None = None, maximum_iterations=None, back_prop: bool = True,
               reverse: bool = False, name: str = "while"):
    """The one loop primitive under ``while_loop``, ``scan``, ``map_fn`` and ``dynamic_rnn``.

    ``cond_fn(vars) -> bool scalar`` (None: run until the sequences end) and
    ``body_fn(vars, slices) -> (new_vars, emits)`` work on flat lists of tensors.  Each
    iteration ``t`` receives ``seq[t]`` of every sequence (``seq[len - 1 - t]`` when
    ``reverse``); the loop stops after the shortest sequence.  Returns (final vars, emitted
    values stacked along a new leading axis).
    """
    g = get_default_graph()
    inits = [convert_to_tensor(v) for v in inits]
    seqs = [convert_to_tensor(s) for s in seqs]
    for s in seqs:
        if s.shape.ndims == 0:
            raise ValueError(f"{name}: a sequence to iterate over must have rank >= 1, got "
                             f"the scalar {s!r}")
    with g.as_default(), g.name_scope(name):
        shapes = []
        for i, v in enumerate(inits):
            sh = v.shape if invariants is None or invariants[i] is None else \
                as_shape(invariants[i])
            if not v.shape.is_compatible_with(sh):
                raise ValueError(f"{name}: the shape invariant {sh} of loop variable {i} is not "
                                 f"compatible with its initial shape {v.shape}")
            shapes.append(sh)
        var_specs = [(v.dtype, sh) for v, sh in zip(inits, shapes)]
        seq_specs = [(s.dtype, s.shape[1:] if s.shape.ndims is not None else None)
                     for s in seqs]
        n = len(inits)
        cond_sub, cctrl = None, []
        if cond_fn is not None:
            cond_sub, cres, _, cctrl = _build(g, "cond", lambda a: cond_fn(a), var_specs)
            p = cond_sub.outputs
            if len(p) != 1 or not p[0].dtype.is_bool or p[0].shape.ndims not in (None, 0):
                raise ValueError(f"{name}: cond must return one bool scalar tensor, got "
                                 f"{cres!r}")
        emit_holder: list = []

        def body_wrap(a):
            new_vars, emits = body_fn(a[:n], a[n:])
            new_vars, emits = list(new_vars), list(emits)
            emit_holder.append(len(emits))
            return new_vars + emits
        body, _, _, bctrl = _build(g, "body", body_wrap, var_specs + seq_specs)
        ne = emit_holder[0]
        if len(body.outputs) - ne != n:
            raise ValueError(f"{name}: body returned {len(body.outputs) - ne} loop variables, "
                             f"expected {n} (the structure of loop_vars)")
        for i in range(n):
            o, (dt, sh) = body.outputs[i], var_specs[i]
            if o.dtype != dt:
                raise TypeError(f"{name}: loop variable {i} enters the loop as {dt.name} but "
                                f"the body returns {o.dtype.name} ({o.name})")
            if not o.shape.is_compatible_with(sh) or (sh.ndims is not None and
                                                       o.shape.ndims is None):
                raise ValueError(
                    f"{name}: loop variable {i} has shape {sh} before the loop but shape "
                    f"{o.shape} after one iteration. Pass shape_invariants (e.g. "
                    f"tf.TensorShape([None, ...])) to allow the shape to change.")
        emit_out = body.outputs[n:]
        caps = list(body.captures)
        if cond_sub is not None:
            caps += [c for c in cond_sub.captures if c not in caps]
        body_idx = [caps.index(c) for c in body.captures]
        cond_idx = [caps.index(c) for c in cond_sub.captures] if cond_sub is not None else []
        static_len = None
        if seqs and cond_fn is None and maximum_iterations is None:
            lens = [s.shape[0] for s in seqs if s.shape.ndims is not None]
            if lens and all(d is not None for d in lens):
                static_len = min(lens)
        spec = _LoopSpec(cond_sub, body, n, len(seqs), ne, cond_idx, body_idx, reverse,
                         back_prop, shapes, [v.dtype for v in inits],
                         [e.shape for e in emit_out], [e.dtype for e in emit_out], static_len)
        mi = constant(-1, dtype=_dt.int32, name="maximum_iterations") \
            if maximum_iterations is None else \
            _as_int32(convert_to_tensor(maximum_iterations))
        outs = _make(_while, [mi, *inits, *seqs, *caps], "While", spec=spec)
        outs = [outs] if isinstance(outs, Tensor) else list(outs)
        wop = outs[-1].op
        for c in cctrl + bctrl:
            wop._add_control_input(c)
    return outs[:n], outs[n:n + ne]


def _as_int32(t: Tensor) -> Tensor:
    if t.dtype == _dt.int32:
        return t
    from flowgrad.ops.math_ops import cast  # noqa: PLC0415
    return cast(t, _dt.int32)


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations: int = 10,
               back_prop: bool = True, swap_memory: bool = False, name: str | None = None,
               maximum_iterations=None, return_same_structure: bool = False):
    """``tf.while_loop``: repeats ``body`` while ``cond`` is true.

    ``cond(*loop_vars)`` returns a bool scalar, ``body(*loop_vars)`` the new loop variables
    in the same (possibly nested) structure.  Tensors the functions use from outside are
    captured as loop invariants.  The gradient replays the iterations backwards from the
    values the forward pass recorded.

    >>> i, s = tf.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s * 2.0), [0, 1.0])
    """
    if not callable(cond) or not callable(body):
        raise TypeError("cond and body must be callable.")
    from flowgrad.ops.tensor_array_ops import TensorArray  # noqa: PLC0415
    is_seq = nest.is_sequence(loop_vars)
    if is_seq and not nest.flatten(loop_vars):
        raise ValueError("No loop variables provided")
    leaves = nest.flatten(loop_vars)
    # a TensorArray travels through the loop as its flow tensor, of any shape
    tas = {i: v for i, v in enumerate(leaves) if isinstance(v, TensorArray)}
    flat = [v.flow if i in tas else convert_to_tensor(v) for i, v in enumerate(leaves)]
    structure = loop_vars
    inv = None
    if shape_invariants is not None:
        inv = nest.flatten(shape_invariants) if nest.is_sequence(shape_invariants) \
            else [shape_invariants]
        inv = [as_shape(s) for s in inv]
        if len(inv) != len(flat):
            raise ValueError(f"shape_invariants has {len(inv)} entries for {len(flat)} loop "
                             "variables")
    if tas:
        inv = inv or [None] * len(flat)
        for i in tas:
            inv[i] = TensorShape(None)

    def rewrap(vs):
        return [tas[i]._with_flow(v) if i in tas else v for i, v in enumerate(vs)]

    def pack(vs):
        p = nest.pack_sequence_as(structure, rewrap(vs))
        return list(p) if is_seq and not isinstance(p, dict) else [p]

    def call_cond(vs):
        return cond(*pack(vs))

    def call_body(vs, _):
        r = body(*pack(vs))
        if not nest.is_sequence(r):
            r = [r]
        out = [v.flow if isinstance(v, TensorArray) else v for v in nest.flatten(r)]
        if len(out) != len(flat):
            raise ValueError(f"while_loop: body returned {len(out)} tensors, expected "
                             f"{len(flat)} (the structure of loop_vars {loop_vars!r})")
        return out, []
    final, _ = build_loop(call_cond, call_body, flat, (), inv, maximum_iterations,
                          back_prop, False, name or "while")
    result = nest.pack_sequence_as(structure, rewrap(final))
    if not return_same_structure and isinstance(result, list | tuple) and len(result) == 1 \
            and not hasattr(result, "_fields"):
        return result[0]
    return result
