"""The benchmark suite: training steps of flowgrad against other frameworks, same run.

    python benchmarks/run.py [xor mlp lenet resnet50] [--frameworks flowgrad,numpy,torch]
    python -m flowgrad bench [...]

Every workload is written once per framework (flowgrad, hand-written numpy and, when
installed, PyTorch, TensorFlow's ``tf.compat.v1`` graph mode and JAX ``jit``) with the same
initial weights and data.  After a warm-up, rounds alternate the frameworks' order and time
single steps; the table gives each framework's median ms per step and its ratio to
flowgrad, all from the same process, plus the first step (setup + compile) time.  Peak RSS
of flowgrad alone and the import time of ``flowgrad`` are measured in fresh subprocesses.

Workloads: ``xor`` (2-8-1, batch 4), ``mlp`` (784-512-512-10, batch 128), ``lenet``
(LeNet-5, batch 64) and ``resnet50`` (ResNet-50 v1.5, batch 4, 224x224x3, 1000 classes,
batch norm in training mode); ``make_runner(..., **RESNET_TINY)`` builds a small ResNet
of the same structure for tests.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from typing import Callable

import numpy as np

WORKLOADS = ("xor", "mlp", "lenet", "resnet50")
FRAMEWORKS = ("flowgrad", "numpy", "cupy", "torch", "tensorflow", "jax")


# ----- data and initial weights shared by all frameworks -------------------------------
def _xor_data():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([[0], [1], [1], [0]], np.float32)
    rng = np.random.RandomState(0)
    params = [rng.uniform(-1, 1, (2, 8)).astype(np.float32), np.zeros(8, np.float32),
              rng.uniform(-1, 1, (8, 1)).astype(np.float32), np.zeros(1, np.float32)]
    return x, y, params, 0.5


def _mlp_data(batch: int = 128):
    rng = np.random.RandomState(0)
    sizes = [784, 512, 512, 10]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params.append((rng.randn(a, b) * np.sqrt(2.0 / a)).astype(np.float32))
        params.append(np.zeros(b, np.float32))
    x = rng.rand(batch, 784).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.randint(0, 10, batch)]
    return x, y, params, 0.05


def _lenet_data(batch: int = 64):
    rng = np.random.RandomState(0)
    shapes = [(5, 5, 1, 6), (6,), (5, 5, 6, 16), (16,), (400, 120), (120,), (120, 84), (84,),
              (84, 10), (10,)]
    params = []
    for s in shapes:
        if len(s) == 1:
            params.append(np.zeros(s, np.float32))
        else:
            fan_in = int(np.prod(s[:-1]))
            params.append((rng.randn(*s) * np.sqrt(2.0 / fan_in)).astype(np.float32))
    x = rng.rand(batch, 28, 28, 1).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.randint(0, 10, batch)]
    return x, y, params, 0.05


# ResNet-50 v1.5: bottleneck blocks, stride on the 3x3 conv, batch norm after every conv
# (batch statistics, moving averages updated as TF1's UPDATE_OPS / PyTorch's buffers do).
# ``RESNET_TINY`` is a small variant of the same network for tests.
RESNET_TINY = {"batch": 2, "image": 64, "width": 4, "blocks": (1, 1, 1, 1), "classes": 10}
_BN_EPS = 1.001e-5          # TF1's floor for the fused batch norm; every framework uses it
_BN_MOMENTUM = 0.997        # moving <- moving * 0.997 + batch * 0.003


def _resnet_config(batch=4, image=224, width=64, blocks=(3, 4, 6, 3), classes=1000) -> dict:
    return {"batch": batch, "image": image, "width": width, "blocks": tuple(blocks),
            "classes": classes}


def _resnet_blocks(blocks) -> list[tuple[int, bool]]:
    """(stride, has projection shortcut) of each bottleneck block, in order."""
    return [(2 if i > 0 and j == 0 else 1, j == 0) for i, n in enumerate(blocks)
            for j in range(n)]


def _resnet50_data(**options):
    """Input, one-hot labels and the parameters in order: per conv (HWIO kernel, BN gamma,
    BN beta) -- stem, then per block conv a (1x1), b (3x3, strided), c (1x1, 4x wide) and
    the projection if any --, then the dense kernel and bias.  He-normal kernels."""
    cfg = _resnet_config(**options)
    rng = np.random.default_rng(0)
    width = cfg["width"]
    shapes = [(7, 7, 3, width)]
    cin = width
    for stage, n in enumerate(cfg["blocks"]):        # the order of _resnet_blocks
        f = width * 2 ** stage
        for j in range(n):
            shapes += [(1, 1, cin, f), (3, 3, f, f), (1, 1, f, 4 * f)]
            if j == 0:
                shapes.append((1, 1, cin, 4 * f))
            cin = 4 * f
    params = []
    for s in shapes:
        std = np.float32(np.sqrt(2.0 / (s[0] * s[1] * s[2])))
        params += [rng.standard_normal(s, dtype=np.float32) * std,
                   np.ones(s[3], np.float32), np.zeros(s[3], np.float32)]
    params += [rng.standard_normal((cin, cfg["classes"]), dtype=np.float32)
               * np.float32(np.sqrt(1.0 / cin)), np.zeros(cfg["classes"], np.float32)]
    n, size = cfg["batch"], cfg["image"]
    x = rng.standard_normal((n, size, size, 3), dtype=np.float32)
    y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], n)]
    return x, y, params, 0.01


def _same_pad(size: int, k: int, s: int) -> tuple[int, int]:
    """TF's SAME padding (before, after) of one spatial axis."""
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _resnet_forward(P, x, y, ps, blocks):
    """The network once for every framework, over its primitives ``P``: ``conv_bn(h, w,
    gamma, beta, stride, relu)`` (symmetric (k-1)/2 padding), ``max_pool(h)`` (3x3/2 SAME),
    ``add_relu(a, b)`` and ``head(h, w, b, y)`` (global average pool, dense, mean softmax
    cross-entropy)."""
    it = iter(ps)

    def conv_bn(h, stride, relu):
        return P.conv_bn(h, next(it), next(it), next(it), stride, relu)

    h = P.max_pool(conv_bn(x, 2, True))
    for stride, proj in _resnet_blocks(blocks):
        r = conv_bn(conv_bn(conv_bn(h, 1, True), stride, True), 1, False)
        h = P.add_relu(r, conv_bn(h, stride, False) if proj else h)
    return P.head(h, next(it), next(it), y)


