"""The command line's models: logistic regression, an MLP and LeNet, written in TF1 style.

Each builder takes a batch of images ``[N, H, W]`` (float32 in [0, 1]) and the number of
classes, and returns logits ``[N, classes]``.  Variables are created with
``tf.get_variable`` under TF1's layer names (``dense/kernel``, ``conv1/kernel``, …) so
checkpoints read like TensorFlow's.  LeNet adapts its kernel sizes to the image size: the
classic 5x5 convolutions on MNIST's 28x28 digits, 3x3 on the 8x8 embedded digits.
"""

from __future__ import annotations

from typing import Callable

import flowgrad as tf

MODELS = ("lenet", "mlp", "logreg")


def _dense(x, units: int, name: str, activation: Callable | None = None):
    fan_in = x.shape.as_list()[-1]
    with tf.variable_scope(name):
        w = tf.get_variable("kernel", [fan_in, units], tf.float32,
                            initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("bias", [units], tf.float32, initializer=tf.zeros_initializer())
        y = tf.nn.bias_add(tf.matmul(x, w), b)
        return activation(y) if activation is not None else y


def _conv(x, filters: int, size: int, name: str):
    channels = x.shape.as_list()[-1]
    with tf.variable_scope(name):
        w = tf.get_variable("kernel", [size, size, channels, filters], tf.float32,
                            initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("bias", [filters], tf.float32, initializer=tf.zeros_initializer())
        y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
        return tf.nn.relu(tf.nn.bias_add(y, b))


def _pool(x, name: str):
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME",
                          name=name)


def _flatten(x):
    dims = x.shape.as_list()[1:]
    n = 1
    for d in dims:
        n *= d
    return tf.reshape(x, [-1, n])


def logreg(images, classes: int):
    """Multinomial logistic regression on the raw pixels."""
    return _dense(_flatten(images), classes, "dense")


def mlp(images, classes: int, hidden: int = 128):
    """Two hidden ReLU layers."""
    x = _dense(_flatten(images), hidden, "dense", tf.nn.relu)
    x = _dense(x, hidden, "dense_1", tf.nn.relu)
    return _dense(x, classes, "dense_2")


def lenet(images, classes: int):
    """LeNet: two conv + max-pool stages, then two dense layers."""
    size = images.shape.as_list()[1]
    k = 5 if size >= 16 else 3
    f1, f2, hidden = (32, 64, 256) if size >= 16 else (32, 64, 128)
    x = tf.expand_dims(images, -1)
    x = _pool(_conv(x, f1, k, "conv1"), "pool1")
    x = _pool(_conv(x, f2, k, "conv2"), "pool2")
    x = _dense(_flatten(x), hidden, "dense", tf.nn.relu)
    return _dense(x, classes, "dense_1")


def build(name: str, images, classes: int):
    """Logits of model ``name`` for ``images``."""
    builders = {"lenet": lenet, "mlp": mlp, "logreg": logreg}
    if name not in builders:
        raise ValueError(f"unknown model '{name}' (choose from {', '.join(MODELS)})")
    with tf.variable_scope("model"):
        return builders[name](images, classes)
