"""SpaceToBatchND and BatchToSpaceND: moving blocks of spatial positions into the batch.

``space_to_batch_nd`` zero-pads the ``M`` spatial dimensions after the batch, cuts each into
``block_shape`` blocks and moves the position inside a block to the front of the batch
(output batch ``b = block_index * N + n``, block indices row-major); ``batch_to_space_nd``
is its inverse followed by a crop.  Each op's gradient is the other one, as in TF.  Both are
a pad or crop plus one reshape-transpose-reshape.
"""

from __future__ import annotations

import math

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import NodeSpec, constant_value, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.runtime import placement as _placement


# ----- helpers ----------------------------------------------------------------------------
def _static_blocks(node: NodeSpec, what: str):
    """(block_shape, pairs) as Python ints when both are constants, else (None, None);
    checks their ranks and values."""
    block, pairs = node.inputs[1], node.inputs[2]
    for t, name in ((block, "block_shape"), (pairs, what)):
        if not t.dtype.is_integer:
            node.fail(f"{name} must be an integer tensor, got {t.dtype.name}", TypeError)
    if block.shape.ndims not in (None, 1):
        node.fail(f"block_shape must be 1-D, got shape {block.shape}")
    if pairs.shape.ndims not in (None, 2) or (pairs.shape.ndims == 2 and
                                              pairs.shape[1] not in (None, 2)):
        node.fail(f"{what} must have shape [M, 2], got {pairs.shape}")
    bv, pv = constant_value(block), constant_value(pairs)
    m = block.shape[0] if block.shape.ndims == 1 else None
    if m is not None and pairs.shape.ndims == 2 and pairs.shape[0] not in (None, m):
        node.fail(f"block_shape has {m} entries but {what} has {pairs.shape[0]} rows")
    x = node.inputs[0]
    if m is not None and x.shape.ndims is not None and x.shape.ndims < m + 1:
        node.fail(f"input must have rank at least {m + 1} (batch + {m} spatial "
                  f"dimensions), got shape {x.shape}")
    if bv is None or pv is None:
        return None, None
    bs = [int(b) for b in np.asarray(bv).reshape(-1)]
    pp = [tuple(int(v) for v in row) for row in np.asarray(pv).reshape(-1, 2)]
    if any(b < 1 for b in bs):
        node.fail(f"block_shape must be positive, got {bs}")
    if any(v < 0 for row in pp for v in row):
        node.fail(f"{what} must be non-negative, got {pp}")
    return bs, pp


def _runtime_blocks(block_shape, pairs):
    return ([int(b) for b in np.asarray(block_shape).reshape(-1).tolist()],
            [tuple(int(v) for v in row) for row in np.asarray(pairs).reshape(-1, 2).tolist()])


def _interleave(outer, inner) -> list[int]:
    return [v for pair in zip(outer, inner) for v in pair]


