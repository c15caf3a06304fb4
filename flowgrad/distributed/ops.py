"""Collectives as graph ops: allreduce, allgather, broadcast (with gradients), rank/size.

The ops are stateful (never folded or merged), run on the host (MPI moves host memory; on
a GPU session the placer copies their inputs and outputs), and variadic where fusion pays: one
``MPIAllreduce`` node takes many tensors, packs them into one buffer per dtype, reduces it
with one ``Allreduce`` and unpacks.  Graphs are rank-agnostic: nothing about the job is
baked in at build time, so a graph can be built before :func:`init`; the kernels ask for the
communicator when they run.

The first time a collective runs in a session, every rank checks that all ranks run the
same collective on tensors of the same shapes and dtypes (one small allgather of a
signature), so a mismatch between the ranks' graphs is a clear error, not a hang or a
silent mix of unrelated numbers.

Gradients follow Horovod: allreduce's gradient is the same allreduce of ``dy``;
allgather's is this rank's slice of the summed ``dy``; broadcast's is the sum of ``dy`` on
the root and zero elsewhere.
"""

from __future__ import annotations

import itertools

import numpy as np

from flowgrad.distributed import _context, collectives
from flowgrad.distributed.collectives import AVERAGE, SUM
from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.runtime.placement import register_host_only

_SIG_KEY = "flowgrad.distributed.signature"
_REQ_KEY = "flowgrad.distributed.requests"
_POOL_KEY = "flowgrad.distributed.buffers"
_REDUCE_OPS = (AVERAGE, SUM)
_COMPRESSIONS = ("none", "fp16")


# ----- shape rules -------------------------------------------------------------------------
def _numeric(node: NodeSpec) -> None:
    for t in node.inputs:
        dt = t.dtype
        if dt == _dt.string or (node.type != "MPIBroadcast" and dt == _dt.bool_):
            node.fail(f"cannot {node.type[3:].lower()} a tensor of dtype {dt.name} "
                      f"('{t.name}'); cast it to a numeric dtype first", TypeError)


def _each_input(node: NodeSpec):
    if not node.inputs:
        node.fail("needs at least one tensor")
    _numeric(node)
    if node.attrs.get("reduce_op", AVERAGE) not in _REDUCE_OPS:
        node.fail(f"op must be Average or Sum, got {node.attrs['reduce_op']!r}")
    if node.attrs.get("compression", "none") not in _COMPRESSIONS:
        node.fail(f"compression must be 'none' or 'fp16', got {node.attrs['compression']!r}")
    return [(t.shape, t.dtype) for t in node.inputs]


def _allgather_shape(node: NodeSpec):
    _numeric(node)
    x = node.inputs[0]
    if x.shape.ndims == 0:
        node.fail("allgather concatenates along the first axis: give it a tensor of rank >= 1 "
                  "(e.g. tf.reshape(x, [1]))")
    if x.shape.ndims is None:
        return TensorShape(None), x.dtype
    return TensorShape([None] + x.shape.as_list()[1:]), x.dtype


def _wait_shape(node: NodeSpec):
    start = node.inputs[0].op
    if start.type != "MPIIallreduceStart":
        node.fail("its input must be the handle of an MPIIallreduceStart op")
    return [(t.shape, t.dtype) for t in start.inputs]


# ----- kernels -----------------------------------------------------------------------------
def buffer_pool(ctx) -> dict:
    """This op's packing buffers in this session (kept from run to run)."""
    return ctx.resources.setdefault((_POOL_KEY, ctx.op), {})


def check_signature(ctx, w, arrays, attrs: tuple, names=()) -> None:
    """On a collective's first run in a session: all ranks must run the same collective."""
    if w.size == 1:
        return
    key = (_SIG_KEY, ctx.op)
    if key in ctx.resources:
        return
    ctx.resources[key] = True
    labels = tuple(names) or tuple(t.name for t in ctx.op.inputs)
    mine = (ctx.op.type, attrs, tuple((tuple(a.shape), a.dtype.str) for a in arrays))
    sigs = w.comm.allgather((mine, labels))
    first = sigs[0][0]
    for r, (sig, lab) in enumerate(sigs):
        if sig != first:
            raise ValueError(_mismatch(ctx.op.name, sigs[0], 0, (sig, lab), r))