def _tf_resnet(tf, x, y, ws, blocks):
    """ResNet-50 in TF1 graph style (flowgrad and tf.compat.v1): ``(loss, update ops)``."""
    updates = []

    class P:
        @staticmethod
        def conv_bn(h, w, gamma, beta, stride, relu):
            k = int(w.shape[0])
            p = (k - 1) // 2
            pad = "SAME" if stride == 1 else [[0, 0], [p, p], [p, p], [0, 0]]
            h = tf.nn.conv2d(h, w, [1, stride, stride, 1], pad)
            h, mean, var = tf.nn.fused_batch_norm(h, gamma, beta, epsilon=_BN_EPS,
                                                  is_training=True)
            c = int(w.shape[3])
            for batch, init in ((mean, np.zeros), (var, np.ones)):
                moving = tf.Variable(init(c, w.dtype.base_dtype.as_numpy_dtype),
                                     trainable=False)
                updates.append(tf.assign_sub(moving, (moving - batch) * (1 - _BN_MOMENTUM)))
            return tf.nn.relu(h) if relu else h

        @staticmethod
        def max_pool(h):
            return tf.nn.max_pool(h, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")

        @staticmethod
        def add_relu(a, b):
            return tf.nn.relu(a + b)

        @staticmethod
        def head(h, w, b, labels):
            logits = tf.matmul(tf.reduce_mean(h, [1, 2]), w) + b
            return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(
                labels=labels, logits=logits))

    return _resnet_forward(P, x, y, ws, blocks), updates


_DATA = {"xor": _xor_data, "mlp": _mlp_data, "lenet": _lenet_data,
         "resnet50": _resnet50_data}


class Runner:
    """One framework's version of one workload: ``step()`` trains once, returns the loss;
    ``trace()`` (flowgrad only) runs one traced step and returns its ``StepStats``."""

    def __init__(self, step: Callable[[], object], loss_of: Callable[[object], float],
                 trace: Callable[[], object] | None = None):
        self.step, self._loss_of, self.trace = step, loss_of, trace

    def loss(self) -> float:
        return float(self._loss_of(self.step()))


# ----- flowgrad ------------------------------------------------------------------------
def _tf1_loss(tf, workload: str, x, y, ws, options: dict):
    """``(loss, batch-norm updates)`` of a workload, written once in TF1's API: ``tf`` is
    flowgrad or TensorFlow's ``compat.v1``."""
    if workload == "resnet50":
        return _tf_resnet(tf, x, y, ws, _resnet_config(**options)["blocks"])
    if workload == "xor":
        h = tf.tanh(tf.matmul(x, ws[0]) + ws[1])
        return tf.reduce_mean(tf.square(tf.sigmoid(tf.matmul(h, ws[2]) + ws[3]) - y)), []
    if workload == "mlp":
        h = tf.nn.relu(tf.matmul(x, ws[0]) + ws[1])
        h = tf.nn.relu(tf.matmul(h, ws[2]) + ws[3])
        logits = tf.matmul(h, ws[4]) + ws[5]
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y,
                                                                         logits=logits)), []
    return _flowgrad_lenet(tf, x, y, ws), []


def _flowgrad(workload: str, **options) -> Runner:
    import flowgrad as tf  # noqa: PLC0415

    x0, y0, params, lr = _DATA[workload](**options)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None,) + x0.shape[1:], name="x")
        y = tf.placeholder(tf.float32, (None,) + y0.shape[1:], name="y")
        ws = [tf.Variable(p, name=f"p{i}") for i, p in enumerate(params)]
        loss, updates = _tf1_loss(tf, workload, x, y, ws, options)
        with tf.control_dependencies(updates):
            train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
        init = tf.global_variables_initializer()
    config = None if _device() == "gpu" else tf.ConfigProto(device_count={"GPU": 0})
    sess = tf.Session(graph=g, config=config)
    sess.run(init)
    feed = {x: x0, y: y0}
    if _device() == "gpu":
        # the batch stays on the device, as the other frameworks' does: a CuPy array is fed
        # without a copy (a numpy feed would add its host-to-device copy to every step)
        import cupy  # noqa: PLC0415

        feed = {x: cupy.asarray(x0), y: cupy.asarray(y0)}
    fetches = [train, loss]

    def trace():
        meta = tf.RunMetadata()
        sess.run(fetches, feed, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                 run_metadata=meta)
        return meta.step_stats
    return Runner(lambda: sess.run(fetches, feed), lambda out: out[1], trace)


def profile_table(step_stats, top: int = 15) -> str:
    """Per-op-type totals of a traced step (``RunMetadata.step_stats``), largest first,
    then the ``top`` slowest single ops."""
    nodes = [n for dev in step_stats.dev_stats for n in dev.node_stats]
    total = sum(n.op_end_rel_micros for n in nodes) or 1
    by_type: dict = {}
    for n in nodes:
        us, count = by_type.get(n.op_type, (0, 0))
        by_type[n.op_type] = (us + n.op_end_rel_micros, count + 1)
    lines = [f"  flowgrad traced step: {len(nodes)} ops, {total / 1e3:.1f} ms in op kernels "
             "(traced: op by op, no inlining or in-place updates)",
             f"  {'op type':<28} {'ms':>9} {'%':>6} {'ops':>5}"]
    for t, (us, count) in sorted(by_type.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {t:<28} {us / 1e3:>9.1f} {100 * us / total:>6.1f} {count:>5}")
    lines.append("  slowest ops:")
    for n in sorted(nodes, key=lambda n: -n.op_end_rel_micros)[:top]:
        lines.append(f"  {n.op_end_rel_micros / 1e3:>9.1f} ms  {n.op_type:<22} "
                     f"{n.node_name}  -> {n.output_shapes}")
    return "\n".join(lines)


def _flowgrad_lenet(tf, x, y, ws):
    def conv(h, w, b):
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, w, [1, 1, 1, 1], "VALID"), b))

    def pool(h):
        return tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")

    h = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]])
    h = pool(conv(h, ws[0], ws[1]))
    h = pool(conv(h, ws[2], ws[3]))
    h = tf.reshape(h, [-1, 400])
    h = tf.nn.relu(tf.matmul(h, ws[4]) + ws[5])
    h = tf.nn.relu(tf.matmul(h, ws[6]) + ws[7])
    logits = tf.matmul(h, ws[8]) + ws[9]
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))


