"""``einsum`` (general, differentiable in every operand) and what is built on it:
``tensordot``; plus ``matvec`` and ``cross``."""

from __future__ import annotations

import builtins
import string

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, constant, convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M


# ----- einsum -------------------------------------------------------------------------------
def _parse_einsum(equation: str, ranks: list[int | None]) -> tuple[list[str], str]:
    """Input and output subscripts with ``...`` expanded into explicit letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(ranks):
        raise ValueError(f"einsum equation '{equation}' names {len(subs)} operands but "
                         f"{len(ranks)} were given")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    ell_rank = 0
    for s, r in zip(subs, ranks):
        if "..." in s:
            if r is None:
                raise ValueError(f"einsum '{equation}': an operand with '...' needs a known "
                                 "rank")
            ell_rank = max(ell_rank, r - (len(s) - 3))
    ell = "".join(free[:ell_rank])
    out_subs = []
    for s, r in zip(subs, ranks):
        if "..." in s:
            k = r - (len(s) - 3)
            s = s.replace("...", ell[ell_rank - k:])
        elif r is not None and r != len(s):
            raise ValueError(f"einsum '{equation}': subscripts '{s}' name {len(s)} axes but "
                             f"the operand has rank {r}")
        out_subs.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:   # implicit mode: broadcast letters, then letters seen once, alphabetically
        counts: dict[str, int] = {}
        for s in out_subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    for c in out:
        if not any(c in s for s in out_subs):
            raise ValueError(f"einsum '{equation}': output subscript '{c}' does not appear in "
                             "any input")
    return out_subs, out


def _einsum_shape(node: NodeSpec):
    subs, out = node.attrs["subscripts"], node.attrs["output"]
    sizes: dict[str, int | None] = {}
    for s, t in zip(subs, node.inputs):
        if t.shape.ndims is None:
            continue
        for c, d in zip(s, t.shape.as_list()):
            if d is None or d == 1:
                sizes.setdefault(c, None if d is None else 1)
                continue
            if sizes.get(c) not in (None, 1, d):
                node.fail(f"dimension '{c}' has size {sizes[c]} in one operand and {d} in "
                          "another")
            sizes[c] = d
    dt = node.inputs[0].dtype
    for t in node.inputs[1:]:
        if t.dtype != dt:
            node.fail(f"all operands must have the same dtype, got {dt.name} and "
                      f"{t.dtype.name}", TypeError)
    return TensorShape([sizes.get(c) for c in out]), dt


@op("Einsum", shape=_einsum_shape)
def _einsum(xp, *inputs, subscripts, output):
    return xp.asarray(xp.einsum(",".join(subscripts) + "->" + output, *inputs,
                                optimize=len(inputs) > 2))


@_einsum.grad
def _einsum_grad(op, dy):
    subs, out = op.attrs["subscripts"], op.attrs["output"]
    return [_einsum_operand_grad(op.inputs, subs, out, dy, k) for k in builtins.range(len(subs))]


def _einsum_operand_grad(inputs, subs, out, dy, k):
    """d(sum dy * einsum)/d(operand k): an einsum of ``dy`` with the other operands."""
    x = inputs[k]
    target = subs[k]
    used = set("".join(subs) + out)
    fresh = iter(c for c in string.ascii_letters if c not in used)
    # a letter repeated within operand k (a diagonal) is renamed and tied by an identity
    ops_, ops_subs = [dy] + [t for i, t in enumerate(inputs) if i != k], \
        [out] + [s for i, s in enumerate(subs) if i != k]
    renamed = []
    seen: dict[str, int] = {}
    for pos, c in enumerate(target):
        if c in seen:
            n = x.shape[pos]
            if n is None:
                raise ValueError("the gradient of einsum with a repeated subscript needs a "
                                 "static size for that axis")
            c2 = next(fresh)
            ops_.append(constant(np.eye(n, dtype=x.dtype.np)))
            ops_subs.append(c + c2)
            renamed.append(c2)
        else:
            seen[c] = pos
            renamed.append(c)
    available = set("".join(ops_subs))
    kept = "".join(c for c in renamed if c in available)
    g = _einsum(ops_, subscripts=tuple(ops_subs), output=kept)
    if len(kept) == len(renamed):
        return g
    # letters summed within operand k alone: their gradient is dy broadcast along them
    dims = []
    for c in renamed:
        dims.append(-1 if c in available else 1)
    shape_ = [A.shape(g)[kept.index(c)] if c in available else 1 for c in renamed]
    g = A.reshape(g, A.stack([convert_to_tensor(s, _dt.int32) if not isinstance(s, Tensor)
                              else s for s in shape_]))
    return A.broadcast_to(g, A.shape(x))


def einsum(equation: str, *inputs, **kwargs) -> Tensor:
    """``tf.einsum``: Einstein summation over the operands (``...`` and implicit output
    supported); differentiable in every operand.

    >>> import flowgrad as tf
    >>> tf.Session().run(tf.einsum("ij,jk->ik", [[1.0, 2.0]], [[3.0], [4.0]])).tolist()
    [[11.0]]
    """
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum got unexpected keyword arguments {sorted(kwargs)}")
    if len(inputs) == 1 and isinstance(inputs[0], list | tuple) and \
            equation.count(",") + 1 != 1:
        inputs = tuple(inputs[0])
    tensors = [convert_to_tensor(t) for t in inputs]
    if tensors and not all(t.dtype == tensors[0].dtype for t in tensors[1:]):
        tensors = [convert_to_tensor(t, dtype=tensors[0].dtype) if not isinstance(t, Tensor)
                   else t for t in tensors]
    subs, out = _parse_einsum(equation, [t.shape.ndims for t in tensors])
    if name and name.endswith("/"):                   # a caller's own scope names the op
        return _einsum(tensors, subscripts=tuple(subs), output=out, name=name)
    with name_scope(name, "einsum"):                  # TF's names: einsum/Einsum
        return _einsum(tensors, subscripts=tuple(subs), output=out)


# ----- tensordot, cross, matvec ----------------------------------------------------------------
def tensordot(a, b, axes, name=None) -> Tensor:
    """``tf.tensordot``: sums the products of ``a`` and ``b`` over ``axes`` (an int ``n``: the
    last ``n`` axes of ``a`` with the first ``n`` of ``b``; or a pair of axis lists)."""
    a, b = convert_to_tensor(a), convert_to_tensor(b)
    ra, rb = a.shape.ndims, b.shape.ndims
    if ra is None or rb is None:
        raise ValueError("tensordot needs operands of known rank")
    if isinstance(axes, int | np.integer) or (isinstance(axes, Tensor) and
                                               axes.shape.ndims == 0):
        n = int(A._int_list(axes, "axes")[0])
        if n > min(ra, rb) or n < 0:
            raise ValueError(f"tensordot: axes={n} is out of range for ranks {ra} and {rb}")
        ax_a, ax_b = list(builtins.range(ra - n, ra)), list(builtins.range(n))
    else:
        if len(axes) != 2:
            raise ValueError(f"'axes' must be an integer or a pair of axis lists, got {axes}")
        ax_a = [int(i) % ra for i in A._int_list(axes[0] if isinstance(axes[0], list | tuple |
                                                                         Tensor) else [axes[0]],
                                                 "axes")]
        ax_b = [int(i) % rb for i in A._int_list(axes[1] if isinstance(axes[1], list | tuple |
                                                                         Tensor) else [axes[1]],
                                                 "axes")]
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: different numbers of axes {ax_a} and {ax_b}")
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in builtins.range(ra)]
    sb = [next(letters) for _ in builtins.range(rb)]
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + \
        [c for j, c in enumerate(sb) if j not in ax_b]
    with name_scope(name, "Tensordot") as scope:      # TF1's result: Tensordot:0
        return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b, name=scope)


def matvec(a, b, transpose_a: bool = False, adjoint_a: bool = False, name=None) -> Tensor:
    """``tf.linalg.matvec``: ``a @ b`` for (batches of) matrices ``a`` and vectors ``b``."""
    with name_scope(name, "MatVec") as scope:
        prod = M.matmul(a, A.expand_dims(b, -1), transpose_a=transpose_a or adjoint_a)
        return A.squeeze(prod, axis=[-1], name=scope)


def _cross_shape(node: NodeSpec):
    a, b = node.inputs
    if a.dtype != b.dtype:
        node.fail(f"dtypes differ: {a.dtype.name} and {b.dtype.name}", TypeError)
    if not a.shape.is_compatible_with(b.shape):
        node.fail("both inputs must have the same shape")
    s = a.shape.merge_with(b.shape)
    if s.ndims is not None and s[-1] not in (None, 3):
        node.fail(f"the last dimension must be 3, got {s[-1]}")
    return s, a.dtype


@op("Cross", shape=_cross_shape)
def _cross(xp, a, b):
    return xp.cross(a, b)


@_cross.grad
def _cross_grad(op, dy):
    a, b = op.inputs
    return [cross(b, dy), cross(dy, a)]


def cross(a, b, name=None) -> Tensor:
    """``tf.cross``: pairwise cross products of 3-vectors (last axis)."""
    return _cross(a, b, name=name or "Cross")
