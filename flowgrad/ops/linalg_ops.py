"""Linear algebra ops (``tf.linalg``)."""

from __future__ import annotations

from flowgrad.framework.registry import NodeSpec, NotDifferentiable, op
from flowgrad.framework.shapes import TensorShape


def _qr_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return [(TensorShape(None), x.dtype)] * 2
    if x.shape.ndims < 2:
        node.fail("qr needs a matrix (rank >= 2)")
    *batch, m, n = x.shape.as_list()
    full = node.attrs["full_matrices"]
    k = None if m is None or n is None else min(m, n)
    q = batch + [m, m if full else k]
    r = batch + [m if full else k, n]
    return [(TensorShape(q), x.dtype), (TensorShape(r), x.dtype)]


@op("Qr", shape=_qr_shape)
def _qr(xp, input, *, full_matrices=False):  # noqa: A002
    q, r = xp.linalg.qr(input, mode="complete" if full_matrices else "reduced")
    return q, r


NotDifferentiable("Qr")


def qr(input, full_matrices: bool = False, name=None):  # noqa: A002
    """``tf.linalg.qr``: ``(q, r)`` with ``input = q @ r``."""
    return tuple(_qr(input, full_matrices=bool(full_matrices), name=name))


def qr_q(x):
    return qr(x)[0]