# ----- hand-written numpy ----------------------------------------------------------------
def _numpy(workload: str, xp=np, **options) -> Runner:
    """Hand-written numpy; with ``xp=cupy`` the same xor and mlp steps in CuPy (unfused)."""
    x, y, params, lr = _DATA[workload](**options)
    p = [xp.asarray(a).copy() for a in params]
    x, y = xp.asarray(x), xp.asarray(y)
    lr = np.float32(lr)
    if workload == "resnet50":
        return _numpy_resnet(x, y, p, lr, _resnet_config(**options)["blocks"])
    if workload == "xor":
        def step():
            w1, b1, w2, b2 = p
            h = xp.tanh(x @ w1 + b1)
            o = 0.5 * (xp.tanh(0.5 * (h @ w2 + b2)) + 1)
            d = o - y
            loss = xp.mean(d * d)
            do = (2.0 / d.size) * d
            dz2 = do * o * (1 - o)
            dh = dz2 @ w2.T
            dz1 = dh * (1 - h * h)
            p[0] = w1 - lr * (x.T @ dz1)
            p[1] = b1 - lr * dz1.sum(0)
            p[2] = w2 - lr * (h.T @ dz2)
            p[3] = b2 - lr * dz2.sum(0)
            return loss
    elif workload == "mlp":
        def step():
            w1, b1, w2, b2, w3, b3 = p
            h1 = xp.maximum(x @ w1 + b1, 0)
            h2 = xp.maximum(h1 @ w2 + b2, 0)
            z = h2 @ w3 + b3
            z -= z.max(1, keepdims=True)
            e = xp.exp(z)
            s = e.sum(1, keepdims=True)
            loss = xp.mean(xp.log(s[:, 0]) - (y * z).sum(1))
            dz = (e / s - y) / np.float32(len(x))
            dh2 = (dz @ w3.T) * (h2 > 0)
            dh1 = (dh2 @ w2.T) * (h1 > 0)
            p[4] = w3 - lr * (h2.T @ dz)
            p[5] = b3 - lr * dz.sum(0)
            p[2] = w2 - lr * (h1.T @ dh2)
            p[3] = b2 - lr * dh2.sum(0)
            p[0] = w1 - lr * (x.T @ dh1)
            p[1] = b1 - lr * dh1.sum(0)
            return loss
    else:
        return _numpy_lenet(x, y, p, lr)
    if xp is not np:
        return Runner(lambda: float(step()), float)     # the loss fetched every step
    return Runner(step, float)


def _cupy(workload: str, **options) -> Runner:
    import cupy  # noqa: PLC0415

    if workload not in ("xor", "mlp"):
        raise ValueError("hand-written CuPy covers the xor and mlp workloads only")
    return _numpy(workload, xp=cupy, **options)


def _im2col(x, k):
    n, h, w, c = x.shape
    s = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # n,ho,wo,c,k,k
    return s.transpose(0, 1, 2, 4, 5, 3).reshape(n, h - k + 1, w - k + 1, k * k * c)


def _numpy_lenet(x, y, p, lr):
    def conv_fwd(h, w, b):
        cols = _im2col(h, 5)
        z = cols @ w.reshape(-1, w.shape[-1]) + b
        return cols, np.maximum(z, 0)

    def pool_fwd(a):
        n, hh, ww, c = a.shape
        r = a.reshape(n, hh // 2, 2, ww // 2, 2, c)
        m = r.max(axis=(2, 4))
        mask = r == m[:, :, None, :, None, :]
        return m, mask

    def pool_bwd(dm, mask):
        d = mask * dm[:, :, None, :, None, :]
        n, a, _, b, _, c = d.shape
        return d.reshape(n, a * 2, b * 2, c)

    def col2im(dcols, shape, k):
        n, h, w, c = shape
        dx = np.zeros(shape, np.float32)
        d = dcols.reshape(n, h - k + 1, w - k + 1, k, k, c)
        for i in range(k):
            for j in range(k):
                dx[:, i:i + h - k + 1, j:j + w - k + 1, :] += d[:, :, :, i, j, :]
        return dx

    xp = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)])

    def step():
        w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = p
        c1, a1 = conv_fwd(xp, w1, b1)
        m1, k1 = pool_fwd(a1)
        c2, a2 = conv_fwd(m1, w2, b2)
        m2, k2 = pool_fwd(a2)
        f = m2.reshape(len(x), 400)
        h3 = np.maximum(f @ w3 + b3, 0)
        h4 = np.maximum(h3 @ w4 + b4, 0)
        z = h4 @ w5 + b5
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        s = e.sum(1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - (y * z).sum(1))
        dz = (e / s - y) / np.float32(len(x))
        dh4 = (dz @ w5.T) * (h4 > 0)
        dh3 = (dh4 @ w4.T) * (h3 > 0)
        df = (dh3 @ w3.T).reshape(m2.shape)
        da2 = pool_bwd(df, k2) * (a2 > 0)
        dw2 = c2.reshape(-1, c2.shape[-1]).T @ da2.reshape(-1, 16)
        dc2 = da2 @ w2.reshape(-1, 16).T
        dm1 = col2im(dc2, m1.shape, 5)
        da1 = pool_bwd(dm1, k1) * (a1 > 0)
        dw1 = c1.reshape(-1, c1.shape[-1]).T @ da1.reshape(-1, 6)
        grads = [dw1.reshape(w1.shape), da1.sum((0, 1, 2)), dw2.reshape(w2.shape),
                 da2.sum((0, 1, 2)), f.T @ dh3, dh3.sum(0), h3.T @ dh4, dh4.sum(0),
                 h4.T @ dz, dz.sum(0)]
        for i, gr in enumerate(grads):
            p[i] = p[i] - lr * gr
        return loss
    return Runner(step, float)


