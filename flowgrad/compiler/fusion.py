"""Elementwise fusion for device plans: each chain of elementwise ops becomes one kernel.

On a GPU every op is a kernel launch, and through CuPy a launch costs about 12-15 µs of
host time, more than the arithmetic of most of a small network's elementwise ops.  This
pass groups connected elementwise nodes of one output shape into clusters and replaces
each cluster (a single op too) by one ``FusedNode`` whose kernel is generated CUDA C: one
CuPy ``ElementwiseKernel`` per cluster (compiled once, cached by CuPy on disk), reading
the cluster's inputs once and writing only the values something outside it uses.

A node joins the cluster of one of its producers when:

* its op has a CUDA expression (``_EXPR``) for its dtypes, all its inputs are values
  (no variable references), its op is not pinned by a control dependency, and it runs on
  the device (not a host-only op, not placed on the CPU by ``tf.device``);
* its output shape is known (specialized plans) and equal to the cluster's: every member
  then runs once per element of that shape, and inputs broadcast to it as numpy does;
* no node outside the cluster that uses a member's output (data or control) runs before
  it: the fused node runs where the cluster's last member stood, so such a node would
  run before its input exists (and could close a cycle).

Scalar constants are written into the source as literals; other inputs are kernel
parameters.  On the simulated test device (``platform == "simulated"``) a cluster runs
its members' own kernels in order instead of CUDA, so the rewiring is tested without a
GPU; the CUDA expressions themselves are checked on the GPU by the op harness, which runs
every op row with the passes on and off.
"""

from __future__ import annotations

import hashlib

import numpy as np

from flowgrad.compiler.ir import Node, Program, Value
from flowgrad.runtime import placement

_CTYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double",
          np.dtype(np.bool_): "bool", np.dtype(np.int32): "int",
          np.dtype(np.int64): "long long"}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _binary(sym):
    return lambda a, t: f"{a[0]} {sym} {a[1]}"


def _call(fn):
    return lambda a, t: f"{fn}({a[0]})"


# op type -> (C expression of argument names a and output C type t, float-only)
_EXPR = {
    "AddV2": (_binary("+"), False), "Sub": (_binary("-"), False),
    "Mul": (_binary("*"), False), "RealDiv": (_binary("/"), True),
    "BiasAdd": (_binary("+"), False),
    # numpy's maximum/minimum propagate a NaN from either side
    "Maximum": (lambda a, t: f"({a[0]} != {a[0]} || {a[0]} > {a[1]}) ? {a[0]} : {a[1]}",
                False),
    "Minimum": (lambda a, t: f"({a[0]} != {a[0]} || {a[0]} < {a[1]}) ? {a[0]} : {a[1]}",
                False),
    "Neg": (lambda a, t: f"-{a[0]}", False),
    "Abs": (_call("fabs"), True),
    "Square": (lambda a, t: f"{a[0]} * {a[0]}", False),
    "SquaredDifference": (lambda a, t: f"({a[0]} - {a[1]}) * ({a[0]} - {a[1]})", False),
    "Sqrt": (_call("sqrt"), True), "Exp": (_call("exp"), True), "Log": (_call("log"), True),
    "Log1p": (_call("log1p"), True), "Expm1": (_call("expm1"), True),
    "Tanh": (_call("tanh"), True), "Sin": (_call("sin"), True), "Cos": (_call("cos"), True),
    "Erf": (_call("erf"), True),
    "Rsqrt": (lambda a, t: f"({t})1 / sqrt({a[0]})", True),
    "Reciprocal": (lambda a, t: f"({t})1 / {a[0]}", True),
    "Pow": (lambda a, t: f"pow({a[0]}, {a[1]})", True),
    # the CPU kernel's 0.5 * (1 + tanh(x / 2))
    "Sigmoid": (lambda a, t: f"(tanh({a[0]} * ({t})0.5) + ({t})1) * ({t})0.5", True),
    # maximum(x, 0): a NaN stays NaN
    "Relu": (lambda a, t: f"{a[0]} < 0 ? ({t})0 : {a[0]}", True),
    "ReluGrad": (lambda a, t: f"{a[0]} * ({t})({a[1]} > 0)", True),
    "Greater": (_binary(">"), False), "GreaterEqual": (_binary(">="), False),
    "Less": (_binary("<"), False), "LessEqual": (_binary("<="), False),
    "Equal": (_binary("=="), False), "NotEqual": (_binary("!="), False),
    "LogicalAnd": (_binary("&&"), False), "LogicalOr": (_binary("||"), False),
    "LogicalNot": (lambda a, t: f"!{a[0]}", False),
    "SelectV2": (lambda a, t: f"{a[0]} ? {a[1]} : {a[2]}", False),
    "Identity": (lambda a, t: a[0], False), "StopGradient": (lambda a, t: a[0], False),
    "PreventGradient": (lambda a, t: a[0], False), "Snapshot": (lambda a, t: a[0], False),
    "AddN": (lambda a, t: " + ".join(a), False),
    "ZerosLike": (lambda a, t: f"({t})0", False), "OnesLike": (lambda a, t: f"({t})1", False),
    "Cast": (lambda a, t: f"{a[0]} != 0" if t == "bool" else f"({t}){a[0]}", False),
}
_CHANNELS_FIRST = ("NCHW", "NCW", "NCDHW")


