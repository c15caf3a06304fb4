"""Compiling the part of a graph that a run needs into a flat, replayable plan.

``compile_plan`` prunes the graph to the ops the fetches and targets need (a fed tensor
cuts the graph: its producer does not run for it), orders them topologically, binds each
op to its kernel with attributes pre-bound, and generates one Python function whose body
is one line per op::

    def plan(f0):
        t3 = k3(f0, t1)      # MatMul 'dense/MatMul'
        ...
        return (t7,)

Replaying a plan is then a single call with no graph walk, no dict lookups and local
variables as slots.  When a kernel raises, the failing line of the generated code names
the op, and the frame's locals give its input shapes for the error message.
"""

from __future__ import annotations

import functools
import itertools
from typing import Callable

from flowgrad.framework import errors
from flowgrad.framework.graph import Operation, Tensor

_counter = itertools.count()


class Plan:
    """A compiled run: ``fn(*feed_values) -> tuple(fetch values)``."""

    __slots__ = ("fn", "feeds", "fetches", "targets", "ops", "line_ops", "filename",
                 "alias_out", "source", "namespace")

    def __init__(self) -> None:
        self.line_ops: dict[int, Operation] = {}
        self.alias_out: tuple[bool, ...] = ()


def prune(fetch_tensors, target_ops, fed: set) -> list[Operation]:
    """Ops needed to compute ``fetch_tensors`` and run ``target_ops``, in execution order."""
    order: list[Operation] = []
    state: dict[Operation, int] = {}     # 1 = on stack, 2 = done
    roots = [t.op for t in fetch_tensors if t not in fed] + list(target_ops)
    for root in roots:
        if state.get(root) == 2:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if state.get(node) != 2:
                    state[node] = 2
                    order.append(node)
                continue
            st = state.get(node)
            if st == 2:
                continue
            if st == 1:
                raise ValueError(f"Graph contains a cycle through operation '{node.name}'.")
            state[node] = 1
            stack.append((node, True))
            deps = []
            refs = node._opdef.ref_inputs if node._opdef is not None else ()
            for i, t in enumerate(node.inputs):
                if t in fed or i in refs or t.op.type == "VariableV2":
                    continue
                deps.append(t.op)
            deps.extend(node.control_inputs)
            for d in reversed(deps):
                if state.get(d) != 2:
                    if state.get(d) == 1:
                        raise ValueError(f"Graph contains a cycle through operation '{d.name}'.")
                    stack.append((d, False))
    return order


def compile_plan(fetch_tensors: list[Tensor], target_ops: list[Operation],
                 feed_tensors: list[Tensor], bind: Callable[[Operation], Callable],
                 ref_of: Callable[[Tensor], object]) -> Plan:
    """Builds the plan; ``bind(op)`` gives an op's kernel with xp/attrs/ctx bound."""
    fed = set(feed_tensors)
    ops = prune(fetch_tensors, target_ops, fed)
    for o in ops:
        if o.type == "Placeholder":
            shape = o.outputs[0].shape
            dims = "unknown rank" if shape.ndims is None else \
                "[" + ",".join("?" if d is None else str(d) for d in shape.as_tuple()) + "]"
            raise errors.InvalidArgumentError(
                None, o, f"You must feed a value for placeholder tensor '{o.name}' with dtype "
                f"{o.outputs[0].dtype.name} and shape {dims}{o._where()}")

    names: dict[Tensor, str] = {}
    for i, t in enumerate(feed_tensors):
        names[t] = f"f{i}"
    # last use of every produced tensor, to free it as soon as the plan is done with it
    keep = set(fetch_tensors)
    last_use: dict[Tensor, int] = {}
    for idx, o in enumerate(ops):
        refs = o._opdef.ref_inputs if o._opdef is not None else ()
        for i, t in enumerate(o.inputs):
            if i not in refs and t.op.type != "VariableV2":
                last_use[t] = idx

    ns: dict[str, object] = {}
    lines = [f"def plan({', '.join(names[t] for t in feed_tensors)}):"]
    plan = Plan()
    filename = f"<flowgrad-plan-{next(_counter)}>"
    tmp = itertools.count()
    frees: dict[int, list[str]] = {}
    for idx, o in enumerate(ops):
        k = f"k{idx}"
        ns[k] = bind(o)
        refs = o._opdef.ref_inputs if o._opdef is not None else ()
        args = []
        for i, t in enumerate(o.inputs):
            if i in refs or (t.op.type == "VariableV2" and t not in names):
                # variables are read where they are used (TF1 ref semantics): a read that
                # runs after an assignment it depends on sees the new value
                r = f"r{next(tmp)}"
                ns[r] = ref_of(t)
                args.append(r if i in refs else f"{r}.get()")
            else:
                args.append(names[t])
        outs = []
        for t in o.outputs:
            if t in fed or (t not in last_use and t not in keep):
                outs.append("_")
            else:
                nm = f"t{next(tmp)}"
                names[t] = nm
                outs.append(nm)
                if t not in keep:
                    frees.setdefault(last_use[t], []).append(nm)
        call = f"{k}({', '.join(args)})"
        if not o.outputs:
            line = call
        elif not o._multi:
            line = f"{outs[0]} = {call}" if outs[0] != "_" else call
        else:
            line = f"{', '.join(outs)}, = {call}"
        lines.append("    " + line)
        plan.line_ops[len(lines)] = o
        dead = frees.get(idx)
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    for t in fetch_tensors:
        if t not in names:
            raise ValueError(f"Fetch {t.name} is not computed by this plan.")
    lines.append(f"    return ({''.join(names[t] + ', ' for t in fetch_tensors)})")
    source = "\n".join(lines) + "\n"
    code = compile(source, filename, "exec")
    exec(code, ns)  # noqa: S102 - generated from the graph, not from user strings
    plan.fn = ns["plan"]
    plan.feeds = list(feed_tensors)
    plan.fetches = list(fetch_tensors)
    plan.targets = list(target_ops)
    plan.ops = ops
    plan.filename = filename
    plan.source = source
    plan.namespace = ns
    plan.alias_out = tuple(t in fed or t.op._opdef is None or t.op._opdef.may_alias
                           for t in fetch_tensors)
    return plan


def failing_op(plan: Plan, tb) -> tuple[Operation | None, dict]:
    """The op whose line in ``plan``'s generated code raised, and that frame's locals."""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == plan.filename:
            return plan.line_ops.get(tb.tb_lineno), tb.tb_frame.f_locals
        tb = tb.tb_next
    return None, {}


def partial_kernel(kernel: Callable, xp, attrs: dict) -> Callable:
    return functools.partial(kernel, xp, **attrs) if attrs else functools.partial(kernel, xp)
