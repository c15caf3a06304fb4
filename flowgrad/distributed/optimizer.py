"""``DistributedOptimizer``: any ``tf.train`` optimizer, with gradients averaged over ranks.

``compute_gradients`` asks the wrapped optimizer for this rank's gradients and puts them
through fused allreduce ops (tensor fusion: the gradients are split into buckets of at most
``fusion_threshold_bytes`` and each bucket is one collective); ``apply_gradients`` is the
wrapped optimizer's, so every rank applies the same averaged update to the same variables
and the replicas stay identical.
"""

from __future__ import annotations

from flowgrad.distributed import ops as D
from flowgrad.distributed.collectives import AVERAGE, SUM
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.train.optimizer import Optimizer

Average, Sum = AVERAGE, SUM
DEFAULT_FUSION_THRESHOLD = 64 * 1024 * 1024    # bytes per fused buffer (Horovod's default)


class NoneCompressor:
    """Gradients travel in their own dtype."""

    wire = "none"

    @staticmethod
    def compress(tensor):
        return tensor, None

    @staticmethod
    def decompress(tensor, ctx):
        return tensor


class FP16Compressor:
    """Floating-point gradients travel as float16 (half the bytes; ~3 significant digits).

    Sums of float16 overflow above 65504: keep gradients (and the number of ranks times
    their magnitude) well below that, e.g. with gradient clipping.
    """

    wire = "fp16"

    @staticmethod
    def compress(tensor):
        from flowgrad.ops.math_ops import cast  # noqa: PLC0415
        t = convert_to_tensor(tensor)
        if t.dtype.is_floating and t.dtype.size > 2:
            return cast(t, "float16"), t.dtype
        return t, None

    @staticmethod
    def decompress(tensor, ctx):
        from flowgrad.ops.math_ops import cast  # noqa: PLC0415
        return tensor if ctx is None else cast(tensor, ctx)


class Compression:
    """``Compression.none`` and ``Compression.fp16``, as in Horovod."""

    none = NoneCompressor
    fp16 = FP16Compressor


def fusion_buckets(tensors, threshold_bytes: int, like=None) -> list[list[int]]:
    """Indices of ``tensors`` grouped into buckets of at most ``threshold_bytes`` each.

    Tensors keep their order; a tensor larger than the threshold gets a bucket of its own;
    ``threshold_bytes <= 0`` turns fusion off (one tensor per bucket).  A tensor's size is
    taken from its static shape, or from ``like[i]`` (the variable a gradient belongs to)
    where that shape is not fully known.
    """
    buckets: list[list[int]] = []
    used = 0
    for i, t in enumerate(tensors):
        shape = t.shape
        if not shape.is_fully_defined() and like is not None:
            shape = like[i].shape
        n = shape.num_elements() if shape.is_fully_defined() else None
        nbytes = threshold_bytes + 1 if n is None else n * t.dtype.size
        if buckets and threshold_bytes > 0 and used + nbytes <= threshold_bytes:
            buckets[-1].append(i)
            used += nbytes
        else:
            buckets.append([i])
            used = nbytes
    return buckets


def allreduce_gradients(grads, names, op: str = AVERAGE, compression=None,
                        fusion_threshold_bytes: int = DEFAULT_FUSION_THRESHOLD,
                        overlap: bool = False, variables=None) -> list:
    """The gradients reduced over all ranks, fused into few collectives (Nones stay None).

    With ``overlap``, each bucket is a non-blocking ``Iallreduce`` started as soon as its
    gradients exist (buckets are taken from the last layer backwards, the order backprop
    produces them) and waited for only after every bucket has started.
    """
    idx = [i for i, g in enumerate(grads) if g is not None]
    ts = [convert_to_tensor(grads[i]) for i in idx]
    out = list(grads)
    if not ts:
        return out
    order = list(range(len(ts)))
    if overlap:
        order.reverse()
    like = None if variables is None else [variables[idx[i]] for i in order]
    buckets = fusion_buckets([ts[i] for i in order], fusion_threshold_bytes, like)
    buckets = [[order[j] for j in b] for b in buckets]
    g = ts[0].graph
    with g.as_default(), g.name_scope("DistributedAllreduce"):
        if not overlap:
            for b in buckets:
                reduced = D.grouped_allreduce([ts[i] for i in b], op=op,
                                              compression=compression,
                                              names=[names[idx[i]] for i in b])
                for i, r in zip(b, reduced):
                    out[idx[i]] = r
            return out
        handles = [D.iallreduce_start([ts[i] for i in b], op=op, compression=compression,
                                      names=[names[idx[i]] for i in b]) for b in buckets]
        with g.control_dependencies([h.op for h in handles]):
            for b, h in zip(buckets, handles):
                for i, r in zip(b, D.iallreduce_wait(h)):
                    out[idx[i]] = r
    return out


