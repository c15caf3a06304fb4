"""Scatter updates on variables (``tf.scatter_update``, ``scatter_add``, ...,
``scatter_nd_update``): ref-input ops that replace the variable's value with an updated copy,
never modifying the old array in place."""

from __future__ import annotations

import builtins

from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, convert_to_tensor, op)
from flowgrad.ops._xp import ufunc_at
from flowgrad.ops.indexing_ops import _scatter_add
from flowgrad.ops.state_ops import _ref_tensor




def _require_int(node: NodeSpec, i: int, what: str) -> None:
    if not node.inputs[i].dtype.is_integer:
        node.fail(f"{what} must be int32 or int64, got {node.inputs[i].dtype.name}", TypeError)



# ----- scatter updates on variables -------------------------------------------------------------
def _scatter_shape(node: NodeSpec):
    ref, idx, upd = node.inputs
    _require_int(node, 1, "indices")
    if ref.dtype != upd.dtype:
        node.fail(f"updates dtype {upd.dtype.name} differs from variable dtype "
                  f"{ref.dtype.name}", TypeError)
    if ref.shape.ndims is not None and idx.shape.ndims is not None and upd.shape.ndims:
        want = idx.shape.concatenate(ref.shape[1:])
        if not want.is_compatible_with(upd.shape):
            node.fail(f"updates must have shape indices.shape + variable.shape[1:] = {want}, "
                      f"got {upd.shape}")
    return ref.shape, ref.dtype


_SCATTER_UFUNC = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide",
                  "max": "maximum", "min": "minimum"}


@op("ScatterUpdateOp", shape=_scatter_shape, ref_inputs=(0,), stateful=True)
def _scatter(xp, ref, indices, updates, *, mode, use_locking=False):
    old = ref.get()
    n = old.shape[0]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n):
        bad = indices[(indices < 0) | (indices >= n)].reshape(-1)[0]
        raise IndexError(f"indices contains {int(bad)}, which is not in [0, {n}) "
                         f"(variable {ref.name})")
    new = old.copy()                   # values are replaced, never changed in place
    upd = xp.broadcast_to(updates, indices.shape + old.shape[1:])
    if mode == "update":
        new[indices] = upd
    elif mode in ("add", "sub"):     # the backend's scatter-add (repeated indices summed)
        flat = upd.reshape((-1,) + old.shape[1:])
        _scatter_add(xp, new, indices.reshape(-1), flat if mode == "add" else -flat)
    elif mode == "div" and old.dtype.kind in "iu":
        ufunc_at(xp, "floor_divide", new, indices, upd)
    else:
        ufunc_at(xp, _SCATTER_UFUNC[mode], new, indices, upd)
    ref.set(new)
    return new


NotDifferentiable("ScatterUpdateOp")


def _scatter_api(mode: str, type_name: str):
    def scatter(ref, indices, updates, use_locking: bool = False, name=None) -> Tensor:
        r = _ref_tensor(ref)
        return _scatter(r, indices, convert_to_tensor(updates, dtype=r.dtype), mode=mode,
                        name=name or type_name)
    scatter.__name__ = f"scatter_{mode}"
    scatter.__doc__ = (f"``tf.scatter_{mode}``: applies ``updates`` ({mode}) to the rows "
                       "``indices`` of the variable ``ref``; evaluates to its new value.")
    return scatter


scatter_update = _scatter_api("update", "ScatterUpdate")
scatter_add = _scatter_api("add", "ScatterAdd")
scatter_sub = _scatter_api("sub", "ScatterSub")
scatter_mul = _scatter_api("mul", "ScatterMul")
scatter_div = _scatter_api("div", "ScatterDiv")
scatter_max = _scatter_api("max", "ScatterMax")
scatter_min = _scatter_api("min", "ScatterMin")


def _scatter_nd_shape(node: NodeSpec):
    ref, idx, upd = node.inputs
    _require_int(node, 1, "indices")
    if ref.dtype != upd.dtype:
        node.fail(f"updates dtype {upd.dtype.name} differs from variable dtype "
                  f"{ref.dtype.name}", TypeError)
    return ref.shape, ref.dtype


@op("ScatterNdUpdateOp", shape=_scatter_nd_shape, ref_inputs=(0,), stateful=True)
def _scatter_nd_ref(xp, ref, indices, updates, *, mode, use_locking=False):
    new = ref.get().copy()
    k = indices.shape[-1]
    key = tuple(indices[..., j] for j in builtins.range(k))
    if mode == "update":
        new[key] = updates
    else:
        ufunc_at(xp, _SCATTER_UFUNC[mode], new, key, updates)
    ref.set(new)
    return new


NotDifferentiable("ScatterNdUpdateOp")


def scatter_nd_update(ref, indices, updates, use_locking: bool = True, name=None) -> Tensor:
    """``tf.scatter_nd_update``: ``ref[indices[..., 0], indices[..., 1], ...] = updates``."""
    r = _ref_tensor(ref)
    return _scatter_nd_ref(r, indices, convert_to_tensor(updates, dtype=r.dtype), mode="update",
                           name=name or "ScatterNdUpdate")


def scatter_nd_add(ref, indices, updates, use_locking: bool = False, name=None) -> Tensor:
    """``tf.scatter_nd_add``: adds ``updates`` at the ``indices`` of the variable."""
    r = _ref_tensor(ref)
    return _scatter_nd_ref(r, indices, convert_to_tensor(updates, dtype=r.dtype), mode="add",
                           name=name or "ScatterNdAdd")


def scatter_nd_sub(ref, indices, updates, use_locking: bool = False, name=None) -> Tensor:
    r = _ref_tensor(ref)
    return _scatter_nd_ref(r, indices, convert_to_tensor(updates, dtype=r.dtype), mode="sub",
                           name=name or "ScatterNdSub")
