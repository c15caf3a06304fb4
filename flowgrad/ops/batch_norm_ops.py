"""Fused batch normalisation: ``FusedBatchNormV3`` and ``FusedBatchNormGradV3``, as in TF.

Composed of primitive ops, a training-mode batch norm is five passes over the activations
forward and about a dozen backward (autodiff through mean, variance, rsqrt and two
broadcasts), each allocating.  These two kernels need five forward and seven backward:
per-channel sums are GEMVs (``ones @ x.reshape(-1, C)``) and einsum dot products (no
temporaries), the rest in-place elementwise work on channels-last rows.  ResNet-50 has 53
of them on its largest tensors.

The gradient op's own gradient (second order) is the backward formula rebuilt from
primitive ops and differentiated, recomputing the batch statistics from ``x`` in training
as TF's ``_FusedBatchNormGradGrad`` does.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.registry import NodeSpec, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.conv_geometry import use_onednn
from flowgrad.ops.reduce_ops import _leading_sum
from flowgrad.runtime import onednn

_FORMATS = ("NHWC", "NCHW", "NDHWC", "NCDHW")


def _c_axis(data_format: str, rank: int) -> int:
    return 1 if data_format.startswith("NC") else rank - 1


def _check_format(node: NodeSpec) -> None:
    fmt = node.attrs["data_format"]
    if fmt not in _FORMATS:
        node.fail(f"data_format must be one of {', '.join(_FORMATS)}, got {fmt!r}")


def _channels(node: NodeSpec, x) -> int | None:
    if x.shape.ndims is None:
        return None
    if x.shape.ndims not in (4, 5):
        node.fail(f"x must be 4-D or 5-D, got shape {x.shape}")
    return x.shape[_c_axis(node.attrs["data_format"], x.shape.ndims)]


def _check_vectors(node: NodeSpec, c, vectors) -> None:
    for name, t in vectors:
        if t.shape.ndims is not None and t.shape.ndims != 1:
            node.fail(f"{name} must be 1-D, got shape {t.shape}")
        n = t.shape[0] if t.shape.ndims == 1 else None
        if c is not None and n is not None and n != c:
            node.fail(f"{name} has {n} entries but x has {c} channels "
                      f"({node.attrs['data_format']})")


def _param_dtype(node: NodeSpec, x, params) -> None:
    if not x.dtype.is_floating:
        node.fail(f"x must be floating point, got {x.dtype.name}", TypeError)
    want = _dt.float32 if x.dtype == _dt.float16 else x.dtype
    for name, t in params:
        if t.dtype != want:
            node.fail(f"{name} must be {want.name} for x of {x.dtype.name}, got "
                      f"{t.dtype.name}", TypeError)


# ----- channels-last 2-D views ---------------------------------------------------------------
def _rows(xp, x, data_format: str, dtype):
    """``(m, C)`` contiguous rows of ``x`` in ``dtype`` (a view for contiguous NHWC)."""
    if data_format.startswith("NC"):
        x = xp.moveaxis(x, 1, -1)
    x = xp.ascontiguousarray(x, dtype=dtype)
    return x.reshape(-1, x.shape[-1])


def _unrows(xp, y2, shape, data_format: str, dtype):
    """Inverse of ``_rows``: back to ``shape`` (``data_format``) in ``dtype``."""
    if data_format.startswith("NC"):
        nhwc = (shape[0],) + tuple(shape[2:]) + (shape[1],)
        y = xp.moveaxis(y2.reshape(nhwc), -1, 1)
    else:
        y = y2.reshape(shape)
    return xp.ascontiguousarray(y, dtype=dtype)


def _colsum(xp, x2):
    """Per-channel sums of ``(m, C)`` rows (a GEMV)."""
    s = _leading_sum(xp, x2, (0,), False)
    return x2.sum(axis=0) if s is None else s


def _coldot(xp, a2, b2):
    """Per-channel dot products of two ``(m, C)`` row sets, in one read pass (no temp)."""
    return xp.einsum("ij,ij->j", a2, b2)


def _work_dtype(x) -> np.dtype:
    """float32 for half-precision inputs (TF's fused kernels do the same), else x's own."""
    return np.dtype(np.float32) if x.dtype.itemsize < 4 else np.dtype(x.dtype)


# ----- FusedBatchNormV3 ----------------------------------------------------------------------
def _fbn_shape(node: NodeSpec):
    _check_format(node)
    x, scale, offset, mean, variance = node.inputs
    _param_dtype(node, x, [("scale", scale), ("offset", offset), ("mean", mean),
                           ("variance", variance)])
    c = _channels(node, x)
    _check_vectors(node, c, [("scale", scale), ("offset", offset)] +
                   ([] if node.attrs["is_training"] else [("mean", mean),
                                                          ("variance", variance)]))
    vec = TensorShape([c])
    p = scale.dtype
    return [(x.shape, x.dtype), (vec, p), (vec, p), (vec, p), (vec, p), (TensorShape([0]), p)]


@op("FusedBatchNormV3", shape=_fbn_shape, broadcasting=False)
def fused_batch_norm_v3(xp, x, scale, offset, mean, variance, *, epsilon=1e-4,
                        exponential_avg_factor=1.0, data_format="NHWC", is_training=True):
    """``(y, batch_mean, batch_variance, reserve_1, reserve_2, reserve_3)``.

    Training: ``y`` uses the batch statistics (biased variance); ``batch_variance`` is the
    unbiased estimate (the one moving averages take); with ``exponential_avg_factor`` f < 1
    the two batch outputs are ``(1 - f) * input + f * batch``.  Inference: ``mean`` and
    ``variance`` normalise and are returned.  ``reserve_1/2`` keep the batch mean and biased
    variance for the gradient.
    """
    if _onednn(xp, data_format, x, scale, offset) and (is_training or _onednn(
            xp, data_format, mean, variance)):
        out = _fused_batch_norm_onednn(x, scale, offset, mean, variance, epsilon,
                                       exponential_avg_factor, is_training)
        if out is not None:
            return out
    wd = _work_dtype(x)
    x2 = _rows(xp, x, data_format, wd)
    m, c = x2.shape
    if scale.shape[0] != c:
        raise ValueError(f"FusedBatchNormV3: scale has {scale.shape[0]} entries but x has {c} "
                         f"channels (x shape {x.shape}, {data_format})")
    eps = wd.type(epsilon)
    if is_training:
        mu = _colsum(xp, x2) / wd.type(max(m, 1))
        d = x2 - mu
        var = _coldot(xp, d, d) / wd.type(max(m, 1))
    else:
        mu, var = mean.astype(wd, copy=False), variance.astype(wd, copy=False)
        d = x2 - mu
    k = scale.astype(wd, copy=False) / xp.sqrt(var + eps)
    d *= k
    d += offset.astype(wd, copy=False)
    y = _unrows(xp, d, x.shape, data_format, x.dtype)
    pd = scale.dtype
    if not is_training:
        return (y, mean.copy(), variance.copy(), mean.copy(), variance.copy(),
                xp.zeros(0, dtype=pd))
    unbiased = var * wd.type(m / max(m - 1, 1))
    f = exponential_avg_factor
    bm, bv = mu, unbiased
    if f != 1.0:
        bm = (1.0 - f) * mean + f * mu
        bv = (1.0 - f) * variance + f * unbiased
    return (y, bm.astype(pd), bv.astype(pd), mu.astype(pd), var.astype(pd),
            xp.zeros(0, dtype=pd))


def _onednn(xp, data_format: str, *arrays) -> bool:
    """Float32 channels-last batch norms on the CPU run on oneDNN where it is installed
    (ResNet-50's at batch 4: forward 3x, gradient 3-5x faster than the numpy kernels)."""
    return not data_format.startswith("NC") and use_onednn(xp, *arrays)


def _fused_batch_norm_onednn(x, scale, offset, mean, variance, epsilon, factor, training):
    c = lambda a: np.ascontiguousarray(a)  # noqa: E731
    if not training:
        y = onednn.batch_norm(c(x), c(scale), c(offset), epsilon, c(mean), c(variance))
        return None if y is None else (y, mean.copy(), variance.copy(), mean.copy(),
                                       variance.copy(), np.zeros(0, np.float32))
    out = onednn.batch_norm(c(x), c(scale), c(offset), epsilon)
    if out is None:
        return None
    y, mu, var = out
    m = x.size // x.shape[-1]
    unbiased = var * np.float32(m / max(m - 1, 1))
    bm, bv = mu.copy(), unbiased
    if factor != 1.0:
        bm = ((1.0 - factor) * mean + factor * mu).astype(np.float32)
        bv = ((1.0 - factor) * variance + factor * unbiased).astype(np.float32)
    return y, bm, bv, mu, var, np.zeros(0, np.float32)


@fused_batch_norm_v3.device_kernel("cuda")
def _fused_batch_norm_v3_cuda(xp, x, scale, offset, mean, variance, *, epsilon=1e-4,
                              exponential_avg_factor=1.0, data_format="NHWC",
                              is_training=True):
    """Training on channels-last arrays in three generated kernels (``runtime.cuda``)."""
    if is_training and not data_format.startswith("NC"):
        from flowgrad.runtime import cuda  # noqa: PLC0415 - imports CuPy
        out = cuda.batch_norm_train(x, scale, offset, mean, variance, epsilon,
                                    exponential_avg_factor)
        if out is not None:
            return out
    return fused_batch_norm_v3.opdef.kernel(
        xp, x, scale, offset, mean, variance, epsilon=epsilon,
        exponential_avg_factor=exponential_avg_factor, data_format=data_format,
        is_training=is_training)


def _zeros(t) -> bool:
    return t is None or t.op.type == "ZerosLike"


@fused_batch_norm_v3.grad
def _fused_batch_norm_v3_grad(op_, dy, dmean_out, dvar_out, *_):
    """``FusedBatchNormGradV3`` for ``y``, plus what flows into the batch statistics.

    TF drops the gradients of ``batch_mean``/``batch_variance`` and, in inference, of the
    ``mean``/``variance`` inputs; they are added here (with primitive ops, only where a
    consumer asks for them) so the gradient is the true derivative of every output.  The
    reserve outputs are not differentiable."""
    x, scale, _, mean_in, var_in = op_.inputs
    a = op_.attrs
    training, eps, fmt = a["is_training"], a["epsilon"], a["data_format"]
    # gradients() hands a multi-output op zeros for its unused outputs (as TF does): the
    # batch statistics usually only feed moving averages
    dmean_out, dvar_out = (None if _zeros(d) else d for d in (dmean_out, dvar_out))
    dx = dscale = doffset = None
    if dy is not None:
        r1, r2 = (op_.outputs[3], op_.outputs[4]) if training else (mean_in, var_in)
        dx, dscale, doffset, _, _ = fused_batch_norm_grad_v3(
            dy, x, scale, r1, r2, op_.outputs[5], epsilon=eps, data_format=fmt,
            is_training=training)
    if not training:
        dmean_in, dvar_in = dmean_out, dvar_out
        if dy is not None:
            inv = M.rsqrt(var_in + eps)
            dm = -doffset * scale * inv
            dv = dscale * scale * inv * inv * -0.5
            dmean_in = dm if dmean_in is None else dmean_in + dm
            dvar_in = dv if dvar_in is None else dvar_in + dv
        return [dx, dscale, doffset, dmean_in, dvar_in]
    f = a["exponential_avg_factor"]
    if dmean_out is not None or dvar_out is not None:
        rank = x.shape.ndims
        ca = _c_axis(fmt, rank)
        axes = [i for i in range(rank) if i != ca]
        bshape = [1] * rank
        bshape[ca] = -1
        wd = scale.dtype
        xw = M.cast(x, wd)
        m = M.cast(R.reduce_prod(A.gather(A.shape(xw), axes)), wd)
        extra = None
        if dmean_out is not None:
            extra = A.reshape(dmean_out, bshape) * (f / m)
        if dvar_out is not None:
            xmu = xw - R.reduce_mean(xw, axes, keepdims=True)
            t = A.reshape(dvar_out, bshape) * (2.0 * f / M.maximum(m - 1.0, 1.0)) * xmu
            extra = t if extra is None else extra + t
        extra = M.cast(extra, x.dtype)
        dx = extra if dx is None else dx + extra
    keep = 1.0 - f
    return [dx, dscale, doffset,
            dmean_out * keep if dmean_out is not None and f != 1.0 else None,
            dvar_out * keep if dvar_out is not None and f != 1.0 else None]


# ----- FusedBatchNormGradV3 ------------------------------------------------------------------
def _fbn_grad_shape(node: NodeSpec):
    _check_format(node)
    dy, x, scale, r1, r2, _ = node.inputs
    if dy.dtype != x.dtype:
        node.fail(f"y_backprop ({dy.dtype.name}) and x ({x.dtype.name}) dtypes differ",
                  TypeError)
    if not dy.shape.is_compatible_with(x.shape):
        node.fail(f"y_backprop has shape {dy.shape} but x has {x.shape}")
    _param_dtype(node, x, [("scale", scale), ("reserve_space_1", r1),
                           ("reserve_space_2", r2)])
    c = _channels(node, x)
    _check_vectors(node, c, [("scale", scale), ("reserve_space_1", r1),
                             ("reserve_space_2", r2)])
    vec = TensorShape([c])
    p = scale.dtype
    return [(x.shape, x.dtype), (vec, p), (vec, p), (TensorShape([0]), p),
            (TensorShape([0]), p)]


@op("FusedBatchNormGradV3", shape=_fbn_grad_shape, broadcasting=False)
def fused_batch_norm_grad_v3(xp, y_backprop, x, scale, reserve_space_1, reserve_space_2,
                             reserve_space_3, *, epsilon=1e-4, data_format="NHWC",
                             is_training=True):
    """``(x_backprop, scale_backprop, offset_backprop, reserve_4, reserve_5)``."""
    if _onednn(xp, data_format, y_backprop, x, scale, reserve_space_1, reserve_space_2):
        c = np.ascontiguousarray
        out = onednn.batch_norm_backward(c(y_backprop), c(x), c(scale), c(reserve_space_1),
                                         c(reserve_space_2), epsilon, is_training)
        if out is not None:
            empty = np.zeros(0, np.float32)
            return (*out, empty, empty.copy())
    wd = _work_dtype(x)
    x2 = _rows(xp, x, data_format, wd)
    dy2 = _rows(xp, y_backprop, data_format, wd)
    m = x2.shape[0]
    mu = reserve_space_1.astype(wd, copy=False)
    inv = 1 / xp.sqrt(reserve_space_2.astype(wd, copy=False) + wd.type(epsilon))
    g = scale.astype(wd, copy=False)
    sum_dy = _colsum(xp, dy2)
    xmu = x2 - mu
    sum_dy_xmu = _coldot(xp, xmu, dy2)
    pd = scale.dtype
    if is_training:
        # dx = g*inv/m * (m*dy - sum(dy) - xmu*inv^2*sum(dy*xmu))
        k = g * inv
        xmu *= -(k * inv * inv * sum_dy_xmu / wd.type(max(m, 1)))
        xmu += dy2 * k
        xmu -= k * sum_dy / wd.type(max(m, 1))
        dx2 = xmu
    else:
        dx2 = dy2 * (g * inv)
    dx = _unrows(xp, dx2, x.shape, data_format, x.dtype)
    empty = xp.zeros(0, dtype=pd)
    return dx, (sum_dy_xmu * inv).astype(pd), sum_dy.astype(pd), empty, empty.copy()


@fused_batch_norm_grad_v3.device_kernel("cuda")
def _fused_batch_norm_grad_v3_cuda(xp, y_backprop, x, scale, reserve_space_1, reserve_space_2,
                                   reserve_space_3, *, epsilon=1e-4, data_format="NHWC",
                                   is_training=True):
    """Training gradient on channels-last arrays in three generated kernels."""
    if is_training and not data_format.startswith("NC"):
        from flowgrad.runtime import cuda  # noqa: PLC0415 - imports CuPy
        out = cuda.batch_norm_grad_train(y_backprop, x, scale, reserve_space_1,
                                         reserve_space_2, epsilon)
        if out is not None:
            return out
    return fused_batch_norm_grad_v3.opdef.kernel(
        xp, y_backprop, x, scale, reserve_space_1, reserve_space_2, reserve_space_3,
        epsilon=epsilon, data_format=data_format, is_training=is_training)


def _composite_grad(dy, x, scale, mean, var, epsilon, data_format, training):
    """``(dx, dscale, doffset)`` of batch norm from primitive ops (for second order)."""
    rank = x.shape.ndims
    ca = _c_axis(data_format, rank)
    axes = [i for i in range(rank) if i != ca]
    bshape = [1] * rank
    bshape[ca] = -1
    wd = _dt.float32 if x.dtype == _dt.float16 else x.dtype
    xw, dyw = M.cast(x, wd), M.cast(dy, wd)
    if training:
        mean = R.reduce_mean(xw, axes, keepdims=True)
        xmu = xw - mean
        var = R.reduce_mean(M.square(xmu), axes, keepdims=True)
    else:
        xmu = xw - A.reshape(mean, bshape)
        var = A.reshape(var, bshape)
    inv = M.rsqrt(var + epsilon)
    g = A.reshape(scale, bshape)
    sum_dy = R.reduce_sum(dyw, axes, keepdims=True)
    sum_dy_xmu = R.reduce_sum(dyw * xmu, axes, keepdims=True)
    if training:
        m = M.cast(R.reduce_prod(A.gather(A.shape(xw), axes)), wd)
        dx = g * inv * (dyw - sum_dy / m - xmu * inv * inv * sum_dy_xmu / m)
    else:
        dx = dyw * g * inv
    return [M.cast(dx, x.dtype), A.reshape(sum_dy_xmu * inv, [-1]), A.reshape(sum_dy, [-1])]


@fused_batch_norm_grad_v3.grad
def _fused_batch_norm_grad_v3_grad(op_, ddx, ddscale, ddoffset, *_):
    from flowgrad.autodiff.gradients import gradients  # noqa: PLC0415  (cycle)

    dy, x, scale, r1, r2, _ = op_.inputs
    a = op_.attrs
    outs = _composite_grad(dy, x, scale, r1, r2, a["epsilon"], a["data_format"],
                           a["is_training"])
    pairs = [(o, g) for o, g in zip(outs, (ddx, ddscale, ddoffset)) if g is not None]
    wrt = [dy, x, scale] + ([] if a["is_training"] else [r1, r2])
    # stop at the op's inputs: dy (and x) usually depend on each other in the outer graph
    # (dy is a backprop of activations computed from x), and the outer gradient follows
    # those paths itself -- walking them here would count them twice
    grads = gradients([o for o, _ in pairs], wrt, grad_ys=[g for _, g in pairs],
                      stop_gradients=list(op_.inputs))
    return grads[:3] + ([None, None] if a["is_training"] else grads[3:]) + [None]
