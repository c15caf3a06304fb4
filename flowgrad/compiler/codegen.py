"""Code generation: the optimized program as one Python function.

Every node becomes one line.  With ``inline`` on, common kernels are written into the line
as numpy expressions (``t5 = t2 + c1``, ``t6 = xp_tanh(t5)``, ``t0 = S[k0]`` for a variable
read), so a straight chain of elementwise ops runs as one fused function with no per-op
call.  With ``buffer_reuse`` on (specialized plans, where shapes are known), an elementwise
op whose input is a temporary dying at that op writes its result into that input's buffer
(``xp_multiply(t9, t4, out=t9)``).  With ``inplace_updates`` on, optimizer updates are
split in two: the scaled step is computed where the update stood, and the variable's own
buffer is updated at the very end of the plan, after every op that could fail (see
``_inplace_updates`` for when that is safe).  With ``fold_sgd_gemm`` on as well, such an
update whose step is a ``MatMul`` used by nothing else skips that MatMul: the end of the
plan runs one BLAS ``w = -lr * a @ b + w`` instead (see ``_sgd_gemm_folds``).
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

from flowgrad.compiler import fusion
from flowgrad.compiler.ir import Node, Program, Ref, Value
from flowgrad.ops.nn_ops import tiled_bias
from flowgrad.ops.reduce_ops import gemv_reduces
from flowgrad.runtime import blas, onednn, placement

_BINOP = {"AddV2": "+", "Sub": "-", "Mul": "*"}
_UFUNC2 = {"AddV2": "add", "Sub": "subtract", "Mul": "multiply", "RealDiv": "true_divide",
           "Maximum": "maximum", "Minimum": "minimum", "BiasAdd": "add"}
_UFUNC1 = {"Tanh": "tanh", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Abs": "abs",
           "Sin": "sin", "Cos": "cos"}
# consumers that neither keep nor return a view of their inputs
_SAFE_CONSUMERS = set(_UFUNC2) | set(_UFUNC1) | {"Neg", "Square", "Relu", "ReluGrad", "Sigmoid",
                                                 "MatMul", "BatchMatMulV2", "Sum", "Mean",
                                                 "ApplyGradientDescent"}


class Env:
    """What generated code may refer to besides kernels: backend, store, ownership.

    ``store`` None (a plan compiled without a session) reads variables through their
    kernels and leaves updates to theirs.
    """

    def __init__(self, xp, store: dict, owned: dict, take: Callable, backend=None) -> None:
        self.xp, self.store, self.owned, self.take = xp, store, owned, take
        #: the session's device (``runtime.backend``); None: plain numpy on the host
        self.backend = backend
        self.platform = backend.platform if backend is not None else "cpu"
        self.array_type = backend.array_type if backend is not None else np.ndarray

    @property
    def fold_call(self) -> Callable | None:
        """How constant folding runs a node on a device plan: its own device kernel, on
        constants placed as the run would place them (``place_const``), so a folded value
        is bit for bit what the unfolded plan computes."""
        if self.platform == "cpu":
            return None

        def call(node: Node, consts: list):
            return node.kernel(*[self.place_const(c, node.type, j)
                                 for j, c in enumerate(consts)])
        return call

    def place_const(self, value, op_type: str, index: int):
        """A constant as a device kernel reads it: a host array for a host-memory argument
        (shapes, sizes), else a device array (strings stay host arrays)."""
        if placement.host_memory_arg(op_type, index):
            return self.backend.to_host(value)
        return placement.to_device(self.backend, value)


def _float(v: Value) -> bool:
    return v.dtype is not None and np.dtype(v.dtype).kind == "f"


def _inline_expr(node: Node, a: list[str], env: Env, name) -> str | None:
    """The node as an expression of its argument names, or None to call its kernel."""
    t = node.type
    at = node.op.attrs
    vals = node.args
    if t == "VariableV2":
        return f"S[{name(node.op)}]" if env.store is not None else None
    if not all(isinstance(v, Value) for v in vals):
        return None
    out = node.outs[0] if len(node.outs) == 1 else None
    if out is None:
        return None
    if t in _BINOP:
        return f"{a[0]} {_BINOP[t]} {a[1]}"
    if t == "RealDiv" and _float(out):
        return f"{a[0]} / {a[1]}"
    if t in ("Maximum", "Minimum"):
        return f"xp_{_UFUNC2[t]}({a[0]}, {a[1]})"
    if t in _UFUNC1 and _float(out):
        return f"xp_{_UFUNC1[t]}({a[0]})"
    if t == "Neg":
        return f"-{a[0]}"
    if t == "Square":
        return f"{a[0]} * {a[0]}"
    if t == "Relu":
        return f"xp_maximum({a[0]}, 0)"
    if t == "ReluGrad":
        return f"{a[0]} * ({a[1]} > 0)"
    if t == "BiasAdd" and at.get("data_format", "NHWC") not in ("NCHW", "NCW", "NCDHW"):
        if tiled_bias(vals[0].shape):
            return None                  # the kernel's faster few-channel add
        return f"{a[0]} + {a[1]}"
    if t == "Sigmoid" and _float(out):
        # the kernel's 0.5 * (1 + tanh(x / 2)), as one expression
        return f"(xp_tanh({a[0]} * 0.5) + 1.0) * 0.5"
    if t in ("MatMul", "BatchMatMulV2"):
        x, y = a
        if at["transpose_a"]:
            x = f"{x}.T" if _ndim(vals[0]) == 2 else f"{x}.swapaxes(-1, -2)"
        if at["transpose_b"]:
            y = f"{y}.T" if _ndim(vals[1]) == 2 else f"{y}.swapaxes(-1, -2)"
        if _onednn_product(vals, out, at, env):
            return f"onednn_product({x}, {y})"
        return f"xp_matmul({x}, {y})"
    if t == "Sum" or (t == "Mean" and _float(vals[0])):
        axis = at["axis"]
        if isinstance(axis, list):
            axis = tuple(axis)
        if gemv_reduces(vals[0].shape, axis, vals[0].dtype):
            return None                  # the kernel's GEMV over leading axes
        keep = bool(at["keepdims"])
        # ufunc.reduce is what np.sum runs, without the Python-level wrappers
        red = f"xp_add_reduce({a[0]}, {name(axis)}, {a[0]}.dtype, None, {keep})"
        if t == "Sum":
            return red
        x = vals[0]
        if x.shape is None or x.dtype not in (np.float32, np.float64):
            return f"xp_mean({a[0]}, axis={name(axis)}, keepdims={keep}, dtype={a[0]}.dtype)"
        count = int(np.prod(x.shape)) // max(1, int(np.prod(out.shape))) \
            if out.shape is not None else None
        if count is None or count == 0:
            return None
        return f"{red} / {count}"
    return None


def _onednn_product(vals, out: Value, at, env: Env) -> bool:
    """A float32 matrix product large enough to go to oneDNN (static shapes only: the
    small products of a plan keep numpy's call, which costs less)."""
    x, y = vals
    if env.xp is not np or out.dtype != np.float32 or x.shape is None or y.shape is None \
            or len(x.shape) != 2 or len(y.shape) != 2:
        return False
    m, k = x.shape[::-1] if at["transpose_a"] else x.shape
    n = y.shape[0] if at["transpose_b"] else y.shape[1]
    return onednn.matmul_pays(m, k, n)


def _ndim(v: Value) -> int | None:
    s = v.tensor.shape if v.tensor is not None else None
    return s.ndims if s is not None else None


def _inplace_expr(node: Node, a: list[str], target: int) -> str | None:
    """The node computing into its argument ``target``'s buffer, or None."""
    t = node.type
    b = a[target]
    if t in _UFUNC2:
        if t == "RealDiv" and not _float(node.outs[0]):
            return None
        if t == "BiasAdd" and node.op.attrs.get("data_format", "NHWC") in ("NCHW", "NCW",
                                                                           "NCDHW"):
            return None
        return f"xp_{_UFUNC2[t]}({a[0]}, {a[1]}, out={b})"
    if t in _UFUNC1 and _float(node.outs[0]):
        return f"xp_{_UFUNC1[t]}({a[0]}, out={b})"
    if t == "Neg":
        return f"xp_negative({a[0]}, out={b})"
    if t == "Square":
        return f"xp_multiply({a[0]}, {a[0]}, out={b})"
    if t == "Relu":
        return f"xp_maximum({a[0]}, 0, out={b})"
    if t == "ReluGrad" and target == 0:
        return f"xp_multiply({a[0]}, {a[1]} > 0, out={b})"
    return None


def generate(prog: Program, opts, env: Env, filename: str, specialized: bool,
             bind_kernel: Callable[[Node], Callable], guard: list | None = None,
             fallback: Callable | None = None, record: Callable | None = None):
    """Source, namespace and line -> op map of the plan function for ``prog``."""
    ns: dict = {"S": env.store, "OWN": env.owned}
    xp = env.xp
    for fn in ("add", "subtract", "multiply", "true_divide", "maximum", "minimum", "tanh",
               "exp", "log", "sqrt", "abs", "sin", "cos", "negative", "matmul", "swapaxes",
               "sum", "mean"):
        ns["xp_" + fn] = getattr(xp, fn)
    ns["xp_add_reduce"] = xp.add.reduce
    ns["xp_empty"] = xp.empty
    ns["onednn_product"] = onednn.product
    counter = itertools.count()
    names: dict[int, str] = {}

    def name_obj(obj) -> str:
        nm = f"a{next(counter)}"
        ns[nm] = obj
        return nm

    on_device = env.platform != "cpu"
    placed: dict[tuple, str] = {}

    def vname(v: Value) -> str:
        nm = names.get(id(v))
        if nm is None:
            if not v.is_const:
                raise AssertionError(f"value {v} used before it is computed")
            nm = names[id(v)] = name_obj(v.const)
        return nm

    def arg_name(node: Node, j: int, a: Value) -> str:
        """An argument's name; on a device plan a constant is placed once, here, where the
        kernel reads it (``Env.place_const``)."""
        if not on_device or not a.is_const:
            return vname(a)
        host = placement.host_memory_arg(node.type, j)
        key = (id(a), host)
        nm = placed.get(key)
        if nm is None:
            nm = placed[key] = name_obj(env.place_const(a.const, node.type, j))
        return nm

    for i, v in enumerate(prog.feeds):
        names[id(v)] = f"f{i}"
    nodes = prog.nodes
    fetch_ids = {id(v) for v in prog.fetches}
    inline = [None] * len(nodes)
    if opts.inline:
        for i, node in enumerate(nodes):
            inline[i] = _inline_expr(node, ["{%d}" % j for j in range(len(node.args))], env,
                                     name_obj) if node.type != "ApplyGradientDescent" else None
    # liveness, freshness, views
    last_use: dict[int, int] = {}
    for i, node in enumerate(nodes):
        for a in node.args:
            if isinstance(a, Value):
                last_use[id(a)] = i
                if inline[i] is None and node.type not in _SAFE_CONSUMERS:
                    a.safe = False
        for o in node.outs:
            if o is not None:
                o.fresh = inline[i] is not None and node.type != "VariableV2" and \
                    o.shape is not None and len(o.shape) > 0
    updates = _inplace_updates(prog, specialized and opts.inplace_updates, env)
    folds = _sgd_gemm_folds(prog, updates, opts, env, fetch_ids)
    folded = {id(mm) for mm in folds.values()}
    for mm in folds.values():
        for a in mm.args:
            # read at the end of the plan: never freed, never written into by buffer reuse
            last_use[id(a)] = len(nodes)
    reuse = specialized and opts.buffer_reuse

    lines = [f"def plan({', '.join(f'f{i}' for i in range(len(prog.feeds)))}):"]
    if guard:
        ns["ndarray"] = env.array_type
        cond = " or ".join(f"f{i}.__class__ is not ndarray or f{i}.shape != {name_obj(s)}"
                           for i, s in guard)
        ns["fallback"] = fallback
        lines.append(f"    if {cond}:")
        feeds = ", ".join(f"f{i}" for i in range(len(prog.feeds)))
        lines.append(f"        return fallback({feeds})")
    if record is not None:
        ns["rec"] = record
    line_ops: dict[int, object] = {}
    tmp = itertools.count()
    device_updates: list = []
    frees: dict[int, list[str]] = {}
    tail: list[str] = []
    for i, node in enumerate(nodes):
        if id(node) in folded:
            continue            # computed by its update's GEMM at the end of the plan
        mm = folds.get(node)
        args = []
        for j, a in enumerate(node.args):
            if isinstance(a, Ref):
                args.append(name_obj(a.ref))
            elif mm is not None and a is node.args[2]:
                args.append(None)
            else:
                args.append(arg_name(node, j, a))
        outs = []
        for o in node.outs:
            if o is None or (id(o) not in last_use and id(o) not in fetch_ids):
                outs.append("_")
            else:
                nm = f"t{next(tmp)}"
                names[id(o)] = nm
                outs.append(nm)
                if id(o) not in fetch_ids:
                    frees.setdefault(last_use[id(o)], []).append(nm)
        upd = updates.get(node)
        if upd is not None and on_device:
            _emit_device_update(node, args, i, lines, line_ops, device_updates, env,
                                name_obj)
        elif mm is not None:
            _emit_gemm_update(node, mm, [vname(a) for a in mm.args], args, i, lines, line_ops,
                              tail, env, ns, name_obj)
        elif upd is not None:
            _emit_update(node, args, i, last_use, fetch_ids, lines, line_ops, tail, env, ns,
                         name_obj, reuse, opts)
        else:
            expr = None
            if inline[i] is not None:
                expr = inline[i].format(*args)
                if reuse and len(node.outs) == 1:
                    for j, a in enumerate(node.args):
                        if _reusable(a, node.outs[0], i, last_use, fetch_ids, opts):
                            alt = _inplace_expr(node, args, j)
                            if alt is not None:
                                expr = alt
                                node.outs[0].fresh = True
                                break
            else:
                k = name_obj(bind_kernel(node))
                expr = f"{k}({', '.join(args)})"
            if not node.outs:
                line = expr
            elif not multi_output(node):
                line = f"{outs[0]} = {expr}" if outs[0] != "_" else expr
            else:
                line = f"{', '.join(outs)}, = {expr}"
            lines.append(f"    {line}  # {node.type} '{node.op.name}'")
            line_ops[len(lines)] = node.op
            if record is not None:
                for o, nm in zip(node.outs, outs):
                    if nm != "_":
                        lines.append(f"    rec({name_obj(o.tensor)}, {nm})")
        dead = frees.get(i)
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    if device_updates:
        ns["_sgd_all"] = fusion.multi_sgd([(n, dt, lr) for n, dt, lr, _, _ in device_updates],
                                          env)
        call_args = ", ".join(a for *_, names, _ in device_updates for a in names)
        tail.append((f"_sgd_all({call_args})", device_updates[-1][4]))
    for ln, op in tail:
        lines.append("    " + ln)
        line_ops[len(lines)] = op
    def fetch_name(v: Value) -> str:
        # a sub-plan's outputs feed device kernels: a folded constant goes out placed too
        if on_device and v.is_const:
            key = (id(v), False)
            if key not in placed:
                placed[key] = name_obj(placement.to_device(env.backend, v.const))
            return placed[key]
        return vname(v)
    lines.append(f"    return ({''.join(fetch_name(v) + ', ' for v in prog.fetches)})")
    alias_out = tuple(not v.fresh and not _fresh_kernel_output(v) for v in prog.fetches)
    ns["_replayable"] = on_device and _replayable(prog, updates)
    return "\n".join(lines) + "\n", ns, line_ops, alias_out


def _replayable(prog: Program, updates: dict) -> bool:
    """Whether the plan may be recorded once and replayed (a CUDA graph): every node is a
    pure kernel, a variable read, a fused cluster or an in-place update (the variables'
    buffers then stay the same objects from run to run), and none runs on the host."""
    for node in prog.nodes:
        if node.opdef is None:
            continue                    # a fused cluster: pure
        if node.type in placement.HOST_ONLY or "CPU" in node.op.device:
            return False
        if node.type == "VariableV2" or node in updates:
            continue
        if not node.pure:
            return False
    return True


def multi_output(node: Node) -> bool:
    """Whether the node's kernel returns a sequence of outputs (fused nodes with more than
    one escaping value do)."""
    return node.op._multi or len(node.outs) > 1


def _fresh_kernel_output(v: Value) -> bool:
    """A value a kernel made and returned without sharing it (no may_alias, not a const)."""
    if v.is_const or v.feed or v.producer is None:
        return False
    d = v.producer.opdef
    return d is not None and not d.may_alias and v.producer.type != "VariableV2"


def _reusable(a, out: Value, i: int, last_use: dict, fetch_ids: set, opts) -> bool:
    return isinstance(a, Value) and a.fresh and a.safe and last_use.get(id(a)) == i and \
        id(a) not in fetch_ids and a.shape is not None and a.shape == out.shape and \
        a.dtype == out.dtype and int(np.prod(a.shape)) >= opts.reuse_min_elements


# ----- in-place optimizer updates ------------------------------------------------------------
#: the state updates that may write into their variable's buffer: ``w -= lr * d`` and the
#: moving-average kind, ``w -= d`` / ``w += d`` (batch norm's running statistics)
_INPLACE_TYPES = ("ApplyGradientDescent", "AssignSub", "AssignAdd")


def _update_parts(node: Node):
    """``(ref, lr, step)`` of an in-place update node: ``w -= lr * step``; ``lr`` is None for
    ``AssignSub`` / ``AssignAdd`` (a fixed 1 / -1)."""
    if node.type == "ApplyGradientDescent":
        return node.args
    ref, step = node.args
    return ref, None, step


def _inplace_updates(prog: Program, enabled: bool, env: Env) -> dict:
    """The ``ApplyGradientDescent`` / ``AssignSub`` / ``AssignAdd`` nodes that may update
    their variable's buffer in place.

    The buffer write is moved to the end of the plan, so it must not matter when it happens:
    no op of the plan may depend on the update (data or control) and also read the same
    variable; the variable is updated once; its output is not used or fetched; and no
    fetched value may share the variable's buffer (a read of it, or a view of a read); and
    no read of the variable comes after the update in plan order; and the step does not
    share the buffer of any variable the plan writes.
    Failures before the end roll back as always; the buffer writes themselves (same shape
    and dtype, into a buffer the session owns) cannot fail.
    """
    if not enabled or env.store is None:
        return {}
    nodes = prog.nodes
    used = set()
    for node in nodes:
        for a in node.args:
            if isinstance(a, Value):
                used.add(id(a))
    used.update(id(v) for v in prog.fetches)
    fetched_vars = set()
    for v in prog.fetches:
        fetched_vars.update(_alias_roots(v))
    count: dict = {}
    for node in nodes:
        for a in node.args:
            if isinstance(a, Ref):
                count[a.op] = count.get(a.op, 0) + 1
    consumers = _consumers({n.op for n in nodes})
    last_read = {n.op: i for i, n in enumerate(nodes) if n.type == "VariableV2"}
    out = {}
    for i, node in enumerate(nodes):
        if node.type not in _INPLACE_TYPES or len(node.args) != (
                3 if node.type == "ApplyGradientDescent" else 2):
            continue
        if last_read.get(node.args[0].op, -1) > i:
            continue            # a later read (in plan order) must see the new value
        ref, alpha, delta = _update_parts(node)
        if not isinstance(ref, Ref) or not isinstance(delta, Value):
            continue
        var = ref.op
        o = node.outs[0] if node.outs else None
        if count.get(var) != 1 or var in fetched_vars or (o is not None and id(o) in used):
            continue
        if not delta.shape or var.outputs[0].shape.as_list() != list(delta.shape) or \
                (alpha is not None and (not isinstance(alpha, Value) or
                                        alpha.shape not in ((), None))):
            continue
        if delta.dtype != var.outputs[0].dtype.np:
            continue
        if _alias_roots(delta) & set(count):
            continue            # the step shares a buffer the end of the plan may write
        if _downstream_reads(node.op, var, consumers):
            continue
        out[node] = True
    return out


def _alias_roots(v: Value) -> set:
    """Variables whose buffer ``v`` may share (through reads and may_alias ops)."""
    roots, stack, seen = set(), [v], set()
    while stack:
        x = stack.pop()
        if id(x) in seen or x.producer is None:
            continue
        seen.add(id(x))
        p = x.producer
        if p.type == "VariableV2":
            roots.add(p.op)
        elif isinstance(p, fusion.FusedNode):
            continue                    # a generated kernel: its outputs are new arrays
        elif p.opdef is None or p.opdef.may_alias or p.opdef.ref_inputs:
            for a in p.args:
                if isinstance(a, Value):
                    stack.append(a)
                elif isinstance(a, Ref):
                    roots.add(a.op)
    return roots


def _consumers(plan_ops: set) -> dict:
    """op -> the plan's ops that read one of its outputs or depend on it by control."""
    consumers: dict = {}
    for o in plan_ops:
        for t in o.inputs:
            consumers.setdefault(t.op, []).append(o)
        for c in o.control_inputs:
            consumers.setdefault(c, []).append(o)
    return consumers


def _downstream_reads(op, var, consumers: dict) -> bool:
    stack, seen = list(consumers.get(op, ())), set()
    while stack:
        o = stack.pop()
        if o in seen:
            continue
        seen.add(o)
        if o is var or any(t.op is var for t in o.inputs):
            return True
        stack.extend(consumers.get(o, ()))
    return False


def _emit_update(node: Node, args, i, last_use, fetch_ids, lines, line_ops, tail, env, ns,
                 name_obj, reuse, opts) -> None:
    ref, alpha, delta = _update_parts(node)
    key = name_obj(ref.op)
    var_shape = tuple(ref.op.outputs[0].shape.as_list())
    take = name_obj(env.take(ref.ref, var_shape, ref.op.outputs[0].dtype.np, node.op))
    w, d = f"w{i}", f"d{i}"
    lines.append(f"    {w} = S[{key}]")
    line_ops[len(lines)] = node.op
    lines.append(f"    if {w} is not OWN.get({key}):")
    line_ops[len(lines)] = node.op
    lines.append(f"        {w} = {take}({w})")
    line_ops[len(lines)] = node.op
    if alpha is None:           # AssignSub / AssignAdd: the step as it is
        lines.append(f"    {d} = {args[1]}")       # kept alive until the end of the plan
        line_ops[len(lines)] = node.op
        fn = "xp_subtract" if node.type == "AssignSub" else "xp_add"
        tail.append((f"{fn}({w}, {d}, out={w})", node.op))
        return
    size = int(np.prod(var_shape))
    if size >= 4 * _BLOCK:
        # large: step and subtract block by block, so the scaled step never leaves the
        # cache; the scratch block and the flat view are made here, where failing is fine
        sc = f"s{i}"
        ns["_sgd_blocked"] = _sgd_blocked
        lines.append(f"    {d} = {args[2]}.reshape(-1)")
        line_ops[len(lines)] = node.op
        lines.append(f"    {sc} = xp_empty({_BLOCK}, {name_obj(np.dtype(delta.dtype))})")
        line_ops[len(lines)] = node.op
        tail.append((f"_sgd_blocked({w}, {d}, {args[1]}, {sc})", node.op))
        return
    if reuse and _reusable(delta, delta, i, last_use, fetch_ids, opts):
        lines.append(f"    {d} = xp_multiply({args[2]}, {args[1]}, out={args[2]})")
    else:
        lines.append(f"    {d} = {args[2]} * {args[1]}")
    line_ops[len(lines)] = node.op
    tail.append((f"xp_subtract({w}, {d}, out={w})", node.op))


def _emit_device_update(node: Node, args, i, lines, line_ops, group: list, env,
                        name_obj) -> None:
    """An in-place update on a device plan: here the variable's own buffer is taken and the
    step made contiguous; the end of the plan updates every such variable in one call
    (``fusion.multi_sgd``: one kernel launch on CUDA)."""
    ref, alpha, delta = _update_parts(node)
    key = name_obj(ref.op)
    var_shape = tuple(ref.op.outputs[0].shape.as_list())
    dtype = np.dtype(ref.op.outputs[0].dtype.np)
    take = name_obj(env.take(ref.ref, var_shape, dtype, node.op))
    contiguous = name_obj(env.xp.ascontiguousarray)
    w, d = f"w{i}", f"d{i}"
    for ln in (f"{w} = S[{key}]", f"if {w} is not OWN.get({key}):", f"    {w} = {take}({w})",
               f"{d} = {contiguous}({args[-1]})"):
        lines.append(f"    {ln}")
        line_ops[len(lines)] = node.op
    if alpha is None:           # w - 1 * d and w - (-1) * d round as w - d and w + d
        lr = 1.0 if node.type == "AssignSub" else -1.0
    else:
        lr = float(env.backend.to_host(alpha.const)) if alpha.is_const else None
    names = [w, d] if lr is not None else [w, d, args[1]]
    group.append((int(np.prod(var_shape)), dtype, lr, names, node.op))


# ----- SGD folded into the weight-gradient GEMM ----------------------------------------------
def _sgd_gemm_folds(prog: Program, updates: dict, opts, env: Env, fetch_ids: set) -> dict:
    """In-place update node -> the ``MatMul`` node whose product the update can fold in.

    The update ``w -= lr * (a @ b)`` (transposes as the MatMul's attributes say) becomes one
    ``gemm(a', b', w, alpha=-lr, beta=1)`` at the end of the plan, where the other buffer
    writes are, and the MatMul itself is not run.  That needs: the numpy backend with a
    direct BLAS (``runtime.blas``); a 2-D float32/float64 product that nothing but this
    update uses (not fetched either), of at least ``opts.fold_min_elements`` elements (a
    direct BLAS call costs more than a small gradient matrix's round trip); and operands
    that still hold the same values at the end of the plan, so none may share a buffer
    with a variable the plan writes (the earlier buffer writes of the tail would show
    through).  The operands are kept alive and out of buffer reuse until then.  Results
    equal the unfolded update's up to rounding (the step ``lr * g`` is not rounded on its
    own).
    """
    if not updates or not opts.fold_sgd_gemm or env.xp is not np or \
            not (blas.available() or onednn.available()):
        return {}
    nodes = prog.nodes
    in_plan = {id(n) for n in nodes}
    uses: dict[int, int] = {}
    written = set()
    for node in nodes:
        for a in node.args:
            if isinstance(a, Value):
                uses[id(a)] = uses.get(id(a), 0) + 1
            elif isinstance(a, Ref):
                written.add(a.op)
    floats = (np.dtype(np.float32), np.dtype(np.float64))
    out = {}
    for node in updates:
        if node.type != "ApplyGradientDescent":
            continue
        delta = node.args[2]
        mm = delta.producer
        if mm is None or mm.type != "MatMul" or id(mm) not in in_plan or \
                len(mm.outs) != 1 or mm.outs[0] is not delta:
            continue
        if id(delta) in fetch_ids or uses.get(id(delta)) != 1 or node.args[1].shape != ():
            continue
        if delta.dtype not in floats or delta.shape is None or len(delta.shape) != 2 or \
                delta.shape[0] * delta.shape[1] < opts.fold_min_elements:
            continue
        ops = mm.args
        if len(ops) != 2 or not all(isinstance(a, Value) and a.dtype == delta.dtype and
                                    a.shape is not None and len(a.shape) == 2 for a in ops):
            continue
        if any(_alias_roots(a) & written for a in ops):
            continue
        out[node] = mm
    return out


def _emit_gemm_update(node: Node, mm: Node, mm_args: list[str], args, i, lines, line_ops,
                      tail, env, ns, name_obj) -> None:
    """The update ``w -= lr * (a @ b)`` as one GEMM into ``w`` at the end of the plan.

    Here, where failing is still fine: the variable's own buffer (taken as for any in-place
    update), the operand views, ``-lr`` as a Python float, and whether the BLAS takes these
    arrays; if it does not, the step is computed here the unfolded way and the end of the
    plan subtracts it.  The end of the plan then only writes into ``w``.
    """
    ref, alpha, _ = node.args
    key = name_obj(ref.op)
    var_shape = tuple(ref.op.outputs[0].shape.as_list())
    take = name_obj(env.take(ref.ref, var_shape, ref.op.outputs[0].dtype.np, node.op))
    w, x, y, n, d = f"w{i}", f"x{i}", f"y{i}", f"n{i}", f"d{i}"
    at = mm.op.attrs
    xa = f"{mm_args[0]}.T" if at.get("transpose_a") else mm_args[0]
    ya = f"{mm_args[1]}.T" if at.get("transpose_b") else mm_args[1]
    ns["blas_takes"] = _gemm_takes
    ns["_sgd_gemm"] = _sgd_gemm
    if alpha.is_const:
        neg = name_obj(-float(alpha.const))
    else:
        neg = f"-float({args[1]})"
    for ln, op in ((f"{w} = S[{key}]", node.op),
                   (f"if {w} is not OWN.get({key}):", node.op),
                   (f"    {w} = {take}({w})", node.op),
                   (f"{x}, {y}, {n} = {xa}, {ya}, {neg}", node.op),
                   (f"{d} = None if blas_takes({x}, {y}, {w}) else "
                    f"xp_matmul({x}, {y}) * {args[1]}", mm.op)):
        lines.append(f"    {ln}  # {op.type} '{op.name}'" if op is mm.op else f"    {ln}")
        line_ops[len(lines)] = op
    tail.append((f"_sgd_gemm({w}, {x}, {y}, {args[1]}, {n}, {d})", node.op))


def _onednn_gemm(a, b, w) -> bool:
    """Whether the folded update goes to oneDNN (float32, where it is installed: its GEMM
    is 10-30 % faster than OpenBLAS's, and then the step's threads are all OpenMP's)."""
    return w.dtype == a.dtype == b.dtype == np.float32 and w.size > 0 and \
        a.shape[1] > 0 and onednn.ENABLED and onednn.available() and \
        onednn.matmul_takes(a, b, w)


def _gemm_takes(a, b, w) -> bool:
    """Whether ``_sgd_gemm`` can fold the update into one GEMM (oneDNN's or the BLAS's)."""
    return _onednn_gemm(a, b, w) or blas.takes(a, b, w)


def _sgd_gemm(w, a, b, alpha, neg_alpha: float, step) -> None:
    """``w -= alpha * (a @ b)`` in place: one GEMM, or ``w -= step`` where the step was
    computed beforehand (the BLAS did not take the arrays)."""
    if step is None:
        if _onednn_gemm(a, b, w) and onednn.matmul(a, b, w, neg_alpha, 1.0) is not None:
            return
        if blas.gemm(a, b, w, neg_alpha, 1.0):
            return
        step = np.matmul(a, b) * alpha      # the BLAS changed its mind: numpy's way
    np.subtract(w, step, out=w)


_BLOCK = 65536      # elements of a scratch block (256 KiB of float32: an L2-resident step)


def _sgd_blocked(w, g, alpha, scratch) -> None:
    """``w -= g * alpha`` in place, a block at a time (same roundings as the plain form).

    ``w`` is the session-owned, C-contiguous variable buffer and ``g`` a flat view of the
    gradient; nothing here allocates, so nothing can fail half-way.
    """
    wf = w.reshape(-1)
    n = wf.shape[0]
    b = scratch.shape[0]
    mul, sub = np.multiply, np.subtract
    for i in range(0, n, b):
        j = i + b if i + b < n else n
        s = scratch[:j - i]
        mul(g[i:j], alpha, out=s)
        sub(wf[i:j], s, out=wf[i:j])
