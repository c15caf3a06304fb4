"""Training-step time of the digits MLP (64-128-64-10, ReLU, dropout 0.2, Adam, batch 32):
flowgrad against the same model hand-written in numpy, measured in the same run.

    python benchmarks/mlp_digits.py [--steps 2000] [--batch-size 32]

Prints the median time per step of each (over several repeats) and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import flowgrad as tf


def data(batch: int, n: int = 1400, seed: int = 0):
    from sklearn.datasets import load_digits  # noqa: PLC0415

    d = load_digits()
    order = np.random.RandomState(seed).permutation(len(d.data))[:n]
    x = (d.data[order] / 16.0).astype(np.float32)
    y = d.target[order].astype(np.int64)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n - batch + 1, batch)]


class FlowgradMLP:
    def __init__(self):
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(0)
            self.x = tf.placeholder(tf.float32, [None, 64])
            self.y = tf.placeholder(tf.int64, [None])
            h = tf.layers.dense(self.x, 128, activation=tf.nn.relu)
            h = tf.layers.dropout(h, rate=0.2, training=True)
            h = tf.layers.dense(h, 64, activation=tf.nn.relu)
            h = tf.layers.dropout(h, rate=0.2, training=True)
            logits = tf.layers.dense(h, 10)
            loss = tf.losses.sparse_softmax_cross_entropy(labels=self.y, logits=logits)
            self.train = tf.train.AdamOptimizer(0.003).minimize(loss)
            self.sess = tf.Session(graph=g)
            self.sess.run(tf.global_variables_initializer())

    def step(self, xb, yb):
        self.sess.run(self.train, {self.x: xb, self.y: yb})


class NumpyMLP:
    """The same network, forward and backward by hand, with TF1's Adam update."""

    def __init__(self, seed: int = 0, lr=0.003, b1=0.9, b2=0.999, eps=1e-8):
        rng = np.random.default_rng(seed)
        self.rng = rng
        sizes = [64, 128, 64, 10]
        self.params = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            lim = np.sqrt(6.0 / (a + b))
            self.params += [rng.uniform(-lim, lim, (a, b)).astype(np.float32),
                            np.zeros(b, np.float32)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.eps = (np.float32(lr), np.float32(b1), np.float32(b2),
                                               np.float32(eps))
        self.b1p, self.b2p = np.float32(b1), np.float32(b2)

    def _dropout(self, h, rate=0.2):
        keep = (self.rng.random(h.shape, dtype=np.float32) >= rate).astype(np.float32)
        return h * np.float32(1 / (1 - rate)) * keep, keep

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3 = self.params
        z1 = x @ w1 + b1
        h1 = np.maximum(z1, 0)
        d1, k1 = self._dropout(h1)
        z2 = d1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        d2, k2 = self._dropout(h2)
        z3 = d2 @ w3 + b3
        z = z3 - z3.max(1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(1, keepdims=True)
        n = len(y)
        p[np.arange(n), y] -= 1
        dz3 = p / np.float32(n)
        gw3, gb3 = d2.T @ dz3, dz3.sum(0)
        dz2 = (dz3 @ w3.T) * k2 * np.float32(1.25) * (z2 > 0)
        gw2, gb2 = d1.T @ dz2, dz2.sum(0)
        dz1 = (dz2 @ w2.T) * k1 * np.float32(1.25) * (z1 > 0)
        gw1, gb1 = x.T @ dz1, dz1.sum(0)
        alpha = self.lr * np.sqrt(1 - self.b2p) / (1 - self.b1p)
        for i, g in enumerate((gw1, gb1, gw2, gb2, gw3, gb3)):
            self.m[i] = self.m[i] + (g - self.m[i]) * (1 - self.b1)
            self.v[i] = self.v[i] + (g * g - self.v[i]) * (1 - self.b2)
            self.params[i] = self.params[i] - alpha * self.m[i] / (np.sqrt(self.v[i]) + self.eps)
        self.b1p, self.b2p = self.b1p * self.b1, self.b2p * self.b2


def time_steps(model, batches, steps: int) -> float:
    for xb, yb in batches[:5]:          # warm-up (plan compilation for flowgrad)
        model.step(xb, yb)
    t0 = time.perf_counter()
    for i in range(steps):
        xb, yb = batches[i % len(batches)]
        model.step(xb, yb)
    return (time.perf_counter() - t0) / steps


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    batches = data(args.batch_size)
    fg, npm = FlowgradMLP(), NumpyMLP()
    t_fg, t_np = [], []
    for _ in range(args.repeats):        # interleaved, so both see the same machine load
        t_fg.append(time_steps(fg, batches, args.steps))
        t_np.append(time_steps(npm, batches, args.steps))
    f, n = statistics.median(t_fg), statistics.median(t_np)
    print(f"batch {args.batch_size}, {args.steps} steps x {args.repeats} repeats (median)")
    print(f"flowgrad      {f * 1e6:8.1f} us/step")
    print(f"numpy (hand)  {n * 1e6:8.1f} us/step")
    print(f"ratio flowgrad / numpy: {f / n:.2f}")


if __name__ == "__main__":
    main()
