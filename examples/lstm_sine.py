"""An LSTM learns to predict the next value of a sine wave from the previous 16.

    python examples/lstm_sine.py

Classic TF1 code: ``BasicLSTMCell`` + ``dynamic_rnn``, a dense read-out of the last output,
mean squared error and plain gradient descent.
"""

import numpy as np

import flowgrad as tf


def windows(n: int, steps: int, rng) -> tuple[np.ndarray, np.ndarray]:
    start = rng.uniform(0, 2 * np.pi, size=(n, 1))
    freq = rng.uniform(0.5, 1.5, size=(n, 1))
    t = start + freq * 0.3 * np.arange(steps + 1)
    wave = np.sin(t).astype(np.float32)
    return wave[:, :steps, None], wave[:, steps:]


def main(steps: int = 150, seed: int = 0) -> tuple[float, float]:
    """Trains; returns (loss before training, loss after) on held-out windows."""
    rng = np.random.default_rng(seed)
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 16, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    cell = tf.nn.rnn_cell.BasicLSTMCell(16)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    w = tf.get_variable("out/kernel", [16, 1])
    b = tf.get_variable("out/bias", [1], initializer=tf.zeros_initializer())
    pred = tf.matmul(state.h, w) + b
    loss = tf.reduce_mean(tf.square(pred - y))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    xt, yt = windows(256, 16, rng)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(loss, {x: xt, y: yt})
        for _ in range(steps):
            xb, yb = windows(64, 16, rng)
            sess.run(train, {x: xb, y: yb})
        after = sess.run(loss, {x: xt, y: yt})
    return float(before), float(after)


if __name__ == "__main__":
    before, after = main()
    print(f"test MSE before training {before:.4f}, after {after:.4f}")