def _np_conv_bn(h, w, gamma, beta, stride, relu, need_dx=True):
    """Conv (im2col + GEMM, symmetric (k-1)/2 padding) + training batch norm (+ ReLU).

    Returns the output, the batch mean and biased variance, and ``back(dout) -> (dh, dw,
    dgamma, dbeta)``."""
    k, _, c, cout = w.shape
    n, hi, wi, _ = h.shape
    p = (k - 1) // 2
    ho, wo = (hi + 2 * p - k) // stride + 1, (wi + 2 * p - k) // stride + 1
    if k == 1:
        cols = (h[:, ::stride, ::stride] if stride > 1 else h).reshape(-1, c)
    else:
        hp = np.pad(h, [(0, 0), (p, p), (p, p), (0, 0)])
        cols = np.empty((n, ho, wo, k, k, c), h.dtype)
        for i in range(k):
            for j in range(k):
                cols[:, :, :, i, j] = hp[:, i:i + stride * ho:stride, j:j + stride * wo:stride]
        cols = cols.reshape(n * ho * wo, k * k * c)
    w2 = w.reshape(-1, cout)
    z = cols @ w2
    m = z.shape[0]
    mean = z.mean(0)
    zc = z - mean
    var = np.einsum("ij,ij->j", zc, zc) / m
    inv = 1 / np.sqrt(var + _BN_EPS).astype(z.dtype)
    xhat = zc * inv
    out = xhat * gamma + beta
    if relu:
        out = np.maximum(out, 0, out=out)

    def back(dout):
        dy = dout.reshape(m, cout)
        if relu:
            dy = dy * (out > 0)
        dbeta = dy.sum(0)
        dgamma = np.einsum("ij,ij->j", dy, xhat)
        dz = (gamma * inv / m) * (m * dy - dbeta - xhat * dgamma)
        dw = (cols.T @ dz).reshape(w.shape)
        if not need_dx:
            return None, dw, dgamma, dbeta
        dcols = dz @ w2.T
        if k == 1:
            if stride == 1:
                return dcols.reshape(h.shape), dw, dgamma, dbeta
            dh = np.zeros_like(h)
            dh[:, ::stride, ::stride] = dcols.reshape(n, ho, wo, c)
            return dh, dw, dgamma, dbeta
        dcols = dcols.reshape(n, ho, wo, k, k, c)
        dhp = np.zeros_like(hp)
        for i in range(k):
            for j in range(k):
                dhp[:, i:i + stride * ho:stride, j:j + stride * wo:stride] += dcols[:, :, :, i, j]
        return dhp[:, p:p + hi, p:p + wi], dw, dgamma, dbeta
    return out.reshape(n, ho, wo, cout), mean, var, back


