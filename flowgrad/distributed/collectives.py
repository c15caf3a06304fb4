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
    """Arrays copied into one flat buffer per dtype, and the layout to unpack them."""

    __slots__ = ("buffers", "layout")

    def __init__(self, arrays, fp16: bool = False) -> None:
        # layout: (buffer key, offset, size, shape, dtype) per array, in input order
        groups: dict = {}
        self.layout = []
        for a in arrays:
            dt = a.dtype
            wire = np.dtype(np.float16) if fp16 and dt.kind == "f" and dt.itemsize > 2 else dt
            g = groups.setdefault(wire, [0, []])
            self.layout.append((wire, g[0], a.size, a.shape, dt))
            g[0] += a.size
            g[1].append(a)
        self.buffers = {}
        for wire, (total, members) in groups.items():
            buf = np.empty(total, wire)
            o = 0
            for a in members:
                n = a.size
                np.copyto(buf[o:o + n].reshape(a.shape), a, casting="unsafe")
                o += n
            self.buffers[wire] = buf

    def unpack(self, divide_by: int = 1) -> list[np.ndarray]:
        """The arrays back: views of the buffers, or casts of them when compressed."""
        out = []
        for wire, o, n, shape, dt in self.layout:
            v = self.buffers[wire][o:o + n].reshape(shape)
            if wire != dt:
                v = v.astype(dt)
            if divide_by != 1:
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


def allreduce(w: _World, arrays, reduce_op: str = AVERAGE, fp16: bool = False
              ) -> list[np.ndarray]:
    """Sums (or averages) each array over all ranks: one in-place Allreduce per dtype."""
    if w.size == 1 and not fp16:
        return list(arrays)
    packed = Packed(arrays, fp16)
    for buf in packed.buffers.values():
        _reduce(w, buf, blocking=True)
    return packed.unpack(w.size if reduce_op == AVERAGE else 1)


def iallreduce_start(w: _World, arrays, fp16: bool = False):
    """Packs and starts a non-blocking Iallreduce; finish it with :func:`iallreduce_wait`."""
    packed = Packed(arrays, fp16)
    requests = [_reduce(w, buf, blocking=False) for buf in packed.buffers.values()]
    return packed, requests


def iallreduce_wait(w: _World, handle, reduce_op: str = AVERAGE) -> list[np.ndarray]:
    packed, requests = handle
    w.MPI.Request.Waitall(requests)
    return packed.unpack(w.size if reduce_op == AVERAGE else 1)


def broadcast(w: _World, arrays, root: int) -> list[np.ndarray]:
    """Every rank gets ``root``'s arrays: one Bcast per dtype."""
    if w.size == 1:
        return list(arrays)
    packed = Packed(arrays)
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
