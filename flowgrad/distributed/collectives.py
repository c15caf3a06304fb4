"""Collectives on numpy arrays: packed (fused) buffers through mpi4py's buffer interface.

Every data transfer uses mpi4py's uppercase methods on contiguous numpy buffers (no
pickling); only shape metadata (a tuple per rank) goes through the pickling lowercase
methods.  Many arrays are *fused*: copied into one flat buffer per dtype, reduced with one
``Allreduce(MPI.IN_PLACE, …)`` and handed back as views of that buffer, so a step with fifty
gradients costs one collective instead of fifty latencies.

These functions are what the graph ops' kernels call; the benchmark calls them directly.
"""

from __future__ import annotations

import numpy as np

from flowgrad.distributed._context import _World

AVERAGE, SUM = "average", "sum"
_FP16_OP: list = []       # a user-defined float16 sum, made once if the MPI lacks a native one
_FP16_NATIVE: list = []   # whether the MPI sums float16 itself (probed once)


class Packed:
    """Arrays copied into one flat buffer per dtype, and the layout to unpack them.

    ``prescale``: floating-point arrays that travel in their own dtype are divided by it
    while being packed (one pass over the data instead of a copy and a division later).

    ``pool``: a dict of buffers (one per wire dtype) kept from call to call.  MPI moves a
    buffer it has seen before much faster (measured with MPICH, 2 ranks: 1 MB in 1.3 ms
    from the same buffer, 4.0 ms from a fresh one each time), so the ops keep one pool per
    op and session; :meth:`unpack` then copies the results out, because the buffer is
    overwritten by the next call while the values may still be in use.
    """

    __slots__ = ("buffers", "layout", "pooled")

    def __init__(self, arrays, fp16: bool = False, prescale: int = 1,
                 pool: dict | None = None) -> None:
        # layout: (buffer key, offset, size, shape, dtype, prescaled) per array, in order
        groups: dict = {}
        self.layout = []
        for a in arrays:
            dt = a.dtype
            wire = np.dtype(np.float16) if fp16 and dt.kind == "f" and dt.itemsize > 2 else dt
            scaled = prescale != 1 and wire == dt and dt.kind in "fc"
            g = groups.setdefault(wire, [0, []])
            self.layout.append((wire, g[0], a.size, a.shape, dt, scaled))
            g[0] += a.size
            g[1].append((a, scaled))
        self.buffers = {}
        self.pooled = pool is not None
        for wire, (total, members) in groups.items():
            buf = pool.get(wire) if pool is not None else None
            if buf is None or buf.size != total:
                buf = np.empty(total, wire)
                if pool is not None:
                    pool[wire] = buf
            o = 0
            for a, scaled in members:
                n = a.size
                view = buf[o:o + n].reshape(a.shape)
                if scaled:
                    np.divide(a, prescale, out=view)
                else:
                    np.copyto(view, a, casting="unsafe")
                o += n
            self.buffers[wire] = buf

    def unpack(self, divide_by: int = 1) -> list[np.ndarray]:
        """The arrays back: views of fresh buffers, or copies of pooled ones (or casts)."""
        out = []
        for wire, o, n, shape, dt, scaled in self.layout:
            v = self.buffers[wire][o:o + n].reshape(shape)
            if wire != dt or self.pooled:
                v = v.astype(dt)
            if divide_by != 1 and not scaled:
                if dt.kind in "fc":
                    np.divide(v, divide_by, out=v)
                else:
                    np.floor_divide(v, divide_by, out=v)
            out.append(v)
        return out


def _reduce(w: _World, buf: np.ndarray, blocking: bool):
    """In-place sum of ``buf`` over the ranks (a request when not ``blocking``)."""
    MPI = w.MPI
    call = w.comm.Allreduce if blocking else w.comm.Iallreduce
    if buf.dtype == np.float16 and not _native_fp16(w):
        return call(MPI.IN_PLACE, [buf.view(np.uint16), MPI.UINT16_T], op=_fp16_sum_op(MPI))
    return call(MPI.IN_PLACE, buf, op=MPI.SUM)