def _np_max_pool(h):
    """3x3/2 SAME max pool; returns the output and ``back(dout) -> dh``."""
    n, hi, wi, c = h.shape
    (top, bottom), (left, right) = _same_pad(hi, 3, 2), _same_pad(wi, 3, 2)
    hp = np.pad(h, [(0, 0), (top, bottom), (left, right), (0, 0)], constant_values=-np.inf)
    ho, wo = -(-hi // 2), -(-wi // 2)
    taps = [(i, j) for i in range(3) for j in range(3)]
    win = np.stack([hp[:, i:i + 2 * ho:2, j:j + 2 * wo:2] for i, j in taps])
    arg = win.argmax(0)
    out = np.take_along_axis(win, arg[None], 0)[0]

    def back(dout):
        dhp = np.zeros_like(hp)
        for k, (i, j) in enumerate(taps):
            dhp[:, i:i + 2 * ho:2, j:j + 2 * wo:2] += np.where(arg == k, dout, 0)
        return dhp[:, top:top + hi, left:left + wi]
    return out, back


def _np_resnet_grads(x, y, ps, blocks):
    """Loss, gradients (in ``ps``'s order) and per-BN (batch mean, unbiased batch variance)
    of the ResNet training step, by hand."""
    grads = [None] * len(ps)
    stats = []
    backs = []                              # (param index, back) of every conv_bn
    pos = [0]

    def conv_bn(h, stride, relu, need_dx=True):
        i = pos[0]
        pos[0] += 3
        out, mean, var, back = _np_conv_bn(h, ps[i], ps[i + 1], ps[i + 2], stride, relu,
                                           need_dx)
        m = out.size // out.shape[-1]
        stats.append((mean, var * (m / max(m - 1, 1))))
        return out, (i, back)

    def run_back(entry, dout):
        i, back = entry
        dh, grads[i], grads[i + 1], grads[i + 2] = back(dout)
        return dh

    a, stem = conv_bn(x, 2, True, need_dx=False)
    h, pool_back = _np_max_pool(a)
    for stride, proj in _resnet_blocks(blocks):
        h1, ba = conv_bn(h, 1, True)
        h2, bb = conv_bn(h1, stride, True)
        h3, bc = conv_bn(h2, 1, False)
        sc, bp = conv_bn(h, stride, False) if proj else (h, None)
        h = np.maximum(h3 + sc, 0)
        backs.append((ba, bb, bc, bp, h))
    w, b = ps[-2], ps[-1]
    n, hh, ww, c = h.shape
    f = h.mean((1, 2))
    z = f @ w + b
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    s = e.sum(1, keepdims=True)
    loss = np.mean(np.log(s[:, 0]) - (y * z).sum(1))
    dz = (e / s - y) / z.dtype.type(n)
    grads[-2], grads[-1] = f.T @ dz, dz.sum(0)
    dh = np.broadcast_to((dz @ w.T)[:, None, None, :] / z.dtype.type(hh * ww), h.shape)
    for ba, bb, bc, bp, out in reversed(backs):
        d = dh * (out > 0)
        dh = run_back(ba, run_back(bb, run_back(bc, d)))
        dh += run_back(bp, d) if bp is not None else d
    run_back(stem, pool_back(dh))
    return loss, grads, stats


def _numpy_resnet(x, y, p, lr, blocks):
    moving = None

    def step():
        nonlocal moving
        loss, grads, stats = _np_resnet_grads(x, y, p, blocks)
        if moving is None:
            moving = [(np.zeros_like(m), np.ones_like(v)) for m, v in stats]
        d = np.float32(1 - _BN_MOMENTUM)
        for (mm, mv), (m, v) in zip(moving, stats):
            mm -= (mm - m) * d
            mv -= (mv - v) * d
        for i, gr in enumerate(grads):
            p[i] -= lr * gr
        return loss
    return Runner(step, float)


# ----- PyTorch ---------------------------------------------------------------------------
def _tf32() -> bool:
    return os.environ.get("FLOWGRAD_CUDNN_TF32", "0") == "1"


def _torch(workload: str, **options) -> Runner:
    import torch  # noqa: PLC0415

    x0, y0, params, lr = _DATA[workload](**options)
    if _threads():
        torch.set_num_threads(_threads())
    dev = "cuda" if _device() == "gpu" else "cpu"
    if dev == "cuda":
        # the same float32 precision as flowgrad's default (cuDNN without TF32 tensor
        # cores); $FLOWGRAD_CUDNN_TF32=1 lets every framework use TF32
        torch.backends.cudnn.allow_tf32 = _tf32()
        torch.backends.cuda.matmul.allow_tf32 = _tf32()
    if workload == "resnet50":
        return _torch_resnet(torch, x0, y0, params, lr, _resnet_config(**options)["blocks"],
                             dev)
    x, y = torch.from_numpy(x0).to(dev), torch.from_numpy(y0).to(dev)
    ps = [torch.tensor(a, requires_grad=True, device=dev) for a in params]
    opt = torch.optim.SGD(ps, lr=lr)
    F = torch.nn.functional

    def forward():
        if workload == "xor":
            h = torch.tanh(x @ ps[0] + ps[1])
            return ((torch.sigmoid(h @ ps[2] + ps[3]) - y) ** 2).mean()
        if workload == "mlp":
            h = F.relu(x @ ps[0] + ps[1])
            h = F.relu(h @ ps[2] + ps[3])
            return F.cross_entropy(h @ ps[4] + ps[5], y)
        h = x.permute(0, 3, 1, 2)
        h = F.pad(h, (2, 2, 2, 2))
        for i in (0, 2):
            w = ps[i].permute(3, 2, 0, 1)
            h = F.max_pool2d(F.relu(F.conv2d(h, w, ps[i + 1])), 2)
        h = h.permute(0, 2, 3, 1).reshape(-1, 400)
        h = F.relu(h @ ps[4] + ps[5])
        h = F.relu(h @ ps[6] + ps[7])
        return F.cross_entropy(h @ ps[8] + ps[9], y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = forward()
        loss.backward()
        opt.step()
        return loss.item() if dev == "cuda" else loss    # on a GPU: fetched every step
    return Runner(step, float if dev == "cuda" else lambda v: v.item())


def _torch_resnet(torch, x0, y0, params, lr, blocks, dev="cpu"):
    """PyTorch's usual layout: NCHW activations, OIHW kernels (converted once)."""
    F = torch.nn.functional
    x = torch.from_numpy(x0).permute(0, 3, 1, 2).contiguous().to(dev)
    y = torch.from_numpy(y0).to(dev)
    ps = [torch.tensor(a.transpose(3, 2, 0, 1) if a.ndim == 4 else a, requires_grad=True,
                       device=dev) for a in params]
    ps[-2] = torch.tensor(params[-2].T, requires_grad=True, device=dev)  # F.linear's (out, in)
    moving = [(torch.zeros(len(g), device=dev), torch.ones(len(g), device=dev))
              for g in ps[1:-2:3]]
    opt = torch.optim.SGD(ps, lr=lr)
    bn = iter(())

    class P:
        @staticmethod
        def conv_bn(h, w, gamma, beta, stride, relu):
            h = F.conv2d(h, w, stride=stride, padding=(w.shape[-1] - 1) // 2)
            mm, mv = next(bn)
            h = F.batch_norm(h, mm, mv, gamma, beta, training=True,
                             momentum=1 - _BN_MOMENTUM, eps=_BN_EPS)
            return F.relu(h) if relu else h

        @staticmethod
        def max_pool(h):
            (t, b), (lft, r) = _same_pad(h.shape[2], 3, 2), _same_pad(h.shape[3], 3, 2)
            return F.max_pool2d(F.pad(h, (lft, r, t, b), value=float("-inf")), 3, 2)

        @staticmethod
        def add_relu(a, b):
            return F.relu(a + b)

        @staticmethod
        def head(h, w, b, labels):
            return F.cross_entropy(F.linear(h.mean((2, 3)), w, b), labels)

    def step():
        nonlocal bn
        bn = iter(moving)
        opt.zero_grad(set_to_none=True)
        loss = _resnet_forward(P, x, y, ps, blocks)
        loss.backward()
        opt.step()
        return loss.item() if dev == "cuda" else loss
    return Runner(step, float if dev == "cuda" else lambda v: v.item())


# ----- TensorFlow (tf.compat.v1 graph mode) ----------------------------------------------
def _tensorflow(workload: str, **options) -> Runner:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as real_tf  # noqa: PLC0415

    v1 = real_tf.compat.v1
    v1.disable_eager_execution()
    x0, y0, params, lr = _DATA[workload](**options)
    g = v1.Graph()
    with g.as_default():
        x = v1.placeholder(real_tf.float32, (None,) + x0.shape[1:])
        y = v1.placeholder(real_tf.float32, (None,) + y0.shape[1:])
        ws = [v1.Variable(p) for p in params]
        loss, updates = _tf1_loss(v1, workload, x, y, ws, options)
        with v1.control_dependencies(updates):
            train = v1.train.GradientDescentOptimizer(lr).minimize(loss)
        init = v1.global_variables_initializer()
    sess = v1.Session(graph=g, config=v1.ConfigProto(inter_op_parallelism_threads=1,
                                                     intra_op_parallelism_threads=_threads()))
    sess.run(init)
    feed = {x: x0, y: y0}
    fetches = [train, loss]
    return Runner(lambda: sess.run(fetches, feed), lambda out: out[1])


# ----- JAX ---------------------------------------------------------------------------------
def _jax(workload: str, **options) -> Runner:
    os.environ.setdefault("JAX_PLATFORMS", "cuda" if _device() == "gpu" else "cpu")
    if _threads() == 1:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                           "intra_op_parallelism_threads=1")
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415

    if _device() == "gpu":          # float32 precision, as for torch above
        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if _tf32()
                          else "highest")
    x0, y0, params, lr = _DATA[workload](**options)
    x, y = jnp.asarray(x0), jnp.asarray(y0)
    if workload == "resnet50":
        return _jax_resnet(jax, jnp, x, y, params, lr, _resnet_config(**options)["blocks"])

    def loss_fn(ps):
        if workload == "xor":
            h = jnp.tanh(x @ ps[0] + ps[1])
            return jnp.mean((jax.nn.sigmoid(h @ ps[2] + ps[3]) - y) ** 2)
        if workload == "mlp":
            h = jax.nn.relu(x @ ps[0] + ps[1])
            h = jax.nn.relu(h @ ps[2] + ps[3])
            z = h @ ps[4] + ps[5]
            return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(z), axis=1))
        h = jnp.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)])
        for i in (0, 2):
            h = jax.lax.conv_general_dilated(h, ps[i], (1, 1), "VALID",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
            h = jax.nn.relu(h + ps[i + 1])
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                      "VALID")
        h = h.reshape(-1, 400)
        h = jax.nn.relu(h @ ps[4] + ps[5])
        h = jax.nn.relu(h @ ps[6] + ps[7])
        z = h @ ps[8] + ps[9]
        return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(z), axis=1))

    @jax.jit
    def update(ps):
        loss, grads = jax.value_and_grad(loss_fn)(ps)
        return [p - lr * g for p, g in zip(ps, grads)], loss

    state = [[jnp.asarray(p) for p in params]]

    def step():
        state[0], loss = update(state[0])
        loss.block_until_ready()
        return loss
    return Runner(step, float)


