"""A single perceptron learns AND and OR but not XOR (it is not linearly separable).

    python examples/perceptron.py
"""

import numpy as np

import flowgrad as tf

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TARGETS = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def train_perceptron(targets, steps=2000, lr=1.0, seed=0):
    """Logistic unit sigmoid(x W + b) trained by gradient descent on cross-entropy."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, (None, 2))
    y = tf.placeholder(tf.float32, (None, 1))
    w = tf.Variable(tf.random_normal((2, 1), stddev=0.1))
    b = tf.Variable(tf.zeros((1,)))
    logits = tf.matmul(x, w) + b
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    predict = tf.cast(logits > 0, tf.float32)
    feed = {x: X, y: np.array(targets, np.float32)[:, None]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            sess.run(train, feed)
        final_loss, pred = sess.run([loss, predict], feed)
    return final_loss, pred[:, 0].astype(int).tolist()


def main():
    results = {}
    for name, targets in TARGETS.items():
        loss, pred = train_perceptron(targets)
        ok = pred == targets
        results[name] = ok
        print(f"{name:3s}: loss {loss:.3f}  predictions {pred}  targets {targets}  "
              f"{'learned' if ok else 'NOT learned'}")
    return results


if __name__ == "__main__":
    main()
