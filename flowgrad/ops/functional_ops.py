"""``tf.map_fn``, ``tf.scan``, ``tf.foldl`` and ``tf.foldr``: loops over the leading axis.

All four are one ``While`` op (``control_flow.build_loop``) that slices its sequences per
iteration and stacks what each iteration emits, so their gradients are the loop's.
"""

from __future__ import annotations

from typing import Callable

from flowgrad.framework import structure as nest
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops.control_flow import build_loop


def _seqs(elems) -> list:
    flat = [convert_to_tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise ValueError("elems must not be empty")
    return flat


def map_fn(fn: Callable, elems, dtype=None, parallel_iterations=None, back_prop: bool = True,
           swap_memory: bool = False, infer_shape: bool = True, name: str | None = None):
    """``tf.map_fn``: ``fn`` applied to each slice ``elems[i]``; results stacked.

    >>> tf.map_fn(lambda x: x * x, tf.constant([1.0, 2.0, 3.0]))   # [1, 4, 9]
    """
    seqs = _seqs(elems)
    structure: list = []

    def body(_, xs):
        out = fn(nest.pack_sequence_as(elems, list(xs)))
        structure.append(out)
        return [], [convert_to_tensor(o) for o in nest.flatten(out)]
    _, stacked = build_loop(None, body, [], seqs, back_prop=back_prop, name=name or "map")
    return nest.pack_sequence_as(structure[0], stacked)


def scan(fn: Callable, elems, initializer=None, parallel_iterations: int = 10,
         back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True,
         reverse: bool = False, name: str | None = None):
    """``tf.scan``: ``acc = fn(acc, elems[i])`` for each i; returns every ``acc`` stacked.

    Without ``initializer`` the first element (the last when ``reverse``) starts the
    accumulator and is the first (last) output.
    """
    seqs = _seqs(elems)
    first = None
    if initializer is None:
        if reverse:
            first = [s[-1] for s in seqs]
            seqs = [s[:-1] for s in seqs]
        else:
            first = [s[0] for s in seqs]
            seqs = [s[1:] for s in seqs]
        acc_structure = elems
        init = first
    else:
        acc_structure = initializer
        init = [convert_to_tensor(v) for v in nest.flatten(initializer)]

    def body(acc, xs):
        out = fn(nest.pack_sequence_as(acc_structure, list(acc)),
                 nest.pack_sequence_as(elems, list(xs)))
        flat = [convert_to_tensor(o) for o in nest.flatten(out)]
        if len(flat) != len(init):
            raise ValueError(f"scan: fn returned {len(flat)} tensors where the accumulator has "
                             f"{len(init)}")
        return flat, flat
    _, stacked = build_loop(None, body, init, seqs, back_prop=back_prop, reverse=reverse,
                            name=name or "scan")
    if first is not None:
        parts = [(s, A.expand_dims(f, 0)) for s, f in zip(stacked, first)]
        stacked = [A.concat([s, f] if reverse else [f, s], 0) for s, f in parts]
    return nest.pack_sequence_as(acc_structure, stacked)


def _fold(fn, elems, initializer, back_prop, name, reverse):
    seqs = _seqs(elems)
    if initializer is None:
        k = -1 if reverse else 0
        init = [s[k] for s in seqs]
        seqs = [s[:-1] if reverse else s[1:] for s in seqs]
        acc_structure = elems
    else:
        init = [convert_to_tensor(v) for v in nest.flatten(initializer)]
        acc_structure = initializer

    def body(acc, xs):
        out = fn(nest.pack_sequence_as(acc_structure, list(acc)),
                 nest.pack_sequence_as(elems, list(xs)))
        return [convert_to_tensor(o) for o in nest.flatten(out)], []
    final, _ = build_loop(None, body, init, seqs, back_prop=back_prop, reverse=reverse,
                          name=name)
    return nest.pack_sequence_as(acc_structure, final)


def foldl(fn: Callable, elems, initializer=None, parallel_iterations: int = 10,
          back_prop: bool = True, swap_memory: bool = False, name: str | None = None):
    """``tf.foldl``: ``acc = fn(acc, x)`` over ``elems`` from first to last; the final acc."""
    return _fold(fn, elems, initializer, back_prop, name or "foldl", False)


def foldr(fn: Callable, elems, initializer=None, parallel_iterations: int = 10,
          back_prop: bool = True, swap_memory: bool = False, name: str | None = None):
    """``tf.foldr``: ``acc = fn(acc, x)`` over ``elems`` from last to first; the final acc."""
    return _fold(fn, elems, initializer, back_prop, name or "foldr", True)
