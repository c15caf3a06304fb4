"""CTC loss (with its gradient) and the beam-search decoder, against TensorFlow's C++
kernels in the same run when TensorFlow is installed.

    python benchmarks/bench_ctc.py

Sizes: 100 steps, batch 32, 30 classes, 20 labels per example; beam width 10 over 4
examples.
"""

import os
import time

import numpy as np

import flowgrad as tf

T, B, C, L = 100, 32, 30, 20


def _best(fn, repeat: int = 5, number: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, B, C)).astype(np.float32)
    indices = np.array([[b, i] for b in range(B) for i in range(L)], np.int64)
    values = rng.integers(0, C - 1, size=B * L).astype(np.int32)
    return x, indices, values


def flowgrad_times(x, indices, values) -> tuple[float, float]:
    g = tf.Graph()
    with g.as_default():
        xt = tf.placeholder(tf.float32, x.shape)
        loss = tf.nn.ctc_loss(tf.SparseTensor(indices, values, [B, L]), xt, [T] * B)
        grad = tf.gradients(tf.reduce_sum(loss), xt)[0]
        _, logp = tf.nn.ctc_beam_search_decoder(xt[:, :4], [T] * 4, beam_width=10)
        sess = tf.Session(graph=g)
    sess.run([loss, grad], {xt: x})
    return (_best(lambda: sess.run([loss, grad], {xt: x})),
            _best(lambda: sess.run(logp, {xt: x}), number=2))


def tensorflow_times(x, indices, values):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as real  # noqa: PLC0415
    except ImportError:
        return None
    sp = real.SparseTensor(indices, values, [B, L])

    @real.function
    def step(v):
        loss = real.compat.v1.nn.ctc_loss(sp, v, [T] * B)
        return loss, real.gradients(real.reduce_sum(loss), v)

    @real.function
    def beam(v):
        return real.compat.v1.nn.ctc_beam_search_decoder(v[:, :4], [T] * 4, beam_width=10)[1]

    xv = real.constant(x)
    step(xv)
    beam(xv)
    return _best(lambda: step(xv)), _best(lambda: beam(xv), number=2)


def main() -> None:
    x, indices, values = _data()
    ours = flowgrad_times(x, indices, values)
    theirs = tensorflow_times(x, indices, values)
    for name, i in (("ctc_loss + gradient", 0), ("beam search (width 10, 4 ex.)", 1)):
        line = f"{name:32s} flowgrad {ours[i] * 1e3:7.1f} ms"
        if theirs is not None:
            line += f"   tensorflow {theirs[i] * 1e3:7.1f} ms   ratio {ours[i] / theirs[i]:.2f}"
        print(line)


if __name__ == "__main__":
    main()