def _mismatch(op_name: str, a, ra: int, b, rb: int) -> str:
    (ta, attrs_a, ts_a), la = a
    (tb, attrs_b, ts_b), lb = b
    head = (f"flowgrad.distributed: the ranks' graphs differ at the collective '{op_name}': ")
    tail = (". Every rank must build the same model (same variables, shapes and dtypes, "
            "created in the same order) and run the same collectives in the same order")
    if ta != tb or attrs_a != attrs_b:
        return (head + f"rank {ra} runs {ta} {attrs_a} while rank {rb} runs {tb} {attrs_b}"
                + tail)
    if len(ts_a) != len(ts_b):
        extra = la[len(lb):] if len(la) > len(lb) else lb[len(la):]
        return (head + f"rank {ra} reduces {len(ts_a)} tensors, rank {rb} reduces "
                f"{len(ts_b)} (unmatched: {', '.join(extra[:5])})" + tail)
    for i, (sa, sb) in enumerate(zip(ts_a, ts_b)):
        if sa != sb:
            return (head + f"tensor {i} ('{la[i]}') is {np.dtype(sa[1]).name} {sa[0]} on "
                    f"rank {ra} but {np.dtype(sb[1]).name} {sb[0]} on rank {rb} ('{lb[i]}')"
                    + tail)
    return head + "the signatures differ" + tail


@op("MPIAllreduce", shape=_each_input, stateful=True, may_alias=True,
    name="DistributedAllreduce")
def _allreduce(xp, *tensors, ctx, reduce_op=AVERAGE, compression="none", names=()):
    """Sums or averages each tensor over all ranks: fused into one buffer per dtype."""
    w = _context.world()
    arrays = list(tensors)
    check_signature(ctx, w, arrays, (reduce_op, compression), names)
    return collectives.allreduce(w, arrays, reduce_op, compression == "fp16",
                                 pool=buffer_pool(ctx))


@_allreduce.grad
def _allreduce_grad(op, *dys):
    a = op.attrs
    return grouped_allreduce(list(dys), op=a["reduce_op"], names=a["names"])


@op("MPIBroadcast", shape=_each_input, stateful=True, may_alias=True,
    name="DistributedBroadcast")
def _broadcast(xp, *tensors, ctx, root_rank=0, names=()):
    """Every rank receives ``root_rank``'s tensors (fused into one buffer per dtype)."""
    w = _context.world()
    if not 0 <= root_rank < w.size:
        raise ValueError(f"broadcast: root_rank {root_rank} is not a rank of this job "
                         f"(size {w.size})")
    arrays = list(tensors)
    check_signature(ctx, w, arrays, (root_rank,), names)
    return collectives.broadcast(w, arrays, root_rank)      # runs rarely: no pool


@_broadcast.grad
def _broadcast_grad(op, *dys):
    root = op.attrs["root_rank"]
    summed = grouped_allreduce(list(dys), op=SUM, names=op.attrs["names"])
    on_root = M.equal(rank_op(), root)
    return [s * M.cast(on_root, s.dtype) for s in summed]


@op("MPIAllgather", shape=_allgather_shape, stateful=True, name="DistributedAllgather")
def _allgather(xp, x, *, ctx):
    """Concatenates every rank's ``x`` along axis 0 (first dimensions may differ)."""
    w = _context.world()
    arr = x
    if arr.ndim == 0:
        raise ValueError("allgather needs a tensor of rank >= 1 (it concatenates along the "
                         "first axis); reshape the scalar to [1]")
    if w.size == 1:
        return xp.array(x, copy=True)
    check_signature(ctx, w, [np.empty((0,) + arr.shape[1:], arr.dtype)], ())
    return collectives.allgather(w, arr)


@_allgather.grad
def _allgather_grad(op, dy):
    x = op.inputs[0]
    summed = grouped_allreduce([dy], op=SUM)[0]
    rows = A.reshape(A.shape(x)[0], [1])
    sizes = allgather(rows)
    offset = A.gather(R.cumsum(sizes, exclusive=True), rank_op())
    return [A.gather(summed, A.range(offset, offset + rows[0]))]


def _handle_shape(node: NodeSpec):
    _each_input(node)
    return TensorShape(()), _dt.int64


@op("MPIIallreduceStart", shape=_handle_shape, stateful=True, name="DistributedIallreduceStart")
def _iallreduce_start(xp, *tensors, ctx, reduce_op=AVERAGE, compression="none", names=()):
    """Starts a non-blocking fused allreduce; returns a handle for MPIIallreduceWait."""
    w = _context.world()
    arrays = list(tensors)
    check_signature(ctx, w, arrays, (reduce_op, compression), names)
    pending = ctx.resources.setdefault(_REQ_KEY, {})
    counter = ctx.resources.setdefault(_REQ_KEY + ".ids", itertools.count())
    key = next(counter)
    if w.size == 1 and compression == "none":
        pending[key] = arrays
    else:
        pending[key] = collectives.iallreduce_start(w, arrays, compression == "fp16",
                                                    reduce_op, pool=buffer_pool(ctx))
    return np.asarray(key, np.int64)


