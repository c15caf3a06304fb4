"""Neural-network primitives: activations, softmax, bias_add and the fused cross-entropies.

The cross-entropies are single ops whose kernels compute the loss and its gradient
together in a numerically stable way (float32 logits of ±1e4 give finite, exact losses).
"""

from __future__ import annotations

import math

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, convert_to_tensor, op,
                                         require_float)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R


def _float_unary(node: NodeSpec):
    require_float(node)
    return node.inputs[0].shape, node.inputs[0].dtype


# ----- Activations ---------------------------------------------------------------------
@op("Relu", shape=_float_unary)
def relu(xp, features):
    return xp.maximum(features, 0)


@relu.grad
def _relu_grad(op, dy):
    pooled = _through_max_pool(op, dy)
    if pooled is not None:
        return [pooled]
    return [_relu_backprop(dy, op.outputs[0])]


def _through_max_pool(op, dy):
    """ReLU under a max-pool (conv -> relu -> pool, every classic CNN): the pool's gradient
    reaches one cell per window, the window's maximum, and that cell is positive exactly
    when the pooled value is.  So the ReLU mask applies to the pooled gradient, a quarter
    (2x2 windows) of the elements: ``MaxPoolGrad(x, y, ReluGrad(g, y))`` instead of
    ``ReluGrad(MaxPoolGrad(x, y, g), x)``.  The same function; only a gradient that is
    already inf/NaN spreads differently.  None where the pattern does not apply."""
    mp = dy.op
    if mp.type != "MaxPoolGrad" or mp.inputs[0] is not op.outputs[0] or dy.consumers():
        return None
    from flowgrad.ops.pool_ops import max_pool_grad_op  # noqa: PLC0415 (import cycle)

    x, y, g = mp.inputs
    attrs = {k: mp.attrs[k] for k in ("ksize", "strides", "padding", "data_format",
                                      "dilations")}
    return max_pool_grad_op(x, y, _relu_backprop(g, y), **attrs)


@op("ReluGrad", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype), same_dtype=True,
    broadcasting=False)
def _relu_backprop(xp, gradients, features):
    return gradients * (features > 0)


@_relu_backprop.grad
def _relu_backprop_grad(op, ddx):
    return [_relu_backprop(ddx, op.inputs[1]), A.zeros_like(op.inputs[1])]


# ----- Softmax ---------------------------------------------------------------------------
def _softmax_shape(node: NodeSpec):
    require_float(node)
    x = node.inputs[0]
    if x.shape.ndims == 0:
        node.fail("softmax needs at least rank 1")
    return x.shape, x.dtype


@op("Softmax", shape=_softmax_shape)
def _softmax(xp, logits, *, axis=-1):
    e = xp.exp(logits - logits.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


@_softmax.grad
def _softmax_grad(op, dy):
    y = op.outputs[0]
    ax = op.attrs["axis"]
    return [(dy - R._sum(dy * y, axis=(ax,), keepdims=True)) * y]


@op("LogSoftmax", shape=_softmax_shape)
def _log_softmax(xp, logits, *, axis=-1):
    z = logits - logits.max(axis=axis, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))


@_log_softmax.grad
def _log_softmax_grad(op, dy):
    y = op.outputs[0]
    ax = op.attrs["axis"]
    return [dy - M.exp(y) * R._sum(dy, axis=(ax,), keepdims=True)]


def softmax(logits, axis=None, name=None, dim=None):
    """``tf.nn.softmax`` along ``axis`` (default: last)."""
    axis = dim if axis is None else axis
    return _softmax(logits, axis=-1 if axis is None else int(axis), name=name or "Softmax")


def log_softmax(logits, axis=None, name=None, dim=None):
    """``tf.nn.log_softmax``: ``logits - log(sum(exp(logits)))``, computed stably."""
    axis = dim if axis is None else axis
    return _log_softmax(logits, axis=-1 if axis is None else int(axis),
                        name=name or "LogSoftmax")


