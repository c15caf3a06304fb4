"""LeNet-5 training step (batch 64, 28x28x1, SGD): flowgrad vs hand-written numpy
(im2col + GEMM) in the same run, and vs PyTorch / TF1 graph mode when importable.

    PYTHONPATH=. python benchmarks/lenet.py [--steps 60]

Frameworks alternate step by step; the table shows the median ms/step after warm-up.
"""

import argparse
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

B, LR = 64, 0.01
SHAPES = [(5, 5, 1, 6), (6,), (5, 5, 6, 16), (16,), (400, 120), (120,), (120, 84), (84,),
          (84, 10), (10,)]


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * (0.1 if len(s) > 1 else 0)).astype(np.float32)
            for s in SHAPES]


# ----- hand-written numpy --------------------------------------------------------------
def _conv(x, w):          # x NHWC already padded; VALID, stride 1
    kh, kw, c, o = w.shape
    cols = sliding_window_view(x, (kh, kw), axis=(1, 2))     # N, OH, OW, C, KH, KW
    n, oh, ow = cols.shape[:3]
    cols = np.ascontiguousarray(cols.transpose(0, 1, 2, 4, 5, 3)).reshape(n * oh * ow, -1)
    return (cols @ w.reshape(-1, o)).reshape(n, oh, ow, o), cols


def _pool(x):
    n, h, w, c = x.shape
    v = x.reshape(n, h // 2, 2, w // 2, 2, c)
    y = v.max(axis=(2, 4))
    return y, (v == y[:, :, None, :, None, :])


def _unpool(dy, mask):
    d = mask * dy[:, :, None, :, None, :]
    n, a, _, b, _, c = d.shape
    return d.reshape(n, a * 2, b * 2, c)


def numpy_step(p, x, y):
    w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = p
    xp = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    z1, c1 = _conv(xp, w1)
    a1 = np.maximum(z1 + b1, 0)
    p1, m1 = _pool(a1)
    z2, c2 = _conv(p1, w2)
    a2 = np.maximum(z2 + b2, 0)
    p2, m2 = _pool(a2)
    f = p2.reshape(B, -1)
    h3 = np.maximum(f @ w3 + b3, 0)
    h4 = np.maximum(h3 @ w4 + b4, 0)
    lo = h4 @ w5 + b5
    e = np.exp(lo - lo.max(1, keepdims=True))
    e /= e.sum(1, keepdims=True)
    e[np.arange(B), y] -= 1
    d5 = e / B
    d4 = (d5 @ w5.T) * (h4 > 0)
    d3 = (d4 @ w4.T) * (h3 > 0)
    df = (d3 @ w3.T).reshape(p2.shape)
    da2 = _unpool(df, m2) * (a2 > 0)
    g2 = (c2.T @ da2.reshape(-1, 16)).reshape(w2.shape)
    dcols = (da2.reshape(-1, 16) @ w2.reshape(-1, 16).T).reshape(B, 10, 10, 5, 5, 6)
    dp1 = np.zeros((B, 14, 14, 6), np.float32)
    for i in range(5):
        for j in range(5):
            dp1[:, i:i + 10, j:j + 10] += dcols[:, :, :, i, j]
    da1 = _unpool(dp1, m1) * (a1 > 0)
    g1 = (c1.T @ da1.reshape(-1, 6)).reshape(w1.shape)
    grads = [g1, da1.sum((0, 1, 2)), g2, da2.sum((0, 1, 2)), f.T @ d3, d3.sum(0),
             h3.T @ d4, d4.sum(0), h4.T @ d5, d5.sum(0)]
    for v, g in zip(p, grads):
        v -= LR * g


# ----- flowgrad ---------------------------------------------------------------------------
def flowgrad_step_fn(params):
    import flowgrad as tf

    g = tf.Graph()
    with g.as_default():
        xs = tf.placeholder(tf.float32, (B, 28, 28, 1))
        ys = tf.placeholder(tf.int64, (B,))
        v = [tf.Variable(p) for p in params]
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(xs, v[0], [1, 1, 1, 1], "SAME"), v[1]))
        h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, v[2], [1, 1, 1, 1], "VALID"), v[3]))
        h = tf.reshape(tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [B, 400])
        h = tf.nn.relu(tf.matmul(h, v[4]) + v[5])
        h = tf.nn.relu(tf.matmul(h, v[6]) + v[7])
        logits = tf.matmul(h, v[8]) + v[9]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ys,
                                                                           logits=logits))
        train = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        sess = tf.Session(graph=g)
        sess.run(tf.global_variables_initializer())
    return lambda x, y: sess.run(train, {xs: x, ys: y})


