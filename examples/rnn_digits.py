"""An RNN classifies the 8x8 handwritten digits, reading one row per time step.

    python examples/rnn_digits.py

``GRUCell`` + ``dynamic_rnn`` over the 8 rows, a softmax read-out of the final state,
trained with gradient descent on 80% of scikit-learn's digits and tested on the rest.
"""

import numpy as np

import flowgrad as tf


def load(seed: int):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)           # [n, 8 rows, 8 columns]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def main(epochs: int = 8, seed: int = 0) -> float:
    """Trains; returns the test accuracy."""
    xtr, ytr, xte, yte = load(seed)
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    images = tf.placeholder(tf.float32, [None, 8, 8])
    labels = tf.placeholder(tf.int64, [None])
    _, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(48), images, dtype=tf.float32)
    logits = _dense(state, 10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                         logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    correct = tf.equal(tf.argmax(logits, 1), labels)
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    rng = np.random.default_rng(seed)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(epochs):
            order = rng.permutation(len(xtr))
            for i in range(0, len(order), 32):
                idx = order[i:i + 32]
                sess.run(train, {images: xtr[idx], labels: ytr[idx]})
        return float(sess.run(accuracy, {images: xte, labels: yte}))


def _dense(x, units):
    w = tf.get_variable("logits/kernel", [x.shape[-1], units])
    b = tf.get_variable("logits/bias", [units], initializer=tf.zeros_initializer())
    return tf.matmul(x, w) + b


if __name__ == "__main__":
    print(f"test accuracy {main():.3f}")