# ----- Bias ------------------------------------------------------------------------------
def _bias_add_shape(node: NodeSpec):
    v, b = node.inputs
    if b.shape.ndims not in (None, 1):
        node.fail(f"bias must be 1-D, got shape {b.shape}")
    if v.shape.ndims is not None and v.shape.ndims < 2:
        node.fail(f"value must be at least rank 2, got shape {v.shape}")
    nchw = node.attrs["data_format"] in ("NCHW", "NCW", "NCDHW")
    c = v.shape[1 if nchw else -1] if v.shape.ndims is not None else None
    if c is not None and b.shape.ndims == 1 and b.shape[0] is not None and b.shape[0] != c:
        node.fail(f"bias has {b.shape[0]} elements but the value's channel dimension is {c}")
    return v.shape, v.dtype


@op("BiasAdd", shape=_bias_add_shape, same_dtype=True, broadcasting=False)
def _bias_add(xp, value, bias, *, data_format="NHWC"):
    if data_format in ("NCHW", "NCW", "NCDHW"):
        return value + bias.reshape((-1,) + (1,) * (value.ndim - 2))
    if tiled_bias(value.shape) and value.flags.c_contiguous:
        # a few channels: numpy broadcasts a 6-element row 2x slower than a row of W*C
        k = value.shape[-2]
        return (value.reshape(-1, k * bias.shape[0]) + xp.tile(bias, k)).reshape(value.shape)
    return value + bias


def tiled_bias(shape) -> bool:
    """Whether a channels-last bias add is faster over rows of ``W*C`` (few channels)."""
    return shape is not None and len(shape) >= 3 and None not in shape and \
        shape[-1] < 32 and math.prod(shape) >= 4096


@_bias_add.grad
def _bias_add_grad(op, dy):
    fmt = op.attrs["data_format"]
    r = op.inputs[0].shape.ndims
    if fmt in ("NCHW", "NCW", "NCDHW"):
        axes = tuple(i for i in range(r) if i != 1)
    else:
        axes = tuple(range(r - 1))
    return [dy, R._sum(dy, axis=axes, keepdims=False)]


def bias_add(value, bias, data_format=None, name=None):
    """``tf.nn.bias_add``: adds a 1-D bias along the channel axis."""
    return _bias_add(value, bias, data_format=data_format or "NHWC", name=name or "BiasAdd")


# ----- Cross-entropies -------------------------------------------------------------------
def _xent_shape(node: NodeSpec):
    logits, labels = node.inputs
    require_float(node, 0)
    if logits.shape.ndims is not None and logits.shape.ndims != 2:
        node.fail(f"logits must be 2-D [batch, classes], got {logits.shape}")
    if not logits.shape.is_compatible_with(labels.shape):
        node.fail(f"logits and labels must have the same shape, got logits {logits.shape} and "
                  f"labels {labels.shape}")
    shp = logits.shape.merge_with(labels.shape)
    return [(TensorShape([shp[0]] if shp.ndims else [None]), logits.dtype),
            (shp, logits.dtype)]


@op("SoftmaxCrossEntropyWithLogits", shape=_xent_shape, same_dtype=True, broadcasting=False)
def _softmax_xent(xp, features, labels):
    z = features - features.max(axis=1, keepdims=True)
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)
    log_p = z - xp.log(s)
    loss = -(labels * log_p).sum(axis=1)
    e /= s
    e *= labels.sum(axis=1, keepdims=True)   # exact also when labels do not sum to 1
    e -= labels
    return loss, e


@_softmax_xent.device_kernel("cuda")
def _softmax_xent_cuda(xp, features, labels):
    """Loss and backprop in one generated kernel (``runtime.cuda.softmax_xent``)."""
    from flowgrad.runtime import cuda  # noqa: PLC0415 - imports CuPy
    out = cuda.softmax_xent(features, labels)
    return out if out is not None else _softmax_xent.opdef.kernel(xp, features, labels)


