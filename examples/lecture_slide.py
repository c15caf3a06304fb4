"""The lecture's first TensorFlow program, unchanged but for the import line.

    python examples/lecture_slide.py
"""

import numpy as np

import flowgrad as tf

b = tf.Variable(tf.zeros((100,)))
W = tf.Variable(tf.random_uniform((784, 100), -1, 1))
x = tf.placeholder(tf.float32, (1, 784))
h = tf.nn.relu(tf.matmul(x, W) + b)

sess = tf.Session()
sess.run(tf.global_variables_initializer())
out = sess.run(h, {x: np.random.random((1, 784))})
print("h has shape", out.shape, "and", int((out > 0).sum()), "active units of 100")
print("the graph:", ", ".join(op.name for op in tf.get_default_graph().get_operations()))