# ----- SpaceToBatchND ---------------------------------------------------------------------
def _s2b_shape(node: NodeSpec):
    x = node.inputs[0]
    bs, pp = _static_blocks(node, "paddings")
    if bs is None or x.shape.ndims is None:
        return TensorShape(None if x.shape.ndims is None else [None] * x.shape.ndims), x.dtype
    dims = x.shape.as_list()
    m = len(bs)
    out = [None if dims[0] is None else dims[0] * math.prod(bs)]
    for i, (b, (lo, hi)) in enumerate(zip(bs, pp)):
        d = dims[1 + i]
        if d is None:
            out.append(None)
            continue
        if (d + lo + hi) % b:
            node.fail(f"padded spatial dimension {i} ({d} + {lo} + {hi} = {d + lo + hi}) is "
                      f"not divisible by block_shape[{i}] = {b}")
        out.append((d + lo + hi) // b)
    return TensorShape(out + dims[1 + m:]), x.dtype


@op("SpaceToBatchND", shape=_s2b_shape, broadcasting=False)
def _space_to_batch_nd(xp, input, block_shape, paddings):  # noqa: A002
    bs, pp = _runtime_blocks(block_shape, paddings)
    m = len(bs)
    n, sp, rest = input.shape[0], input.shape[1:1 + m], input.shape[1 + m:]
    padded = [s + lo + hi for s, (lo, hi) in zip(sp, pp)]
    for i, (p, b) in enumerate(zip(padded, bs)):
        if p % b:
            raise ValueError(f"SpaceToBatchND: padded spatial dimension {i} ({p}) is not "
                             f"divisible by block_shape[{i}] = {b}")
    if any(lo or hi for lo, hi in pp):
        x = xp.zeros((n, *padded, *rest), dtype=input.dtype)
        x[(slice(None), *(slice(lo, lo + s) for s, (lo, _) in zip(sp, pp)))] = input
    else:
        x = input
    outer = [p // b for p, b in zip(padded, bs)]
    r = x.reshape(n, *_interleave(outer, bs), *rest)
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + \
        list(range(1 + 2 * m, r.ndim))
    return xp.ascontiguousarray(r.transpose(perm)).reshape(n * math.prod(bs), *outer, *rest)


@_space_to_batch_nd.grad
def _space_to_batch_nd_grad(op_, dy):
    return [_batch_to_space_nd(dy, op_.inputs[1], op_.inputs[2]), None, None]


# ----- BatchToSpaceND ---------------------------------------------------------------------
def _b2s_shape(node: NodeSpec):
    x = node.inputs[0]
    bs, cc = _static_blocks(node, "crops")
    if bs is None or x.shape.ndims is None:
        return TensorShape(None if x.shape.ndims is None else [None] * x.shape.ndims), x.dtype
    dims = x.shape.as_list()
    m, k = len(bs), math.prod(bs)
    if dims[0] is not None and dims[0] % k:
        node.fail(f"the batch dimension {dims[0]} is not divisible by the product of "
                  f"block_shape {bs} = {k}")
    out = [None if dims[0] is None else dims[0] // k]
    for i, (b, (lo, hi)) in enumerate(zip(bs, cc)):
        d = dims[1 + i]
        if d is None:
            out.append(None)
            continue
        if lo + hi > d * b:
            node.fail(f"crops {lo} + {hi} exceed spatial dimension {i} of the un-batched "
                      f"result ({d} * {b} = {d * b})")
        out.append(d * b - lo - hi)
    return TensorShape(out + dims[1 + m:]), x.dtype


@op("BatchToSpaceND", shape=_b2s_shape, broadcasting=False)
def _batch_to_space_nd(xp, input, block_shape, crops):  # noqa: A002
    bs, cc = _runtime_blocks(block_shape, crops)
    m, k = len(bs), math.prod(bs)
    nb, sp, rest = input.shape[0], input.shape[1:1 + m], input.shape[1 + m:]
    if nb % k:
        raise ValueError(f"BatchToSpaceND: the batch dimension {nb} is not divisible by the "
                         f"product of block_shape {bs} = {k}")
    n = nb // k
    r = input.reshape(*bs, n, *sp, *rest)
    perm = [m] + _interleave([m + 1 + i for i in range(m)], list(range(m))) + \
        list(range(2 * m + 1, r.ndim))
    full = [s * b for s, b in zip(sp, bs)]
    y = r.transpose(perm).reshape(n, *full, *rest)
    for i, ((lo, hi), f) in enumerate(zip(cc, full)):
        if lo + hi > f:
            raise ValueError(f"BatchToSpaceND: crops {lo} + {hi} exceed spatial dimension {i} "
                             f"({f})")
    y = y[(slice(None), *(slice(lo, f - hi) for (lo, hi), f in zip(cc, full)))]
    return xp.ascontiguousarray(y)


@_batch_to_space_nd.grad
def _batch_to_space_nd_grad(op_, dy):
    return [_space_to_batch_nd(dy, op_.inputs[1], op_.inputs[2]), None, None]


_placement.HOST_MEMORY_ARGS.update({"SpaceToBatchND": (1, 2), "BatchToSpaceND": (1, 2)})


# ----- public API -------------------------------------------------------------------------
def _int_tensor(v, name: str) -> Tensor:
    if isinstance(v, Tensor):
        return v
    return convert_to_tensor(np.asarray(v, dtype=np.int32), dtype=_dt.int32, name=name)


def space_to_batch_nd(input, block_shape, paddings, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.space_to_batch_nd``: pads the spatial dimensions and moves blocks into the batch.

    >>> import flowgrad as tf, numpy as np
    >>> y = tf.space_to_batch_nd(np.arange(16.).reshape(1, 4, 4, 1), [2, 2], [[0, 0], [0, 0]])
    >>> y.shape.as_list()
    [4, 2, 2, 1]
    """
    with name_scope(name, "SpaceToBatchND", [input]) as scope:
        return _space_to_batch_nd(convert_to_tensor(input, name="input"),
                                  _int_tensor(block_shape, "block_shape"),
                                  _int_tensor(paddings, "paddings"), name=scope)


def batch_to_space_nd(input, block_shape, crops, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.batch_to_space_nd``: the inverse of ``space_to_batch_nd``, then a crop."""
    with name_scope(name, "BatchToSpaceND", [input]) as scope:
        return _batch_to_space_nd(convert_to_tensor(input, name="input"),
                                  _int_tensor(block_shape, "block_shape"),
                                  _int_tensor(crops, "crops"), name=scope)


def _block(block_size, block_shape) -> list[int]:
    size = block_shape if block_size is None else block_size
    if size is None:
        raise ValueError("space_to_batch/batch_to_space need block_size")
    if isinstance(size, Tensor):
        v = constant_value(size)
        if v is None:
            raise ValueError("block_size must be known at graph build time")
        size = v
    size = int(np.asarray(size).reshape(-1)[0])
    if size < 2:
        raise ValueError(f"block_size must be greater than 1, got {size}")
    return [size, size]


def space_to_batch(input, paddings, block_size=None, name: str | None = None,  # noqa: A002
                   block_shape=None) -> Tensor:
    """``tf.space_to_batch`` (and ``tf.nn.space_to_batch``): ``space_to_batch_nd`` of a 4-D
    input with a square ``block_size``."""
    return space_to_batch_nd(input, _block(block_size, block_shape), paddings,
                             name=name or "SpaceToBatch")


def batch_to_space(input, crops, block_size, name: str | None = None,  # noqa: A002
                   block_shape=None) -> Tensor:
    """``tf.batch_to_space``: ``batch_to_space_nd`` of a 4-D input with a square
    ``block_size``."""
    return batch_to_space_nd(input, _block(block_size, block_shape), crops,
                             name=name or "BatchToSpace")
