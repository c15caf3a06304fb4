"""Traced runs: ``RunOptions(trace_level=FULL_TRACE)`` fills ``RunMetadata.step_stats``.

A traced run executes the plan's optimized program one node at a time (the same kernels
the generated code calls, without in-place tricks) and records, per op, its start and
duration in microseconds and its output shapes, in TF1's ``StepStats`` layout:
``step_stats.dev_stats[0].node_stats[i].node_name / timeline_label / all_start_micros /
op_start_rel_micros / op_end_rel_micros / all_end_rel_micros / output``.  Failures roll
back like any run.
"""

from __future__ import annotations

import time

from flowgrad.compiler.codegen import multi_output
from flowgrad.compiler.ir import Ref
from flowgrad.framework import errors

DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"


class AllocationDescription:
    def __init__(self, requested_bytes: int) -> None:
        self.requested_bytes = requested_bytes


class NodeOutput:
    def __init__(self, slot: int, shape, dtype, nbytes: int) -> None:
        self.slot, self.shape, self.dtype = slot, shape, dtype
        self.tensor_description = self
        self.allocation_description = AllocationDescription(nbytes)


class NodeExecStats:
    """One op's timing (microseconds since the epoch / relative to its start)."""

    def __init__(self, node_name: str, op_type: str, start_us: int, dur_us: int,
                 outputs: list, inputs: list[str]) -> None:
        self.node_name = node_name
        self.op_type = op_type
        self.all_start_micros = start_us
        self.op_start_rel_micros = 0
        self.op_end_rel_micros = dur_us
        self.all_end_rel_micros = dur_us
        self.output = outputs
        self.inputs = inputs
        shapes = ", ".join(str(list(o.shape)) if o.shape is not None else "?" for o in outputs)
        self.timeline_label = f"{node_name} = {op_type}({', '.join(inputs)})"
        self.output_shapes = shapes

    def __repr__(self) -> str:
        return f"<NodeExecStats {self.node_name} {self.op_end_rel_micros}us>"


class DeviceStepStats:
    def __init__(self, device: str) -> None:
        self.device = device
        self.node_stats: list[NodeExecStats] = []


class StepStats:
    """TF1's ``StepStats``: one ``DeviceStepStats`` per device."""

    def __init__(self) -> None:
        self.dev_stats: list[DeviceStepStats] = []


def traced_run(session, plan, feed_values, run_metadata):
    """Runs ``plan`` op by op, timing each; returns the fetched values."""
    prog = plan.program
    if plan.specialized is not None and \
            [tuple(getattr(v, "shape", ())) for v in feed_values] == plan.specialized[0]:
        prog = plan.specialized[1]
    env = {id(v): x for v, x in zip(prog.feeds, feed_values)}
    backend = session._backend
    dev = DeviceStepStats(DEVICE if backend.name == "cpu" else
                          "/job:localhost/replica:0/task:0" + backend.device_name)
    sync = backend.synchronize      # device kernels run asynchronously: time each to its end
    clock = time.perf_counter
    epoch0 = time.time() - clock()
    session._undo = {}
    on_device = backend.platform != "cpu"

    place = session._env.place_const

    def const(node, j, v):
        return place(v.const, node.type, j) if on_device else v.const
    try:
        for node in prog.nodes:
            args = [a.ref if isinstance(a, Ref) else const(node, j, a) if a.is_const else
                    env[id(a)] for j, a in enumerate(node.args)]
            t0 = clock()
            try:
                res = node.kernel(*args)
            except errors.OpError as e:
                if e.op is None:
                    e.op = node.op
                raise
            except Exception as e:
                raise _kernel_error(node.op, e, args) from e
            sync()
            t1 = clock()
            res = list(res) if multi_output(node) else [res]
            outs = []
            for slot, (o, r) in enumerate(zip(node.outs, res)):
                if o is not None:
                    env[id(o)] = r
                shp = getattr(r, "shape", None)
                outs.append(NodeOutput(slot, shp, getattr(r, "dtype", None),
                                       int(getattr(r, "nbytes", 0))))
            ins = [a.op.name if isinstance(a, Ref) else
                   (a.tensor.name if a.tensor is not None else "?") for a in node.args]
            dev.node_stats.append(NodeExecStats(
                node.op.name, node.type, int((epoch0 + t0) * 1e6), max(0, round((t1 - t0) * 1e6)),
                outs, ins))
    except BaseException:
        session._rollback()
        raise
    finally:
        session._undo = None
    stats = StepStats()
    stats.dev_stats.append(dev)
    run_metadata.step_stats = stats
    return tuple(v.const if v.is_const else env[id(v)] for v in prog.fetches)


def _kernel_error(op, e: Exception, args) -> errors.OpError:
    shapes = ", ".join(f"{tuple(a.shape)} {a.dtype}" for a in args if hasattr(a, "shape"))
    detail = f"; input shapes: {shapes}" if shapes else ""
    cls = errors.ResourceExhaustedError if isinstance(e, MemoryError) else \
        errors.InvalidArgumentError
    return cls(None, op, f"{op.type} '{op.name}'{op._where()} failed: {type(e).__name__}: "
               f"{e}{detail}")
