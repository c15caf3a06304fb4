"""One hidden layer (2-8-1, tanh) learns XOR, which a single perceptron cannot.

    python examples/xor_hidden_layer.py
"""

import numpy as np

import flowgrad as tf

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def build(hidden=8, lr=0.5, seed=1):
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, (None, 2), name="x")
    y = tf.placeholder(tf.float32, (None, 1), name="y")
    w1 = tf.Variable(tf.random_normal((2, hidden), stddev=1.0), name="w1")
    b1 = tf.Variable(tf.zeros((hidden,)), name="b1")
    w2 = tf.Variable(tf.random_normal((hidden, 1), stddev=1.0), name="w2")
    b2 = tf.Variable(tf.zeros((1,)), name="b2")
    h = tf.tanh(tf.matmul(x, w1) + b1)
    logits = tf.matmul(h, w2) + b2
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    predict = tf.cast(logits > 0, tf.int32)
    return x, y, loss, train, predict


def main(steps=2000):
    tf.reset_default_graph()
    x, y, loss, train, predict = build()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(steps + 1):
            _, loss_value = sess.run([train, loss], {x: X, y: Y})
            if step % 500 == 0:
                print(f"step {step:5d}  loss {loss_value:.4f}")
        pred = sess.run(predict, {x: X})[:, 0].tolist()
    print(f"XOR predictions {pred} (targets [0, 1, 1, 0]):",
          "learned" if pred == [0, 1, 1, 0] else "not learned")
    return loss_value, pred


if __name__ == "__main__":
    main()
