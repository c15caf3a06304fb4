"""The compiler's program: the pruned plan as a list of nodes over values.

A ``Value`` is one tensor's value during a run (a feed, a compile-time constant, or the
output of a node); a ``Node`` is one op with its bound kernel.  Passes rewrite the node
list and substitute values; code generation turns it into the plan's Python function.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from flowgrad.framework.graph import Operation, Tensor

NOCONST = object()


class Value:
    """One tensor's value in a run."""

    __slots__ = ("tensor", "const", "shape", "dtype", "producer", "fresh", "safe", "feed")

    def __init__(self, tensor: Tensor | None, producer: "Node | None" = None) -> None:
        self.tensor = tensor
        self.const = NOCONST
        self.producer = producer
        self.dtype = tensor.dtype.np if tensor is not None else None
        shp = tensor.shape if tensor is not None else None
        # a fully defined static shape holds at run time (the op harness checks it)
        self.shape = tuple(shp.as_list()) if shp is not None and shp.is_fully_defined() \
            else None
        self.fresh = False      # a new array that only this run holds
        self.safe = True        # no consumer keeps a view of it
        self.feed = False

    @property
    def is_const(self) -> bool:
        return self.const is not NOCONST

    def __repr__(self) -> str:
        return f"<Value {self.tensor.name if self.tensor is not None else '?'} {self.shape}>"


class Ref:
    """A variable passed by reference (``ref_inputs``): the session's ``VarRef``."""

    __slots__ = ("ref", "op")

    def __init__(self, ref, op: Operation) -> None:
        self.ref, self.op = ref, op


class Node:
    """One op of the plan with its bound kernel."""

    __slots__ = ("op", "type", "args", "outs", "kernel", "opdef")

    def __init__(self, op: Operation, args: list, outs: list, kernel: Callable) -> None:
        self.op, self.type, self.args, self.outs, self.kernel = op, op.type, args, outs, kernel
        self.opdef = op._opdef

    @property
    def values(self) -> list[Value]:
        return [a for a in self.args if isinstance(a, Value)]

    @property
    def pure(self) -> bool:
        d = self.opdef
        return d is not None and d.kernel is not None and not d.stateful and \
            not d.needs_ctx and not d.ref_inputs

    def __repr__(self) -> str:
        return f"<Node {self.type} '{self.op.name}'>"


class Program:
    """Nodes in execution order, the fed values and the fetched values."""

    def __init__(self, nodes: list[Node], feeds: list[Value], fetches: list[Value],
                 pinned: set) -> None:
        self.nodes, self.feeds, self.fetches = nodes, feeds, fetches
        self.pinned = pinned    # ops that must run even if no value of theirs is needed


def build(ops: list[Operation], fetch_tensors: list[Tensor], feed_tensors: list[Tensor],
          target_ops: list[Operation], bind: Callable[[Operation], Callable],
          ref_of: Callable) -> Program:
    values: dict[Tensor, Value] = {}
    feeds = []
    for t in feed_tensors:
        v = Value(t)
        v.feed = True
        values[t] = v
        feeds.append(v)
    nodes = []
    for o in ops:
        refs = o._opdef.ref_inputs if o._opdef is not None else ()
        args: list = []
        for i, t in enumerate(o.inputs):
            if i not in refs and t.op.type == "VariableV2" and not (t in values
                                                                    and values[t].feed):
                # TF1 ref semantics: a variable is read right where it is used, so a read
                # that waits (control dependencies) for an assignment sees the new value
                read = Node(t.op, [], [], bind(t.op))
                v = Value(t, read)
                read.outs.append(v)
                nodes.append(read)
                values[t] = v
            args.append(Ref(ref_of(t), t.op) if i in refs else values[t])
        node = Node(o, args, [], bind(o))
        for t in o.outputs:
            if t in values:         # fed: the op runs for its other outputs only
                node.outs.append(None)
                continue
            v = values[t] = Value(t, node)
            node.outs.append(v)
        nodes.append(node)
    fetches = []
    for t in fetch_tensors:
        if t not in values:
            raise ValueError(f"Fetch {t.name} is not computed by this plan.")
        fetches.append(values[t])
    pinned = set(target_ops)
    for o in ops:
        pinned.update(o.control_inputs)
    return Program(nodes, feeds, fetches, pinned)


def freeze(value):
    """A compile-time constant: read-only, so no kernel or reuse can write into it."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.view()
        value.setflags(write=False)
    return value