@op("MPIIallreduceWait", shape=_wait_shape, stateful=True, may_alias=True,
    name="DistributedIallreduceWait")
def _iallreduce_wait(xp, handle, *, ctx):
    """Waits for the allreduce that ``handle`` started; its reduced tensors."""
    w = _context.world()
    started = ctx.resources[_REQ_KEY].pop(int(handle))
    if isinstance(started, list):
        return started
    return collectives.iallreduce_wait(w, started)


NotDifferentiable("MPIIallreduceStart")
NotDifferentiable("MPIIallreduceWait")


@op("MPIRankInfo", shape=lambda n: (TensorShape(()), _dt.int32), stateful=True,
    name="DistributedRank")
def _rank_info(xp, *, what="rank"):
    """This process's rank, the job's size, or their node-local counterparts."""
    w = _context.world()
    return xp.asarray(getattr(w, what), dtype=xp.int32)


NotDifferentiable("MPIRankInfo")

# MPI moves host memory: on a GPU session these ops run on the host (the placer copies).
register_host_only("MPIAllreduce", "MPIBroadcast", "MPIAllgather", "MPIIallreduceStart",
                   "MPIIallreduceWait", "MPIRankInfo")


# ----- builders ----------------------------------------------------------------------------
def _reduce_op(op, average) -> str:
    if op is None:
        return SUM if average is False else AVERAGE
    if average is not None:
        raise ValueError("allreduce: give either op= or the older average=, not both")
    name = str(getattr(op, "value", op)).lower()
    if name not in _REDUCE_OPS:
        raise ValueError(f"allreduce: op must be flowgrad.distributed.Average or Sum, got "
                         f"{op!r}")
    return name


def _wire(compression) -> str:
    if compression is None:
        return "none"
    wire = getattr(compression, "wire", compression)
    if wire not in _COMPRESSIONS:
        raise ValueError(f"compression must be Compression.none or Compression.fp16, got "
                         f"{compression!r}")
    return wire


def allreduce(tensor, average=None, device_dense: str = "", device_sparse: str = "",
              compression=None, op=None, name: str | None = None) -> Tensor:
    """The tensor averaged (``op=Average``, the default) or summed over all ranks.

    Usable anywhere in a graph, e.g. to average a metric::

        acc = flowgrad.distributed.allreduce(tf.reduce_mean(correct))
    """
    return grouped_allreduce([tensor], op=_reduce_op(op, average), compression=compression,
                             name=name)[0]


def grouped_allreduce(tensors, op=None, compression=None, names=(),
                      name: str | None = None) -> list[Tensor]:
    """Allreduces many tensors in one fused collective (one buffer per dtype)."""
    ts = [convert_to_tensor(t) for t in tensors]
    return list(_allreduce(ts, reduce_op=_reduce_op(op, None), compression=_wire(compression),
                           names=tuple(names), name=name))


def broadcast(tensor, root_rank: int, name: str | None = None) -> Tensor:
    """``root_rank``'s value of ``tensor`` on every rank."""
    return grouped_broadcast([tensor], root_rank, name=name)[0]


def grouped_broadcast(tensors, root_rank: int, names=(), name: str | None = None
                      ) -> list[Tensor]:
    """Broadcasts many tensors from ``root_rank`` in one fused collective."""
    ts = [convert_to_tensor(t) for t in tensors]
    return list(_broadcast(ts, root_rank=int(root_rank), names=tuple(names), name=name))


def allgather(tensor, name: str | None = None) -> Tensor:
    """Every rank's ``tensor`` concatenated along axis 0, in rank order."""
    return _allgather(tensor, name=name)


def iallreduce_start(tensors, op=None, compression=None, names=(), name: str | None = None
                     ) -> Tensor:
    """Starts a non-blocking fused allreduce of ``tensors``; returns its handle."""
    return _iallreduce_start([convert_to_tensor(t) for t in tensors],
                             reduce_op=_reduce_op(op, None), compression=_wire(compression),
                             names=tuple(names), name=name)


def iallreduce_wait(handle: Tensor, name: str | None = None) -> list[Tensor]:
    """The reduced tensors of the allreduce that ``handle`` started."""
    return list(_iallreduce_wait(handle, name=name))


def rank_op(name: str | None = None) -> Tensor:
    """An int32 scalar op: this process's rank, read when the graph runs."""
    return _rank_info(what="rank", name=name)


def size_op(name: str | None = None) -> Tensor:
    return _rank_info(what="size", name=name)


def local_rank_op(name: str | None = None) -> Tensor:
    return _rank_info(what="local_rank", name=name)


def local_size_op(name: str | None = None) -> Tensor:
    return _rank_info(what="local_size", name=name)
