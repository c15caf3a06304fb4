"""Nested structures of dataset components: tuples, lists, dicts and namedtuples of leaves.

As in ``tf.data``, only tuples (and namedtuples) and dicts nest; a list is one leaf (it is
converted to a tensor). A ``SparseTensor`` component is three leaves (indices, values,
dense_shape), marked in the structure by a ``SparseSlot``.  A dataset element is a structure
whose leaves are arrays (at run time) or ``(dtype, TensorShape)`` specs (at graph-build
time).  The pipeline works on flat tuples of leaves and rebuilds the user's structure only at
the edges (``map`` arguments, ``get_next``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from flowgrad.framework.graph import Tensor
from flowgrad.ops.sparse_tensor import SparseTensor


class SparseSlot(tuple):
    """A SparseTensor component in a structure: its three leaves."""

    __slots__ = ()


def _sparse(parts: list) -> Any:
    if all(isinstance(p, Tensor) for p in parts):
        return SparseTensor(*parts)
    return SparseSlot(parts)


def sparse_starts(structure: Any) -> list[int]:
    """Flat positions of the first leaf (indices) of each SparseSlot."""
    out: list[int] = []

    def walk(s, pos: int) -> int:
        if isinstance(s, SparseSlot):
            out.append(pos)
            return pos + 3
        if isinstance(s, Mapping):
            for k in sorted(s):
                pos = walk(s[k], pos)
            return pos
        if isinstance(s, tuple):
            for v in s:
                pos = walk(v, pos)
            return pos
        return pos + 1

    walk(structure, 0)
    return out


def refuse_sparse(structure: Any, what: str) -> None:
    if sparse_starts(structure):
        raise TypeError(f"{what} does not take SparseTensor components; convert them with "
                        "tf.sparse.to_dense first.")


def is_nested(x: Any) -> bool:
    return isinstance(x, tuple | Mapping | SparseTensor)


def flatten(x: Any) -> list:
    """Leaves of ``x`` in a fixed order (dicts by sorted key, as TensorFlow does)."""
    if isinstance(x, SparseTensor):
        return [x.indices, x.values, x.dense_shape]
    if isinstance(x, Mapping):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    if isinstance(x, tuple):
        return [leaf for v in x for leaf in flatten(v)]
    return [x]


def pack_as(structure: Any, leaves) -> Any:
    """Rebuilds ``structure`` with ``leaves`` (a sequence of the same length as flatten)."""
    it = iter(leaves)
    out = _pack(structure, it)
    rest = list(it)
    if rest:
        raise ValueError(f"Structure has fewer leaves than the {len(rest)} extra values given.")
    return out


def _pack(s: Any, it) -> Any:
    if isinstance(s, SparseTensor | SparseSlot):
        return _sparse([_pack(None, it) for _ in range(3)])
    if isinstance(s, Mapping):
        packed = {k: _pack(s[k], it) for k in sorted(s)}
        return type(s)((k, packed[k]) for k in s) if type(s) is not dict else \
            {k: packed[k] for k in s}
    if isinstance(s, tuple) and hasattr(s, "_fields"):
        return type(s)(*[_pack(v, it) for v in s])
    if isinstance(s, tuple):
        return type(s)(_pack(v, it) for v in s)
    try:
        return next(it)
    except StopIteration:
        raise ValueError("Structure has more leaves than values given.") from None


def map_structure(fn: Callable, *structures: Any) -> Any:
    """``fn`` applied leaf-wise; all structures must have the same layout."""
    flats = [flatten(s) for s in structures]
    n = len(flats[0])
    for f in flats[1:]:
        if len(f) != n:
            raise ValueError(f"The two structures don't have the same number of elements: "
                             f"{n} vs {len(f)}.")
    return pack_as(structures[0], [fn(*leaves) for leaves in zip(*flats)])


def same_layout(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` nest the same way (leaf values are not compared)."""
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return isinstance(a, Mapping) and isinstance(b, Mapping) and \
            sorted(a) == sorted(b) and all(same_layout(a[k], b[k]) for k in a)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and \
            len(a) == len(b) and all(same_layout(x, y) for x, y in zip(a, b))
    return True
