"""Gradient clipping: ``clip_by_norm``, ``clip_by_global_norm``, ``global_norm``,
``clip_by_average_norm`` (``clip_by_value`` lives with the math ops)."""

from __future__ import annotations

from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t * clip_norm / max(l2norm(t, axes), clip_norm)``."""
    with name_scope(name, "clip_by_norm") as scope:
        t = convert_to_tensor(t)
        clip_norm = convert_to_tensor(clip_norm, dtype=t.dtype)
        l2sum = R.reduce_sum(t * t, axes, keepdims=True)
        pos = l2sum > 0
        # a zero tensor must give a zero gradient, not NaN: take sqrt of 1 there
        safe = M.where(pos, l2sum, A.ones_like(l2sum))
        norm = M.where(pos, M.sqrt(safe), l2sum)
        clipped = t * clip_norm / M.maximum(norm, clip_norm)
        return A.identity(clipped, name=scope)


def global_norm(t_list, name=None):
    """``sqrt(sum(l2norm(t) ** 2 for t in t_list))``, ignoring ``None`` entries."""
    if isinstance(t_list, (str, bytes)) or not hasattr(t_list, "__iter__"):
        raise TypeError("t_list should be a sequence")
    t_list = [t for t in t_list if t is not None]
    with name_scope(name, "global_norm") as scope:
        if not t_list:
            return convert_to_tensor(0.0, name=scope)
        sums = []
        for t in t_list:
            t = convert_to_tensor(t)
            sums.append(R.reduce_sum(t * t))
        return M.sqrt(M.add_n(sums), name="global_norm")    # TF1: global_norm/global_norm


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scales every tensor by ``clip_norm / max(global_norm, clip_norm)``.

    Returns ``(list_clipped, global_norm)``; ``None`` entries stay ``None``. A non-finite
    global norm makes every output NaN (TF1's behaviour).
    """
    if isinstance(t_list, (str, bytes)) or not hasattr(t_list, "__iter__"):
        raise TypeError("t_list should be a sequence")
    t_list = list(t_list)
    # TF1's names: the norm is global_norm/global_norm (outside this scope), the clipped
    # tensors clip_by_global_norm/clip_by_global_norm/_<i>
    norm = global_norm(t_list, name) if use_norm is None else convert_to_tensor(use_norm)
    with name_scope(name, "clip_by_global_norm") as scope:
        clip = convert_to_tensor(clip_norm, dtype=norm.dtype)
        scale = clip * M.minimum(1.0 / norm, 1.0 / clip)
        finite = M.is_finite(norm)
        nan = convert_to_tensor(float("nan"), dtype=norm.dtype)
        scale = M.where(finite, scale, nan)
        out = []
        for i, t in enumerate(t_list):
            if t is None:
                out.append(None)
                continue
            t = convert_to_tensor(t)
            s = scale if scale.dtype == t.dtype else M.cast(scale, t.dtype)
            out.append(A.identity(t * s, name=f"{scope}_{i}"))
        return out, norm


def clip_by_average_norm(t, clip_norm, name=None):
    """``t * clip_norm / max(l2norm(t) / size(t), clip_norm)``."""
    with name_scope(name, "clip_by_average_norm") as scope:
        t = convert_to_tensor(t)
        clip_norm = convert_to_tensor(clip_norm, dtype=t.dtype)
        n = M.cast(A.size(t), t.dtype)
        l2norm_inv = M.rsqrt(R.reduce_sum(t * t))
        return A.identity(t * clip_norm * M.minimum(l2norm_inv * n, 1.0 / clip_norm),
                          name=scope)