def _jax_resnet(jax, jnp, x, y, params, lr, blocks):
    """NHWC / HWIO as the data; batch statistics come out of the jitted step as aux."""
    lax = jax.lax

    class P:
        stats: list = []

        @staticmethod
        def conv_bn(h, w, gamma, beta, stride, relu):
            p = (w.shape[0] - 1) // 2
            h = lax.conv_general_dilated(h, w, (stride, stride), [(p, p), (p, p)],
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
            mean = h.mean((0, 1, 2))
            var = jnp.square(h - mean).mean((0, 1, 2))
            m = h.size // h.shape[-1]
            P.stats.append((lax.stop_gradient(mean), lax.stop_gradient(var) * (m / max(m - 1, 1))))
            h = (h - mean) * (lax.rsqrt(var + _BN_EPS) * gamma) + beta
            return jax.nn.relu(h) if relu else h

        @staticmethod
        def max_pool(h):
            return lax.reduce_window(h, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")

        @staticmethod
        def add_relu(a, b):
            return jax.nn.relu(a + b)

        @staticmethod
        def head(h, w, b, labels):
            z = h.mean((1, 2)) @ w + b
            return jnp.mean(-jnp.sum(labels * jax.nn.log_softmax(z), axis=1))

    def loss_fn(ps):
        P.stats = []
        loss = _resnet_forward(P, x, y, ps, blocks)
        return loss, P.stats

    @jax.jit
    def update(ps, moving):
        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(ps)
        d = 1 - _BN_MOMENTUM
        moving = [(mm - (mm - m) * d, mv - (mv - v) * d)
                  for (mm, mv), (m, v) in zip(moving, stats)]
        return [p - lr * g for p, g in zip(ps, grads)], moving, loss

    state = [[jnp.asarray(p) for p in params],
             [(jnp.zeros(len(g)), jnp.ones(len(g))) for g in params[1:-2:3]]]

    def step():
        state[0], state[1], loss = update(*state)
        loss.block_until_ready()
        return loss
    return Runner(step, float)


def _device() -> str:
    """The device ``--device`` asked for: "cpu" (default) or "gpu"."""
    return os.environ.get("FLOWGRAD_BENCH_DEVICE", "cpu")


def _threads() -> int:
    """The thread count ``--threads`` asked for (0: each framework's default)."""
    return int(os.environ.get("FLOWGRAD_BENCH_THREADS", "0") or 0)


_BUILDERS = {"flowgrad": _flowgrad, "numpy": _numpy, "cupy": _cupy, "torch": _torch,
             "tensorflow": _tensorflow, "jax": _jax}
_MODULES = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax", "cupy": "cupy"}
# what runs where: numpy and TF1 on the CPU runs, hand-written CuPy on the GPU runs
_ON = {"cpu": ("flowgrad", "numpy", "torch", "tensorflow", "jax"),
       "gpu": ("flowgrad", "cupy", "torch", "jax")}


def available(framework: str) -> bool:
    mod = _MODULES.get(framework)
    return (mod is None or importlib.util.find_spec(mod) is not None) and \
        framework in _ON[_device()]


def covers(framework: str, workload: str) -> bool:
    """Whether the framework has a version of the workload (hand-written CuPy: xor, mlp)."""
    return framework != "cupy" or workload.split("-")[0] in ("xor", "mlp")


# workload variants: name -> (workload, options)
VARIANTS = {"mlp-4096": ("mlp", {"batch": 4096}), "resnet50-64": ("resnet50", {"batch": 64})}


_NEEDS = {"lenet": ("conv2d", "max_pool"), "resnet50": ("conv2d", "max_pool", "fused_batch_norm")}


def workload_available(workload: str) -> bool:
    """Whether flowgrad has the ``tf.nn`` ops the workload needs (``_NEEDS``)."""
    if workload in _NEEDS:
        import flowgrad as tf  # noqa: PLC0415
        return all(hasattr(tf.nn, name) for name in _NEEDS[workload])
    return True


def make_runner(framework: str, workload: str, **options) -> Runner:
    """``options`` size the network (resnet50: ``RESNET_TINY``'s keys)."""
    return _BUILDERS[framework](workload, **options)


# ----- measuring ----------------------------------------------------------------------------
class _InProcess:
    """A framework's runner in this process (``isolate=False``: fast, for tests)."""

    def __init__(self, framework: str, workload: str, options: dict) -> None:
        t0 = time.perf_counter()
        self.runner = make_runner(framework, workload, **options)
        self.runner.step()
        self.first_ms = (time.perf_counter() - t0) * 1e3

    def run(self, n: int, rewarm: int = 0) -> list[float]:
        for _ in range(rewarm):
            self.runner.step()
        return _timed_steps(self.runner.step, n)

    def profile(self, top: int) -> str:
        return profile_table(self.runner.trace(), top)

    def close(self) -> float | None:
        return None


class _Worker:
    """A framework's runner in its own process: no framework's thread pools, allocator or
    spinning threads disturb another's steps.  The parent asks each in turn for steps."""

    def __init__(self, framework: str, workload: str, options: dict) -> None:
        import multiprocessing as mp  # noqa: PLC0415

        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main,
                                args=(framework, workload, options, child),
                                daemon=True)
        self.proc.start()
        child.close()
        self.first_ms = self._recv()

    def _recv(self):
        msg = self.conn.recv()
        if isinstance(msg, tuple) and msg and msg[0] == "error":
            self.proc.join(5)
            raise RuntimeError(msg[1])
        return msg

    def run(self, n: int, rewarm: int = 0) -> list[float]:
        self.conn.send(("run", (n, rewarm)))
        return self._recv()

    def profile(self, top: int) -> str:
        self.conn.send(("profile", top))
        return self._recv()

    def close(self) -> float | None:
        """Stops the worker; returns its peak RSS in MB."""
        self.conn.send(("stop", 0))
        rss = self._recv()
        self.proc.join(10)
        return rss


def _worker_main(framework: str, workload: str, options: dict, conn) -> None:
    try:
        local = _InProcess(framework, workload, options)
        conn.send(local.first_ms)
        peak = None             # frozen before a traced step, which keeps every value
        while True:
            cmd, n = conn.recv()
            if cmd == "stop":
                conn.send(peak if peak is not None else _peak_rss_mb())
                return
            if cmd == "profile":
                peak = _peak_rss_mb()
                conn.send(local.profile(n))
            else:
                conn.send(local.run(*n))
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", f"{framework} {workload}: {type(e).__name__}: {e}"))


def _timed_steps(step, n: int) -> list[float]:
    clock = time.perf_counter
    out = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(n):
            t0 = clock()
            step()
            out.append(clock() - t0)
    finally:
        if gc_was:
            gc.enable()
    gc.collect()
    return out


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # noqa: PLC0415
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Pause before each framework's turn in a round: thread pools spin for a while after their
#: last task (OpenMP's block time is 200 ms; OpenBLAS's threads spin before sleeping), and
#: a pool still spinning in one worker would take a core from the next one's timed steps.
SETTLE_S = 0.3


def measure(workload: str, frameworks: list[str], rounds: int, steps: int,
            warmup: int, isolate: bool = False, options: dict | None = None,
            profile: int = 0) -> dict:
    """Median ms/step of each framework, alternating frameworks round by round.

    With ``isolate`` each framework runs in a worker process of its own (started one after
    the other, so that set-up does not overlap the timed steps); the parent alternates
    them, pausing ``SETTLE_S`` before each turn, and each turn starts with a couple of
    untimed steps (caches and pools warm again after the other frameworks ran).  Also
    gives each framework's first step (set-up + compile) and, isolated, the worker's peak
    RSS.  ``options`` go to ``make_runner``.  With ``profile``, flowgrad's
    result also has ``"profile"``: ``profile_table`` of one traced step after the timing.
    """
    runners = {}
    options = options or {}
    try:
        for fw in frameworks:
            runners[fw] = (_Worker if isolate else _InProcess)(fw, workload, options)
        for r in runners.values():
            r.run(warmup)
        samples: dict[str, list[float]] = {fw: [] for fw in runners}
        per_round: dict[str, list[float]] = {fw: [] for fw in runners}
        order = list(runners)
        rewarm = min(2, steps // 5)
        for rnd in range(rounds):
            for fw in (order if rnd % 2 == 0 else order[::-1]):
                if isolate and len(runners) > 1:
                    time.sleep(SETTLE_S)
                got = runners[fw].run(steps, rewarm)
                samples[fw] += got
                per_round[fw].append(statistics.median(got))
        table = runners["flowgrad"].profile(profile) if profile and "flowgrad" in runners \
            else None
    finally:
        rss = {fw: r.close() for fw, r in runners.items()}
    res = {fw: {"median_ms": statistics.median(s) * 1e3,
                "first_ms": runners[fw].first_ms, "n": len(s), "peak_rss_mb": rss[fw]}
           for fw, s in samples.items()}
    base = per_round.get("flowgrad")
    if base and all(base):
        for fw, meds in per_round.items():
            # paired by round: the machine's speed drifts by tens of percent over minutes,
            # much less within one round
            ratios = sorted(m / b for m, b in zip(meds, base))
            res[fw]["round_ratios"] = ratios
    if table is not None:
        res["flowgrad"]["profile"] = table
    return res


def import_time(repeats: int = 5) -> tuple[float, float]:
    """Median seconds of ``import flowgrad`` and of ``import numpy`` in fresh interpreters."""
    code = ("import time; t = time.perf_counter(); import {m}; "
            "print(time.perf_counter() - t)")

    def one(mod):
        out = subprocess.run([sys.executable, "-c", code.format(m=mod)], capture_output=True,
                             text=True, check=True, env=_child_env())
        return float(out.stdout.strip())
    fg = statistics.median(one("flowgrad") for _ in range(repeats))
    npy = statistics.median(one("numpy") for _ in range(repeats))
    return fg, npy


def _child_env() -> dict:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# (rounds, steps per round, warm-up steps) of each workload
_DEFAULTS = {"xor": (10, 400, 200), "mlp": (10, 20, 10), "lenet": (6, 10, 5),
             "resnet50": (5, 1, 1)}     # ~2 s a step: 7 steps per framework in all


# on a GPU even ResNet-50 steps take milliseconds
_GPU_DEFAULTS = {"xor": (6, 100, 50), "mlp": (6, 100, 50), "lenet": (6, 50, 20),
                 "resnet50": (4, 10, 5)}


def format_table(workload: str, res: dict) -> str:
    """The median ms of each framework and its ratio to flowgrad: the median over rounds
    of the same round's ratio, with the lowest and highest round (``rounds``)."""
    lines = [f"{workload}: median ms/step (ratio = framework / flowgrad per round, median "
             "and range over rounds; >1 means flowgrad is faster)",
             f"  {'framework':<11} {'median ms':>10} {'ratio':>7} {'rounds':>13} "
             f"{'first step ms':>14} {'steps':>6} {'peak RSS MB':>12}"]
    for fw, r in sorted(res.items(), key=lambda kv: kv[1]["median_ms"]):
        rr = r.get("round_ratios")
        ratio = f"{statistics.median(rr):7.2f}" if rr else "      -"
        spread = f"{rr[0]:5.2f} - {rr[-1]:5.2f}" if rr and len(rr) > 1 else "-"
        rss = f"{r['peak_rss_mb']:12.0f}" if r.get("peak_rss_mb") else f"{'-':>12}"
        lines.append(f"  {fw:<11} {r['median_ms']:>10.4f} {ratio} {spread:>13} "
                     f"{r['first_ms']:>14.1f} {r['n']:>6} {rss}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="flowgrad bench", description=__doc__.split("\n")[0])
    ap.add_argument("workloads", nargs="*", default=["xor", "mlp"],
                    help=f"workloads to run, of {', '.join(WORKLOADS + tuple(VARIANTS))} "
                         "(default: xor mlp; mlp-4096 and resnet50-64 are batch 4096 and 64; "
                         "resnet50 is ResNet-50 at batch 4, 224x224: about 2 minutes for "
                         "five frameworks, with --threads 1)")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                    help="comma-separated frameworks (missing ones are skipped)")
    per = "; ".join(f"{w} {r}/{n}/{u}" for w, (r, n, u) in _DEFAULTS.items())
    ap.add_argument("--rounds", type=int, help="rounds of alternating frameworks (default "
                    f"per workload, rounds/steps/warm-up: {per})")
    ap.add_argument("--steps", type=int, help="timed steps per framework per round")
    ap.add_argument("--warmup", type=int, help="untimed steps per framework")
    ap.add_argument("--no-subprocess", action="store_true",
                    help="run every framework in this process and skip the import-time "
                         "measurement (default: one worker process per framework)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="after each workload, flowgrad's time per op type and its N "
                         "slowest ops in one traced step (RunOptions FULL_TRACE; peak RSS "
                         "is taken before it)")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                    help="where every framework trains: cpu (default), or gpu (CUDA: "
                         "flowgrad on CuPy, hand-written CuPy, PyTorch CUDA, JAX; each step "
                         "fetches its loss, so each timed step includes the device sync)")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for every framework's math (BLAS, OpenMP, Eigen, XLA); "
                         "default: each framework's own choice. Workers inherit it.")
    args = ap.parse_args(argv)
    if args.threads:
        for var in ("FLOWGRAD_BENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
        if args.no_subprocess:
            ap.error("--threads needs worker processes (drop --no-subprocess)")
    os.environ["FLOWGRAD_BENCH_DEVICE"] = args.device
    wanted = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in _BUILDERS] + \
        [w for w in args.workloads if w not in WORKLOADS and w not in VARIANTS]
    if unknown:
        ap.error(f"unknown framework or workload: {', '.join(unknown)}")
    fws = [f for f in wanted if available(f)]
    skipped = [f for f in wanted if f not in fws]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}, threads "
          f"{args.threads or 'default'}; frameworks: {', '.join(fws)}"
          + (f" (not installed: {', '.join(skipped)})" if skipped else ""))
    if "flowgrad" in fws and args.device == "cpu":
        from flowgrad.runtime import onednn  # noqa: PLC0415
        v = onednn.version()
        print("flowgrad's float32 convolutions, pooling, batch norm and large products: "
              + (f"oneDNN {v}" if v else "numpy kernels (oneDNN not installed or off)"))
    if args.device == "gpu":
        import cupy  # noqa: PLC0415

        props = cupy.cuda.runtime.getDeviceProperties(0)
        print(f"device: {props['name'].decode()}, CuPy {cupy.__version__}, CUDA runtime "
              f"{cupy.cuda.runtime.runtimeGetVersion()}")
    for name in args.workloads:
        w, options = VARIANTS.get(name, (name, {}))
        if not workload_available(w):
            print(f"{name}: skipped (needs tf.nn.{', tf.nn.'.join(_NEEDS[w])})")
            continue
        rounds, steps, warmup = _DEFAULTS[w] if args.device == "cpu" else _GPU_DEFAULTS[w]
        res = measure(w, [f for f in fws if covers(f, w)], args.rounds or rounds,
                      args.steps or steps, args.warmup if args.warmup is not None else warmup,
                      isolate=not args.no_subprocess, options=options, profile=args.profile)
        print(format_table(name, res))
        if "profile" in res.get("flowgrad", {}):
            print(res["flowgrad"]["profile"])
        sys.stdout.flush()
    if not args.no_subprocess:
        fg, npy = import_time()
        print(f"import flowgrad: {fg * 1e3:.0f} ms (of which import numpy alone: "
              f"{npy * 1e3:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