def _native_fp16(w: _World) -> bool:
    """Whether the MPI sums float16 itself (MPICH does; others may lack the type)."""
    if not _FP16_NATIVE:
        ok = "e" in w.MPI._typedict
        if ok:
            try:
                probe = np.ones(1, np.float16)
                w.MPI.COMM_SELF.Allreduce(w.MPI.IN_PLACE, probe, op=w.MPI.SUM)
            except w.MPI.Exception:
                ok = False
        _FP16_NATIVE.append(ok)
    return _FP16_NATIVE[0]


def _fp16_sum_op(MPI):  # noqa: N803
    if not _FP16_OP:
        def fp16_sum(inbuf, outbuf, datatype) -> None:
            a = np.frombuffer(inbuf, dtype=np.float16)
            b = np.frombuffer(outbuf, dtype=np.float16)
            np.add(a, b, out=b)
        _FP16_OP.append(MPI.Op.Create(fp16_sum, commute=True))
    return _FP16_OP[0]


def allreduce(w: _World, arrays, reduce_op: str = AVERAGE, fp16: bool = False,
              pool: dict | None = None) -> list[np.ndarray]:
    """Sums (or averages) each array over all ranks: one in-place Allreduce per dtype."""
    if w.size == 1 and not fp16:
        return list(arrays)
    divide = w.size if reduce_op == AVERAGE else 1
    packed = Packed(arrays, fp16, prescale=divide, pool=pool)
    for buf in packed.buffers.values():
        _reduce(w, buf, blocking=True)
    return packed.unpack(divide)


def iallreduce_start(w: _World, arrays, fp16: bool = False, reduce_op: str = AVERAGE,
                     pool: dict | None = None):
    """Packs and starts a non-blocking Iallreduce; finish it with :func:`iallreduce_wait`."""
    divide = w.size if reduce_op == AVERAGE else 1
    packed = Packed(arrays, fp16, prescale=divide, pool=pool)
    requests = [_reduce(w, buf, blocking=False) for buf in packed.buffers.values()]
    return packed, requests, divide


def iallreduce_wait(w: _World, handle) -> list[np.ndarray]:
    packed, requests, divide = handle
    w.MPI.Request.Waitall(requests)
    return packed.unpack(divide)


def broadcast(w: _World, arrays, root: int, pool: dict | None = None) -> list[np.ndarray]:
    """Every rank gets ``root``'s arrays: one Bcast per dtype."""
    if w.size == 1:
        return list(arrays)
    packed = Packed(arrays, pool=pool)
    for buf in packed.buffers.values():
        w.comm.Bcast(buf, root=root)
    return packed.unpack()


def allgather(w: _World, x: np.ndarray) -> np.ndarray:
    """Concatenation along axis 0 of every rank's ``x`` (first dimensions may differ)."""
    shapes = w.comm.allgather((x.shape, x.dtype.str))
    tail, dt = x.shape[1:], x.dtype.str
    for r, (s, d) in enumerate(shapes):
        if len(s) == 0 or s[1:] != tail or d != dt:
            raise ValueError(
                "allgather: every rank must give a tensor of rank >= 1 with the same dtype "
                "and the same dimensions after the first; got "
                + ", ".join(f"rank {i}: {tuple(si)} {np.dtype(di).name}"
                            for i, (si, di) in enumerate(shapes))
                + f" (mismatch at rank {r}).")
    rows = [s[0] for s, _ in shapes]
    out = np.empty((sum(rows),) + tuple(tail), x.dtype)
    per_row = int(np.prod(tail, dtype=np.int64)) if tail else 1
    counts = [r * per_row for r in rows]
    w.comm.Allgatherv(np.ascontiguousarray(x), [out, counts])
    return out
