"""Compiling the part of a graph that a run needs into a flat, replayable plan.

``compile_plan`` prunes the graph to the ops the fetches and targets need (a fed tensor
cuts the graph: its producer does not run for it), orders them topologically, binds each
op to its kernel with attributes pre-bound, hands the program to the compiler's passes
(``flowgrad.compiler``) and generates one Python function whose body is one line per op::

    def plan(f0, f1):
        t3 = xp_matmul(f0, t1)      # MatMul 'dense/MatMul', inlined
        t4 = k4(t3, a2)             # an op called through its kernel
        ...
        return (t7,)

Replaying a plan is then a single call with no graph walk, no dict lookups and local
variables as slots.  When a kernel raises, the failing line of the generated code names
the op, and the frame's locals give its input shapes for the error message.

With shape specialization on, the first run executes a recording variant that notes every
value's shape; the plan then compiles a second variant for exactly the fed shapes (its
first line checks them and falls back to the generic function otherwise).
"""

from __future__ import annotations

import functools
import itertools
from typing import Callable

import numpy as np

import flowgrad.compiler as _compiler
from flowgrad.compiler import codegen, fusion, ir, passes, patterns
from flowgrad.compiler.flags import CompilerOptions
from flowgrad.framework import errors
from flowgrad.framework.graph import Operation, Tensor

_counter = itertools.count()


class Plan:
    """A compiled run: ``fn(*feed_values) -> tuple(fetch values)``."""

    __slots__ = ("fn", "feeds", "fetches", "targets", "ops", "line_ops", "filename",
                 "alias_out", "source", "namespace", "program", "codes", "generic",
                 "specialized_source", "specialized", "options", "_recorded", "replayable",
                 "replays", "__weakref__")

    def __init__(self) -> None:
        self.line_ops: dict[int, Operation] = {}
        self.alias_out: tuple[bool, ...] = ()
        self.codes: dict[str, tuple[str, dict]] = {}
        self.specialized_source: str | None = None
        self.specialized = None     # (guarded feed shapes, program) once specialized
        self._recorded: dict = {}
        self.replayable = False     # the specialized plan may be captured as a device graph
        self.replays: dict = {}     # feed shapes -> the captured graph (False: not capturable)


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
                # variables are read where they are used (ir.build), not as an earlier step
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
                 ref_of: Callable[[Tensor], object], options: CompilerOptions | None = None,
                 env: codegen.Env | None = None) -> Plan:
    """Builds the plan; ``bind(op)`` gives an op's kernel with xp/attrs/ctx bound."""
    session = getattr(bind, "__self__", None)
    if options is None:
        # a sub-plan (a branch or loop body) of a session's run: the session's passes, but
        # no in-place updates, since the session's run may still fail after the sub-plan
        opts = getattr(session, "_options", None) or _compiler.options
        opts = opts.copy(inplace_updates=False)
    else:
        opts = options
    if env is None:
        env = getattr(session, "_env", None)
    if env is None:     # no session's store to read from: variables through their kernels
        env = codegen.Env(np, None, None, None)
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
    kernels: dict[Operation, Callable] = {}

    def bind_cached(o: Operation) -> Callable:
        k = kernels.get(o)
        if k is None:
            k = kernels[o] = bind(o)
        return k

    plan = Plan()
    plan.feeds = list(feed_tensors)
    plan.fetches = list(fetch_tensors)
    plan.targets = list(target_ops)
    plan.ops = ops
    plan.options = opts

    def program(shapes=None) -> ir.Program:
        prog = ir.build(ops, fetch_tensors, feed_tensors, target_ops, bind_cached, ref_of)
        if opts.fold or opts.cse or opts.simplify or shapes is not None:
            prog = passes.optimize(prog, opts, shapes, env.fold_call)
        if opts.fuse_conv_bias and shapes is not None and env.platform == "cpu" and \
                env.xp is np:
            # specialized plans only: the recording run keeps every op's own output
            prog = patterns.fuse_conv_bias(prog)
        if opts.fuse_elementwise and env.platform != "cpu":
            prog = fusion.fuse_elementwise(prog, env, shapes is not None)
        return prog

    def emit(prog, specialized, guard=None, fallback=None, record=None):
        filename = f"<flowgrad-plan-{next(_counter)}>"
        source, ns, line_ops, alias = codegen.generate(
            prog, opts, env, filename, specialized,
            lambda n: n.kernel if n.opdef is None else bind_cached(n.op), guard,
            fallback, record)
        exec(compile(source, filename, "exec"), ns)  # noqa: S102 - generated from the graph
        plan.codes[filename] = (source, line_ops)
        plan.alias_out = alias if not plan.alias_out else \
            tuple(a or b for a, b in zip(plan.alias_out, alias))
        return ns["plan"], source, ns, line_ops, filename

    plan.program = program()
    generic, plan.source, plan.namespace, plan.line_ops, plan.filename = emit(plan.program,
                                                                               False)
    plan.generic = generic
    plan.fn = generic
    if opts.specialize and ops:
        rec = plan._recorded
        recorder, *_ = emit(program(), False,
                            record=lambda t, v: rec.__setitem__(t, getattr(v, "shape", None)))

        array_type = env.array_type

        def first_run(*feed_values):
            out = recorder(*feed_values)
            if all(type(v) is array_type for v in feed_values):
                _specialize(plan, program, emit, feed_values)
            else:           # only arrays' shapes can be guarded
                plan.fn = generic
                plan._recorded = {}
            return out
        plan.fn = first_run
    return plan


def _specialize(plan: Plan, program, emit, feed_values) -> None:
    if not all(hasattr(v, "shape") for v in feed_values):
        plan.fn = plan.generic          # non-array feeds (loop histories): stay generic
        plan._recorded = {}
        return
    shapes = {t: tuple(s) for t, s in plan._recorded.items() if s is not None}
    guard = []
    for i, (t, v) in enumerate(zip(plan.feeds, feed_values)):
        shapes[t] = tuple(v.shape)
        guard.append((i, tuple(v.shape)))
    prog = program(shapes)       # the fed shapes are guarded, so they are known
    fn, source, ns, *_ = emit(prog, True, guard=guard, fallback=plan.generic)
    plan.replayable = ns.get("_replayable", False)
    plan.specialized_source = source
    plan.specialized = ([s for _, s in guard], prog)
    plan.fn = fn
    plan._recorded = {}


def failing_op(plan: Plan, tb) -> tuple[Operation | None, dict, str]:
    """The op whose line in ``plan``'s generated code raised, that frame's locals, the line."""
    while tb is not None:
        code = plan.codes.get(tb.tb_frame.f_code.co_filename)
        if code is not None:
            source, line_ops = code
            lines = source.splitlines()
            ln = tb.tb_lineno
            return line_ops.get(ln), tb.tb_frame.f_locals, \
                lines[ln - 1] if 0 < ln <= len(lines) else ""
        tb = tb.tb_next
    return None, {}, ""


def partial_kernel(kernel: Callable, xp, attrs: dict) -> Callable:
    return functools.partial(kernel, xp, **attrs) if attrs else functools.partial(kernel, xp)