@_softmax_xent.grad
def _softmax_xent_grad(op, dloss, dbackprop):
    logits, labels = op.inputs
    backprop = op.outputs[1]
    d = A.expand_dims(dloss, -1)
    g_logits = d * backprop
    g_labels = d * negative_log_softmax(logits)
    if dbackprop is not None and dbackprop.op.type not in ("ZerosLike",):
        # backprop = softmax(logits) * sum(labels) - labels
        p = softmax(logits)
        dp = R._sum(dbackprop * p, axis=(1,), keepdims=True)
        total = R._sum(labels, axis=(1,), keepdims=True)
        g_logits = g_logits + (dbackprop - dp) * p * total
        g_labels = g_labels + dp - dbackprop
    return [g_logits, g_labels]


def negative_log_softmax(logits):
    return M.negative(log_softmax(logits))


def _move_last(x, axis):
    x = convert_to_tensor(x)
    r = x.shape.ndims
    if axis in (-1, None) or (r is not None and axis == r - 1):
        return x, None
    perm = [i for i in range(r) if i != axis % r] + [axis % r]
    return A.transpose(x, perm), perm


def _flatten2d(x):
    r = x.shape.ndims
    if r == 2:
        return x, None
    shp = A._shape_of(x)
    return A.reshape(x, [-1, x.shape[-1] if x.shape[-1] is not None else shp[-1]]), shp


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, dim=-1,
                                         name=None, axis=None):
    """Per-example ``-sum(labels * log_softmax(logits))``; gradients flow to labels too."""
    if _sentinel is not None:
        raise ValueError("Only call softmax_cross_entropy_with_logits with named arguments "
                         "(labels=..., logits=..., ...)")
    if labels is None or logits is None:
        raise ValueError("Both labels= and logits= must be given.")
    axis = dim if axis is None else axis
    with name_scope(name, "softmax_cross_entropy_with_logits") as scope:
        logits = convert_to_tensor(logits)
        labels = convert_to_tensor(labels, dtype=logits.dtype)
        logits, perm = _move_last(logits, axis)
        labels, _ = _move_last(labels, axis)
        lf, shp = _flatten2d(logits)
        bf, _ = _flatten2d(labels)
        # TF1's names: the op takes the scope's name, the loss is <scope>/Reshape_2 (TF1
        # reshapes to 2-D and back even when the logits are 2-D already)
        loss, _ = _softmax_xent(lf, bf, name=scope)
        if shp is not None:
            return A.reshape(loss, shp[:-1], name="Reshape_2")
        return A.reshape(loss, [-1], name="Reshape_2")


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1,
                                      name=None, axis=None):
    """TF1's version: like ``_v2`` but no gradient flows into ``labels``."""
    with name_scope(name, "softmax_cross_entropy_with_logits_sg") as scope:
        if labels is not None:
            labels = A.stop_gradient(labels, name="labels_stop_gradient")
        return softmax_cross_entropy_with_logits_v2(_sentinel, labels=labels, logits=logits,
                                                    dim=dim, name=scope, axis=axis)


def _sparse_xent_shape(node: NodeSpec):
    logits, labels = node.inputs
    require_float(node, 0)
    if not labels.dtype.is_integer:
        node.fail(f"labels must be int32 or int64 class indices, got {labels.dtype.name}. "
                  "For one-hot labels use softmax_cross_entropy_with_logits.", TypeError)
    if logits.shape.ndims is not None and logits.shape.ndims != 2:
        node.fail(f"logits must be 2-D [batch, classes], got {logits.shape}")
    if labels.shape.ndims is not None and labels.shape.ndims != 1:
        node.fail(f"labels must be 1-D [batch], got {labels.shape}")
    if logits.shape.ndims and labels.shape.ndims and logits.shape[0] is not None \
            and labels.shape[0] is not None and logits.shape[0] != labels.shape[0]:
        node.fail(f"logits and labels must have the same first dimension, got logits shape "
                  f"{logits.shape} and labels shape {labels.shape}")
    b = labels.shape[0] if labels.shape.ndims else None
    if b is None and logits.shape.ndims:
        b = logits.shape[0]
    return [(TensorShape([b]), logits.dtype), (logits.shape, logits.dtype)]