def torch_step_fn(params):
    import torch

    t = [torch.tensor(p, requires_grad=True) for p in params]
    t[0].data = torch.tensor(params[0]).permute(3, 2, 0, 1).contiguous()
    t[2].data = torch.tensor(params[2]).permute(3, 2, 0, 1).contiguous()
    opt = torch.optim.SGD(t, lr=LR)
    F = torch.nn.functional

    def step(x, y):
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)
        h = F.max_pool2d(F.relu(F.conv2d(xt, t[0], t[1], padding=2)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, t[2], t[3])), 2).reshape(B, -1)
        h = F.relu(h @ t[4] + t[5])
        h = F.relu(h @ t[6] + t[7])
        loss = F.cross_entropy(h @ t[8] + t[9], torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def tf1_step_fn(params):
    import tensorflow.compat.v1 as tf1

    tf1.disable_eager_execution()
    g = tf1.Graph()
    with g.as_default():
        xs = tf1.placeholder(tf1.float32, (B, 28, 28, 1))
        ys = tf1.placeholder(tf1.int64, (B,))
        v = [tf1.Variable(p) for p in params]
        h = tf1.nn.relu(tf1.nn.bias_add(tf1.nn.conv2d(xs, v[0], [1, 1, 1, 1], "SAME"), v[1]))
        h = tf1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        h = tf1.nn.relu(tf1.nn.bias_add(tf1.nn.conv2d(h, v[2], [1, 1, 1, 1], "VALID"), v[3]))
        h = tf1.reshape(tf1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [B, 400])
        h = tf1.nn.relu(tf1.matmul(h, v[4]) + v[5])
        h = tf1.nn.relu(tf1.matmul(h, v[6]) + v[7])
        logits = tf1.matmul(h, v[8]) + v[9]
        loss = tf1.reduce_mean(tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=ys,
                                                                             logits=logits))
        train = tf1.train.GradientDescentOptimizer(LR).minimize(loss)
        sess = tf1.Session(graph=g)
        sess.run(tf1.global_variables_initializer())
    return lambda x, y: sess.run(train, {xs: x, ys: y})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((B, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, B)
    params = init_params()
    runners = {"numpy (hand)": (lambda p: (lambda a, b: numpy_step(p, a, b)))(
        [q.copy() for q in params]), "flowgrad": flowgrad_step_fn(params)}
    for name, fn in (("pytorch", torch_step_fn), ("tf1 graph", tf1_step_fn)):
        try:
            runners[name] = fn(params)
        except ImportError as e:
            print(f"{name}: not importable ({e}); skipped")
    times = {k: [] for k in runners}
    for i in range(args.warmup + args.steps):
        for k, f in runners.items():
            t0 = time.perf_counter()
            f(x, y)
            if i >= args.warmup:
                times[k].append(time.perf_counter() - t0)
    base = np.median(times["flowgrad"])
    print(f"LeNet-5 training step, batch {B}, median of {args.steps} steps (ms/step)")
    print(f"{'framework':<14}{'median':>9}{'min':>9}{'vs flowgrad':>13}")
    for k, ts in times.items():
        m = np.median(ts)
        print(f"{k:<14}{m * 1e3:9.2f}{min(ts) * 1e3:9.2f}{m / base:13.2f}")


if __name__ == "__main__":
    main()