class FusedNode(Node):
    """A cluster of elementwise nodes run as one kernel (``opdef`` None: not an op)."""

    __slots__ = ("members", "source")

    def __init__(self, members: list[Node], args: list[Value], outs: list[Value], kernel,
                 source: str) -> None:
        super().__init__(members[-1].op, args, outs, kernel)
        self.type = "FusedElementwise"
        self.opdef = None
        self.members = members
        self.source = source
        for o in outs:
            o.producer = self


def fusible(node: Node) -> bool:
    rule = _EXPR.get(node.type)
    if rule is None or len(node.outs) != 1 or node.outs[0] is None:
        return False
    if node.type in placement.HOST_ONLY or "CPU" in node.op.device:
        return False            # runs on the host (no device kernel, or pinned there)
    out = node.outs[0]
    if out.shape is None or out.dtype is None or np.dtype(out.dtype) not in _CTYPE:
        return False
    if not node.args or not all(isinstance(a, Value) and a.dtype is not None and
                                np.dtype(a.dtype) in _CTYPE for a in node.args):
        return False
    if rule[1] and np.dtype(out.dtype) not in _FLOATS:
        return False
    if node.type == "BiasAdd" and node.op.attrs.get("data_format") in _CHANNELS_FIRST:
        return False
    if node.type == "Cast" and np.dtype(node.args[0].dtype) == np.dtype(np.bool_) and \
            np.dtype(out.dtype) == np.dtype(np.bool_):
        return False
    return True


def fuse_elementwise(prog: Program, env, specialized: bool) -> Program:
    """Replaces each cluster of fusible nodes by one ``FusedNode``."""
    if not specialized:
        return prog          # shapes are known (and guarded) only in specialized plans
    nodes = prog.nodes
    pos = {id(n): i for i, n in enumerate(nodes)}
    node_of_op = {n.op: n for n in nodes}
    users: dict[int, list[int]] = {}     # node -> positions of nodes using it
    for i, n in enumerate(nodes):
        for a in n.args:
            if isinstance(a, Value) and a.producer is not None:
                users.setdefault(id(a.producer), []).append(i)
        for c in n.op.control_inputs:
            p = node_of_op.get(c)
            if p is not None and p is not n:
                users.setdefault(id(p), []).append(i)
    pinned = prog.pinned
    cluster_of: dict[int, list[Node]] = {}
    for i, n in enumerate(nodes):
        if n.op in pinned or not fusible(n):
            continue
        shape = n.outs[0].shape
        cands = []
        for a in n.args:
            c = cluster_of.get(id(a.producer)) if a.producer is not None else None
            if c is not None and c[0].outs[0].shape == shape and \
                    all(c is not d for d in cands):
                cands.append(c)
        merged = None
        for c in sorted(cands, key=len, reverse=True):
            trial = (merged or []) + c
            members = {id(m) for m in trial} | {id(n)}
            if all(u >= i or id(nodes[u]) in members
                   for m in trial for u in users.get(id(m), ())):
                merged = trial
        cluster = sorted((merged or []) + [n], key=lambda m: pos[id(m)])
        for m in cluster:
            cluster_of[id(m)] = cluster
    # a single op gets its generated kernel too: one launch where its CuPy form may take
    # several (ReluGrad's compare and multiply, Sigmoid's three steps)
    clusters = {id(c): c for c in cluster_of.values()}
    if not clusters:
        return prog
    fetched = {id(v) for v in prog.fetches}
    replace: dict[int, FusedNode | None] = {}
    for c in clusters.values():
        fused = _fuse(c, users, nodes, fetched, env)
        if fused is None:
            continue
        for m in c:
            replace[id(m)] = None
        replace[id(c[-1])] = fused
    if replace:
        prog.nodes = [replace.get(id(n), n) for n in nodes if replace.get(id(n), n) is not None]
    return prog