@op("SparseSoftmaxCrossEntropyWithLogits", shape=_sparse_xent_shape, broadcasting=False)
def _sparse_softmax_xent(xp, features, labels):
    n, k = features.shape
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= k):
        bad = labels[(labels < 0) | (labels >= k)][0]
        raise ValueError(f"Received a label value of {int(bad)} which is outside the valid "
                         f"range of [0, {k}).")
    z = features - features.max(axis=1, keepdims=True)
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = xp.arange(n)
    loss = xp.log(s[:, 0]) - z[rows, labels]
    e /= s
    e[rows, labels] -= 1
    return loss, e


@_sparse_softmax_xent.device_kernel("cuda")
def _sparse_softmax_xent_cuda(xp, features, labels):
    """One generated kernel (``runtime.cuda.sparse_softmax_xent``); an out-of-range label
    gives NaN for its row, as TF's GPU kernel does, instead of the CPU's error."""
    from flowgrad.runtime import cuda  # noqa: PLC0415 - CuPy only on a CUDA device
    out = cuda.sparse_softmax_xent(features, labels)
    return out if out is not None else _sparse_softmax_xent.opdef.kernel(xp, features, labels)


@_sparse_softmax_xent.grad
def _sparse_softmax_xent_grad(op, dloss, dbackprop):
    logits = op.inputs[0]
    g = A.expand_dims(dloss, -1) * op.outputs[1]
    if dbackprop is not None and dbackprop.op.type not in ("ZerosLike",):
        p = softmax(logits)
        g = g + (dbackprop - R._sum(dbackprop * p, axis=(1,), keepdims=True)) * p
    return [g, None]


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                             name=None):
    """Per-example ``-log_softmax(logits)[label]`` with integer class labels."""
    if _sentinel is not None:
        raise ValueError("Only call sparse_softmax_cross_entropy_with_logits with named "
                         "arguments (labels=..., logits=..., ...)")
    if labels is None or logits is None:
        raise ValueError("Both labels= and logits= must be given.")
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits"):
        logits = convert_to_tensor(logits)
        labels = convert_to_tensor(labels)
        if logits.shape.ndims not in (None, 2):
            lf, shp = _flatten2d(logits)
            loss, _ = _sparse_softmax_xent(lf, A.reshape(labels, [-1]))
            return A.reshape(loss, A._shape_of(labels))
        loss, _ = _sparse_softmax_xent(logits, labels)
        return loss


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """``max(x, 0) - x * z + log(1 + exp(-|x|))``: stable for any logits."""
    if _sentinel is not None:
        raise ValueError("Only call sigmoid_cross_entropy_with_logits with named arguments "
                         "(labels=..., logits=..., ...)")
    with name_scope(name, "logistic_loss") as scope:
        logits = convert_to_tensor(logits)
        labels = convert_to_tensor(labels, dtype=logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"logits and labels must have the same shape ({logits.shape} vs "
                             f"{labels.shape})")
        # TF1's formulation: at logits == 0 the gradient is sigmoid(0) - z (abs() would
        # give the wrong subgradient there)
        zeros = A.zeros_like(logits)
        cond = M.greater_equal(logits, zeros)
        relu_logits = M.where(cond, logits, zeros)
        neg_abs_logits = M.where(cond, M.negative(logits), logits)
        return M.add(relu_logits - logits * labels, M.log1p(M.exp(neg_abs_logits)), name=scope)


def weighted_cross_entropy_with_logits(labels=None, logits=None, pos_weight=None, name=None,
                                       targets=None):
    labels = targets if labels is None else labels
    with name_scope(name, "logistic_loss"):
        logits = convert_to_tensor(logits)
        labels = convert_to_tensor(labels, dtype=logits.dtype)
        log_weight = 1.0 + (pos_weight - 1.0) * labels
        return (1.0 - labels) * logits + log_weight * (
            M.log1p(M.exp(M.negative(M.abs(logits)))) + relu(M.negative(logits)))


