"""A classic TF1 recurrent-network tutorial, unchanged except for its imports.

    python examples/tf1_rnn_tutorial.py

The shape of the well-known TF1 "recurrent network on image rows" tutorial: placeholders,
``rnn.BasicLSTMCell`` + ``rnn.static_rnn`` over ``tf.unstack``-ed rows, a linear read-out
of the last output, Adam, and an accuracy op; here on scikit-learn's 8x8 digits so it
needs no download.  With TensorFlow 1 the two imports read ``import tensorflow as tf`` and
``from tensorflow.contrib import rnn``.
"""

import numpy as np

import flowgrad as tf
from flowgrad.contrib import rnn

# Training parameters
learning_rate = 0.01
training_steps = 300
batch_size = 64
display_step = 100

# Network parameters
num_input = 8       # a row of the image
timesteps = 8       # rows
num_hidden = 32
num_classes = 10


def RNN(x, weights, biases):
    # [batch, timesteps, num_input] -> a list of `timesteps` tensors [batch, num_input]
    x = tf.unstack(x, timesteps, 1)
    lstm_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
    outputs, states = rnn.static_rnn(lstm_cell, x, dtype=tf.float32)
    return tf.matmul(outputs[-1], weights['out']) + biases['out']


def main(verbose: bool = False) -> float:
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    labels = np.eye(num_classes, dtype=np.float32)[digits.target]
    train_x, test_x = images[:1400], images[1400:]
    train_y, test_y = labels[:1400], labels[1400:]

    tf.reset_default_graph()
    tf.set_random_seed(1)
    X = tf.placeholder("float", [None, timesteps, num_input])
    Y = tf.placeholder("float", [None, num_classes])
    weights = {'out': tf.Variable(tf.random_normal([num_hidden, num_classes]))}
    biases = {'out': tf.Variable(tf.random_normal([num_classes]))}

    logits = RNN(X, weights, biases)
    prediction = tf.nn.softmax(logits)
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
    optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate)
    train_op = optimizer.minimize(loss_op)
    correct_pred = tf.equal(tf.argmax(prediction, 1), tf.argmax(Y, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))
    init = tf.global_variables_initializer()

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(init)
        for step in range(1, training_steps + 1):
            idx = rng.randint(0, len(train_x), batch_size)
            batch_x, batch_y = train_x[idx], train_y[idx]
            sess.run(train_op, feed_dict={X: batch_x, Y: batch_y})
            if verbose and (step % display_step == 0 or step == 1):
                loss, acc = sess.run([loss_op, accuracy], feed_dict={X: batch_x, Y: batch_y})
                print(f"Step {step}, Minibatch Loss= {loss:.4f}, Training Accuracy= {acc:.3f}")
        return float(sess.run(accuracy, feed_dict={X: test_x, Y: test_y}))


if __name__ == "__main__":
    print(f"Testing Accuracy: {main(verbose=True):.3f}")