def _fuse(cluster: list[Node], users: dict, nodes: list[Node], fetched: set,
          env) -> FusedNode | None:
    members = {id(m) for m in cluster}
    produced = {id(m.outs[0]) for m in cluster}
    inputs: list[Value] = []
    seen_in: set = set()
    for m in cluster:
        for a in m.args:
            if id(a) in produced or id(a) in seen_in or _literal(a) is not None:
                continue
            seen_in.add(id(a))
            inputs.append(a)
    if not inputs:
        return None             # nothing to give the kernel its shape
    outs = [m.outs[0] for m in cluster
            if id(m.outs[0]) in fetched or
            any(id(nodes[u]) not in members for u in users.get(id(m), ()))]
    if not outs:
        return None
    params, body = cuda_source(cluster, inputs, outs)
    source = params[0] + " -> " + params[1] + "\n" + body
    if env.platform == "cuda":
        from flowgrad.runtime import cuda  # noqa: PLC0415 - imports CuPy
        name = "fg_fused_" + hashlib.sha1(source.encode()).hexdigest()[:12]
        kernel = cuda.elementwise_kernel(params[0], params[1], body, name, len(outs))
    else:
        kernel = _sequential(cluster, inputs, outs, env)
    return FusedNode(cluster, inputs, outs, kernel, source)


def _literal(v: Value) -> str | None:
    """A finite scalar constant as a C literal of its dtype, else None."""
    if not v.is_const or np.ndim(v.const) != 0:
        return None
    dt = np.dtype(v.dtype)
    x = v.const.item()          # a numpy or (folded on the device) a CuPy scalar
    if dt == np.bool_:
        return "true" if x else "false"
    if dt in _FLOATS:
        if not np.isfinite(x):
            return None
        return f"(({_CTYPE[dt]}){float(x)!r})"
    if dt in _CTYPE:
        return f"(({_CTYPE[dt]}){int(x)})"
    return None


def cuda_source(cluster: list[Node], inputs: list[Value], outs: list[Value]
                ) -> tuple[tuple[str, str], str]:
    """``((in_params, out_params), body)`` of the CuPy ``ElementwiseKernel`` for a cluster:
    inputs ``i0..``, outputs ``o0..``, each member's value a local ``v0..`` of its C type."""
    names: dict[int, str] = {}
    for j, v in enumerate(inputs):
        names[id(v)] = f"i{j}"
    lines = []
    for k, m in enumerate(cluster):
        out = m.outs[0]
        ct = _CTYPE[np.dtype(out.dtype)]
        args = [names[id(a)] if id(a) in names else _literal(a) for a in m.args]
        expr = _EXPR[m.type][0](args, ct)
        nm = f"v{k}"
        names[id(out)] = nm
        lines.append(f"{ct} {nm} = {expr};")
    for j, o in enumerate(outs):
        lines.append(f"o{j} = {names[id(o)]};")
    in_params = ", ".join(f"{np.dtype(v.dtype).name} i{j}" for j, v in enumerate(inputs))
    out_params = ", ".join(f"{np.dtype(o.dtype).name} o{j}" for j, o in enumerate(outs))
    return (in_params, out_params), "\n".join(lines)


def _sequential(cluster: list[Node], inputs: list[Value], outs: list[Value], env):
    """The cluster as its members' own kernels in order (the simulated device)."""
    in_ids = [id(v) for v in inputs]
    steps = []
    for m in cluster:
        steps.append((m.kernel, [(id(a), env.backend.asarray(a.const)
                                  if a.is_const and id(a) not in in_ids else None)
                                 for a in m.args], id(m.outs[0])))
    out_ids = [id(o) for o in outs]

    def run(*args):
        env = dict(zip(in_ids, args))
        for kernel, spec, out in steps:
            env[out] = kernel(*[env[i] if c is None else c for i, c in spec])
        res = tuple(env[o] for o in out_ids)
        return res if len(res) > 1 else res[0]
    return run


# ----- one kernel for every in-place SGD update of a step ------------------------------------
def multi_sgd(entries: list[tuple[int, np.dtype, float | None]], env):
    """The end-of-plan update of several variables as one call.

    ``entries``: per variable, its element count, dtype and learning rate when that is a
    compile-time constant (else the call passes it as a 0-d array after the variable's
    gradient).  The returned callable takes ``w0, d0[, lr0], w1, d1[, lr1], ...`` and does
    ``w -= d * lr`` for each, with the CPU's roundings (the product is rounded before the
    subtraction).  On CUDA that is one generated kernel launch for all of them.
    """
    if env.platform == "cuda":
        from flowgrad.runtime import cuda  # noqa: PLC0415 - imports CuPy
        return cuda.multi_sgd_kernel(entries)
    xp = env.xp
    consts = [None if lr is None else env.backend.asarray(np.asarray(lr, dt))
              for _, dt, lr in entries]

    def run(*args):
        k = 0
        for c in consts:
            w, d = args[k], args[k + 1]
            k += 2
            lr = c
            if lr is None:
                lr = args[k]
                k += 1
            xp.subtract(w, d * lr, out=w)
    return run