def xw_plus_b(x, weights, biases, name=None):
    """``tf.nn.xw_plus_b``: ``matmul(x, weights) + biases`` (ops ``xw_plus_b/MatMul``,
    ``xw_plus_b``)."""
    with name_scope(name, "xw_plus_b") as scope:
        x = convert_to_tensor(x, name="x")
        weights = convert_to_tensor(weights, name="weights")
        biases = convert_to_tensor(biases, name="biases")
        return bias_add(M.matmul(x, weights), biases, name=scope)


def relu_layer(x, weights, biases, name=None):
    """``tf.nn.relu_layer``: ``relu(matmul(x, weights) + biases)`` (result ``relu_layer``)."""
    with name_scope(name, "relu_layer") as scope:
        x = convert_to_tensor(x, name="x")
        weights = convert_to_tensor(weights, name="weights")
        biases = convert_to_tensor(biases, name="biases")
        return relu(bias_add(M.matmul(x, weights), biases), name=scope)


def l2_loss(t, name=None):
    """``sum(t ** 2) / 2``."""
    with name_scope(name, "L2Loss") as scope:
        t = convert_to_tensor(t)
        return M.multiply(R.reduce_sum(M.square(t)), 0.5, name=scope)


sigmoid = M.sigmoid
tanh = M.tanh


# ----- More activations (compositions: their gradients, of any order, come for free) -------
def relu6(features, name=None):
    """``min(max(features, 0), 6)``."""
    with name_scope(name, "Relu6") as scope:
        x = convert_to_tensor(features)
        return M.minimum(relu(x), M.cast(6.0, x.dtype), name=scope)


def elu(features, name=None):
    """``x`` if ``x > 0`` else ``exp(x) - 1``."""
    with name_scope(name, "Elu") as scope:
        x = convert_to_tensor(features)
        neg = M.expm1(M.minimum(x, A.zeros_like(x)))   # never exp() of a large positive x
        return M.where(x > 0, x, neg, name=scope)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features, name=None):
    """Scaled ELU with the self-normalizing constants of Klambauer et al. (2017)."""
    with name_scope(name, "Selu") as scope:
        x = convert_to_tensor(features)
        neg = M.expm1(M.minimum(x, A.zeros_like(x))) * _SELU_ALPHA
        return M.multiply(M.where(x > 0, x, neg), _SELU_SCALE, name=scope)


def leaky_relu(features, alpha=0.2, name=None):
    """``max(alpha * x, x)`` for ``alpha <= 1`` (TF1's definition)."""
    with name_scope(name, "LeakyRelu") as scope:
        x = convert_to_tensor(features)
        if x.dtype.is_integer:
            x = M.cast(x, _dt.float32)
        a = convert_to_tensor(alpha, dtype=x.dtype)
        return M.maximum(a * x, x, name=scope)


def crelu(features, name=None, axis=-1):
    """``concat([relu(x), relu(-x)], axis)``: doubles the depth."""
    with name_scope(name, "CRelu") as scope:
        x = convert_to_tensor(features)
        return A.concat([relu(x), relu(M.negative(x))], axis, name=scope)


def softplus(features, name=None):
    """``log(exp(x) + 1)``, computed as ``max(x, 0) + log1p(exp(-|x|))`` (no overflow)."""
    with name_scope(name, "Softplus") as scope:
        x = convert_to_tensor(features)
        return M.add(M.maximum(x, A.zeros_like(x)), M.log1p(M.exp(M.negative(M.abs(x)))),
                     name=scope)


def softsign(features, name=None):
    """``x / (|x| + 1)``."""
    with name_scope(name, "Softsign") as scope:
        x = convert_to_tensor(features)
        return M.truediv(x, M.abs(x) + 1, name=scope)


def swish(features, name=None):
    """``x * sigmoid(x)`` (also ``tf.nn.silu``)."""
    with name_scope(name, "swish") as scope:
        x = convert_to_tensor(features)
        return M.multiply(x, M.sigmoid(x), name=scope)


silu = swish