class DistributedOptimizer(Optimizer):
    """Wraps ``optimizer`` so that its gradients are averaged over all ranks.

    Args:
        optimizer: any ``tf.train`` optimizer.
        op: ``Average`` (default) or ``Sum`` of the ranks' gradients.
        compression: ``Compression.none`` (default) or ``Compression.fp16``.
        backward_passes_per_step: gradients of this many ``sess.run`` calls are accumulated
            locally (averaged) before one allreduce and one update; the other calls only
            accumulate.  Equivalent to a batch this many times larger.
        fusion_threshold_bytes: gradients are packed into buffers of at most this size,
            one collective each (0 disables fusion).
        overlap: start each buffer's allreduce without blocking as soon as its gradients
            are computed, and wait before the update (see ``benchmarks/allreduce.py``; off
            by default because on few cores it did not pay).

    Example::

        import flowgrad as tf
        import flowgrad.distributed as hvd
        hvd.init()
        opt = hvd.DistributedOptimizer(tf.train.AdamOptimizer(1e-3 * hvd.size()))
        train = opt.minimize(loss)
    """

    def __init__(self, optimizer, name: str | None = None, use_locking: bool = False,
                 device_dense: str = "", device_sparse: str = "", compression=None,
                 sparse_as_dense: bool = False, backward_passes_per_step: int = 1,
                 op=Average, *, fusion_threshold_bytes: int = DEFAULT_FUSION_THRESHOLD,
                 overlap: bool = False) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"DistributedOptimizer wraps a tf.train optimizer, got "
                            f"{type(optimizer).__name__}")
        super().__init__(use_locking, name or f"Distributed{type(optimizer).__name__}")
        self._optimizer = optimizer
        self._op = D._reduce_op(op, None)
        D._wire(compression)
        self._compression = compression
        if int(backward_passes_per_step) < 1:
            raise ValueError(f"backward_passes_per_step must be >= 1, got "
                             f"{backward_passes_per_step}")
        self._passes = int(backward_passes_per_step)
        self._threshold = int(fusion_threshold_bytes)
        self._overlap = bool(overlap)

    def compute_gradients(self, *args, **kwargs) -> list[tuple]:
        """The wrapped optimizer's gradients, allreduced (averaged) over all ranks."""
        gv = self._optimizer.compute_gradients(*args, **kwargs)
        if self._passes > 1:
            return gv     # reduced in apply_gradients, once per backward_passes_per_step
        names = [v.op.name for _, v in gv]
        grads = allreduce_gradients([g for g, _ in gv], names, self._op, self._compression,
                                    self._threshold, self._overlap, [v for _, v in gv])
        return list(zip(grads, [v for _, v in gv]))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """The wrapped optimizer's update (every ``backward_passes_per_step``-th call)."""
        if self._passes == 1:
            return self._optimizer.apply_gradients(grads_and_vars, global_step, name)
        from flowgrad.distributed.aggregation import aggregated_apply  # noqa: PLC0415
        return aggregated_apply(self, list(grads_and_vars), global_step, name)

    # the wrapped optimizer owns the slots
    def get_slot(self, var, name: str):
        return self._optimizer.get_slot(var, name)

    def get_slot_names(self) -> list[str]:
        return self._optimizer.get_slot_names()

    def variables(self) -> list:
        return self._optimizer.variables()

    @property
    def optimizer(self) -> Optimizer:
        return self._optimizer


