"""Softmax regression on handwritten digits, written as a classic TensorFlow 1 tutorial.

This is the "MNIST for ML beginners" model (one dense layer, softmax, cross-entropy,
gradient descent) on scikit-learn's 8x8 digits, with the usual TF1 scaffolding around it:
``tf.app.flags`` for the settings, ``tf.app.run`` as the entry point, ``tf.gfile`` for the
output directory, ``tf.logging`` for progress, and ``tf.train.Saver`` for checkpoints.

The only line that differs from the TensorFlow 1 script is the import: replace
``import flowgrad as tf`` by ``import tensorflow as tf`` and it runs on TensorFlow 1.x.

    python examples/tf1_tutorial.py --train_dir=/tmp/digits_softmax --max_steps=500
"""

from __future__ import absolute_import, division, print_function

import os

import numpy as np
from sklearn.datasets import load_digits

import flowgrad as tf

flags = tf.app.flags
flags.DEFINE_string("train_dir", "/tmp/digits_softmax", "Directory for checkpoints and logs.")
flags.DEFINE_integer("max_steps", 500, "Number of training steps.")
flags.DEFINE_integer("batch_size", 100, "Examples per training step.")
flags.DEFINE_float("learning_rate", 0.5, "Gradient descent learning rate.")
flags.DEFINE_integer("log_every", 100, "Log and checkpoint every this many steps.")
flags.DEFINE_integer("seed", 1, "Seed for the data split and the batches.")
FLAGS = flags.FLAGS


def load_data(seed):
    """The digits as float32 pixels in [0, 1] and one-hot labels, split 1500 / 297."""
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[digits.target]
    order = np.random.RandomState(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    return (images[:1500], labels[:1500]), (images[1500:], labels[1500:])


def main(_):
    tf.logging.set_verbosity(tf.logging.INFO)
    if tf.gfile.Exists(FLAGS.train_dir):
        tf.gfile.DeleteRecursively(FLAGS.train_dir)
    tf.gfile.MakeDirs(FLAGS.train_dir)

    (train_x, train_y), (test_x, test_y) = load_data(FLAGS.seed)

    # The model: y = softmax(x W + b)
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    y_ = tf.placeholder(tf.float32, [None, 10], name="labels")
    W = tf.Variable(tf.zeros([64, 10]), name="weights")
    b = tf.Variable(tf.zeros([10]), name="biases")
    logits = tf.matmul(x, W) + b
    y = tf.nn.softmax(logits)

    cross_entropy = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    global_step = tf.Variable(0, name="global_step", trainable=False)
    train_step = tf.train.GradientDescentOptimizer(FLAGS.learning_rate).minimize(
        cross_entropy, global_step=global_step)

    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

    saver = tf.train.Saver(max_to_keep=3)
    checkpoint_path = os.path.join(FLAGS.train_dir, "model.ckpt")
    rng = np.random.RandomState(FLAGS.seed)

    with tf.Session() as sess:
        sess.run(tf.initialize_all_variables())
        for step in range(1, FLAGS.max_steps + 1):
            idx = rng.randint(0, len(train_x), FLAGS.batch_size)
            _, loss = sess.run([train_step, cross_entropy],
                               feed_dict={x: train_x[idx], y_: train_y[idx]})
            if step % FLAGS.log_every == 0 or step == FLAGS.max_steps:
                tf.logging.info("step %d: loss = %.4f", step, loss)
                saver.save(sess, checkpoint_path, global_step=global_step)

        test_accuracy = sess.run(accuracy, feed_dict={x: test_x, y_: test_y})
        print("test accuracy %.4f" % test_accuracy)

    # Reload the last checkpoint into a fresh session: the same accuracy comes back.
    with tf.Session() as sess:
        saver.restore(sess, tf.train.latest_checkpoint(FLAGS.train_dir))
        restored = sess.run(accuracy, feed_dict={x: test_x, y_: test_y})
        tf.logging.info("restored step %d, accuracy %.4f", sess.run(global_step), restored)

    with tf.gfile.GFile(os.path.join(FLAGS.train_dir, "result.txt"), "w") as f:
        f.write("test_accuracy %.4f\nrestored_accuracy %.4f\n" % (test_accuracy, restored))


if __name__ == "__main__":
    tf.app.run()