def gelu(features, approximate: bool = False, name=None):
    """``x * Phi(x)``; with ``approximate=True`` the tanh form of Hendrycks & Gimpel."""
    with name_scope(name, "Gelu") as scope:
        x = convert_to_tensor(features)
        if approximate:
            c = 0.7978845608028654   # sqrt(2 / pi)
            inner = (x + 0.044715 * x * x * x) * c
            return M.multiply(0.5 * x, 1.0 + M.tanh(inner), name=scope)
        return M.multiply(0.5 * x, 1.0 + M.erf(x * 0.7071067811865476), name=scope)


# ----- top_k / in_top_k ----------------------------------------------------------------------
def _top_k_shape(node: NodeSpec):
    x = node.inputs[0]
    k = node.attrs["k"]
    if not (x.dtype.is_floating or x.dtype.is_integer):
        node.fail(f"input must be a real number tensor, got {x.dtype.name}", TypeError)
    if x.shape.ndims == 0:
        node.fail("input must have rank >= 1")
    if k < 0:
        node.fail(f"k must be non-negative, got {k}")
    if x.shape.ndims is None:
        return [(TensorShape(None), x.dtype), (TensorShape(None), _dt.int32)]
    n = x.shape[-1]
    if n is not None and n < k:
        node.fail(f"input must have at least k={k} columns, last dimension is {n}")
    out = TensorShape(x.shape.as_list()[:-1] + [k])
    return [(out, x.dtype), (out, _dt.int32)]


@op("TopKV2", shape=_top_k_shape)
def _top_k(xp, input, *, k, sorted=True):  # noqa: A002
    if input.shape[-1] < k:
        raise ValueError(f"input must have at least k={k} columns, got {input.shape[-1]}")
    # a stable sort of -x: among equal values the lower index comes first, as in TF
    idx = xp.argsort(-input, axis=-1, kind="stable")[..., :k]
    return xp.take_along_axis(input, idx, axis=-1), idx.astype(xp.int32)


@_top_k.grad
def _top_k_grad(op, dvalues, dindices):
    x = op.inputs[0]
    n = x.shape[-1]
    if n is None:
        raise ValueError(f"TopKV2 '{op.name}': the gradient needs a static last dimension, got "
                         f"{x.shape}")
    onehot = A.one_hot(op.outputs[1], n, dtype=x.dtype)     # [..., k, n]
    return [R._sum(A.expand_dims(dvalues, -1) * onehot, axis=(-2,), keepdims=False)]


def top_k(input, k=1, sorted=True, name=None):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest entries along the last axis."""
    return _top_k(input, k=int(k), sorted=bool(sorted), name=name or "TopKV2")


def _in_top_k_shape(node: NodeSpec):
    p, t = node.inputs
    if p.shape.ndims not in (None, 2):
        node.fail(f"predictions must be 2-D [batch, classes], got {p.shape}")
    if t.shape.ndims not in (None, 1):
        node.fail(f"targets must be 1-D [batch], got {t.shape}")
    if not t.dtype.is_integer:
        node.fail(f"targets must be int32 or int64, got {t.dtype.name}", TypeError)
    b = p.shape[0] if p.shape.ndims else None
    return TensorShape([b]), _dt.bool_


@op("InTopKV2", shape=_in_top_k_shape)
def _in_top_k(xp, predictions, targets, *, k):
    n, c = predictions.shape
    rows = xp.arange(n)
    valid = (targets >= 0) & (targets < c)
    t = xp.where(valid, targets, 0)
    target_pred = predictions[rows, t]
    # ties at the boundary count as in the top k: fewer than k strictly larger entries
    larger = (predictions > target_pred[:, None]).sum(axis=1)
    ok = valid & xp.isfinite(target_pred) & xp.isfinite(predictions).all(axis=1)
    return ok & (larger < k)


def in_top_k(predictions, targets, k, name=None):
    """Whether each target class is among the ``k`` largest predictions of its row."""
    with name_scope(name, "in_top_k"):                # TF1: in_top_k/InTopKV2
        return _in_top_k(predictions, targets, k=int(k))


NotDifferentiable("InTopKV2")
