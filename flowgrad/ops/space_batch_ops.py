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
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
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


# ----- atrous operations through space-to-batch ---------------------------------------------
def required_space_to_batch_paddings(input_shape, block_shape, base_paddings=None,
                                     name: str | None = None):
    """``tf.required_space_to_batch_paddings``: ``(paddings, crops)`` that extend
    ``base_paddings`` so that ``block_shape`` divides each padded dimension of
    ``input_shape``, and the crops that undo the extension.

    >>> import flowgrad as tf
    >>> p, c = tf.required_space_to_batch_paddings([5, 4], [2, 3], [[1, 1], [0, 0]])
    >>> [v.tolist() for v in tf.Session().run([p, c])]
    [[[1, 2], [0, 2]], [[0, 1], [0, 2]]]
    """
    with name_scope(name, "required_space_to_batch_paddings", [input_shape, block_shape]):
        shape = _int_tensor(input_shape, "input_shape")
        block = _int_tensor(block_shape, "block_shape")
        m = block.shape[0] if block.shape.ndims == 1 else None
        if m is None:
            raise ValueError("required_space_to_batch_paddings: block_shape must have a "
                             "known length")
        base = _int_tensor(np.zeros((m, 2), np.int32) if base_paddings is None
                           else base_paddings, "base_paddings")
        sv, bv, pv = constant_value(shape), constant_value(block), constant_value(base)
        if sv is not None and bv is not None and pv is not None:
            sv, bv = np.asarray(sv).reshape(-1), np.asarray(bv).reshape(-1)
            pv = np.asarray(pv).reshape(-1, 2)
            full = sv + pv[:, 0] + pv[:, 1]
            extra = (bv - full % bv) % bv
            pads = np.stack([pv[:, 0], pv[:, 1] + extra], axis=1).astype(np.int32)
            crops = np.stack([np.zeros_like(extra), extra], axis=1).astype(np.int32)
            return (convert_to_tensor(pads, name="paddings"),
                    convert_to_tensor(crops, name="crops"))
        start, end = base[:, 0], base[:, 1]
        extra = M.floormod(block - M.floormod(shape + start + end, block), block)
        return (A.stack([start, end + extra], axis=1, name="paddings"),
                A.stack([A.zeros_like(extra), extra], axis=1, name="crops"))


def with_space_to_batch(input, dilation_rate, padding, op, filter_shape=None,  # noqa: A002
                        spatial_dims=None, data_format: str | None = None) -> Tensor:
    """``tf.nn.with_space_to_batch``: runs ``op(converted, num_spatial_dims, padding)`` on
    the space-to-batch form of ``input``, which turns a sliding-window op into its atrous
    (dilated) form: ``batch_to_space_nd(op(space_to_batch_nd(input, rate, paddings), n,
    "VALID"), rate, crops)``; with every rate 1 it is just ``op(input, n, padding)``."""
    x = convert_to_tensor(input, name="input")
    rv = constant_value(dilation_rate) if isinstance(dilation_rate, Tensor) \
        else np.asarray(dilation_rate)
    if rv is None:
        raise ValueError("with_space_to_batch: dilation_rate must be known at build time")
    rate = [int(r) for r in np.asarray(rv).reshape(-1)]
    n = len(rate)
    if n == 0:
        raise ValueError("with_space_to_batch: dilation_rate must have at least one entry")
    if min(rate) < 1:
        raise ValueError(f"dilation_rate must be positive, got {rate}")
    if spatial_dims is None:
        start = 2 if data_format is not None and data_format.startswith("NC") else 1
        spatial_dims = list(range(start, start + n))
    dims = [int(d) for d in spatial_dims]
    if len(dims) != n or dims != sorted(set(dims)) or dims[0] < 1:
        raise ValueError(f"spatial_dims must be {n} ascending, distinct dimensions >= 1, got "
                         f"{list(spatial_dims)}")
    if x.shape.ndims is not None and x.shape.ndims <= dims[-1]:
        raise ValueError(f"input must have rank greater than {dims[-1]}, got shape {x.shape}")
    if all(r == 1 for r in rate):
        return op(x, n, padding)
    if padding == "SAME":
        if filter_shape is None:
            raise ValueError("filter_shape must be specified for SAME padding")
        fv = constant_value(filter_shape) if isinstance(filter_shape, Tensor) \
            else np.asarray(filter_shape)
        if fv is not None:
            fs = np.asarray(fv).reshape(-1)[:n].astype(np.int64)
            span = fs + (fs - 1) * (np.asarray(rate) - 1)
            base = np.stack([(span - 1) // 2, span - 1 - (span - 1) // 2], axis=1)
        else:                               # known only when the graph runs
            fs = M.cast(filter_shape[:n], _dt.int32)
            extra = (fs - 1) * convert_to_tensor(np.asarray(rate, np.int32))
            base = A.stack([M.floordiv(extra, 2), extra - M.floordiv(extra, 2)], axis=1)
    elif padding == "VALID":
        base = np.zeros((n, 2), np.int64)
    else:
        raise ValueError(f"Invalid padding method {padding!r}")
    static = [x.shape[d] if x.shape.ndims is not None else None for d in dims]
    in_shape = static if None not in static else \
        A.stack([A.shape(x)[d] for d in dims])
    pads, crops = required_space_to_batch_paddings(in_shape, rate, base)
    # blocks over dimensions 1..max(spatial_dims): rate 1 and no padding elsewhere
    block = [1] * dims[-1]
    for d, r in zip(dims, rate):
        block[d - 1] = r

    def adjust(t: Tensor) -> Tensor:
        v = constant_value(t)
        if v is not None:
            full = np.zeros((dims[-1], 2), np.int32)
            full[[d - 1 for d in dims]] = np.asarray(v).reshape(-1, 2)
            return convert_to_tensor(full)
        zero = convert_to_tensor(np.zeros(2, np.int32))
        rows = {d: i for i, d in enumerate(dims)}
        return A.stack([t[rows[d]] if d in rows else zero for d in range(1, dims[-1] + 1)])

    converted = space_to_batch_nd(x, block, adjust(pads))
    return batch_to_space_nd(op(converted, n, "VALID"), block, adjust(crops))
