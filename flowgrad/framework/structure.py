"""Nested structures of tensors (TF's ``nest``): flatten and rebuild lists, tuples, dicts.

Namedtuples keep their type, dicts are flattened in sorted key order, as in TensorFlow;
anything else is a leaf.
"""

from __future__ import annotations

from collections.abc import Mapping


def is_sequence(s) -> bool:
    return isinstance(s, list | tuple | Mapping)


def flatten(structure) -> list:
    """The leaves of ``structure``, depth first."""
    out: list = []
    _flatten(structure, out)
    return out


def _flatten(s, out: list) -> None:
    if isinstance(s, Mapping):
        for k in sorted(s):
            _flatten(s[k], out)
    elif isinstance(s, list | tuple):
        for v in s:
            _flatten(v, out)
    else:
        out.append(s)


def pack_sequence_as(structure, flat_sequence):
    """Rebuilds ``structure``'s shape from the leaves in ``flat_sequence``."""
    flat = list(flat_sequence)
    n = len(flatten(structure))
    if n != len(flat):
        raise ValueError(f"Could not pack sequence: structure has {n} elements but "
                         f"flat_sequence has {len(flat)}.")
    it = iter(flat)
    return _pack(structure, it)


def _pack(s, it):
    if isinstance(s, Mapping):
        vals = {k: _pack(s[k], it) for k in sorted(s)}
        return type(s)((k, vals[k]) for k in s) if type(s) is not dict else \
            {k: vals[k] for k in s}
    if isinstance(s, tuple) and hasattr(s, "_fields"):
        return type(s)(*[_pack(v, it) for v in s])
    if isinstance(s, list | tuple):
        return type(s)(_pack(v, it) for v in s)
    return next(it)


def map_structure(fn, *structures):
    """Applies ``fn`` to the corresponding leaves of ``structures``; keeps the first's shape."""
    flats = [flatten(s) for s in structures]
    for f in flats[1:]:
        if len(f) != len(flats[0]):
            raise ValueError("The two structures don't have the same number of elements: "
                             f"{len(flats[0])} vs {len(f)}.")
    return pack_sequence_as(structures[0], [fn(*xs) for xs in zip(*flats)])


def assert_same_structure(a, b) -> None:
    if _signature(a) != _signature(b):
        raise ValueError(f"The two structures don't have the same nested structure: {a!r} "
                         f"vs {b!r}.")


def _signature(s):
    if isinstance(s, Mapping):
        return ("dict", tuple((k, _signature(s[k])) for k in sorted(s)))
    if isinstance(s, list | tuple):
        return ("seq", tuple(_signature(v) for v in s))
    return "leaf"
