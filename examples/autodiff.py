"""Symbolic differentiation of y = sin(x1) + x1 * x2: gradients() adds nodes to the graph.

    python examples/autodiff.py
"""

import math

import flowgrad as tf

x1 = tf.placeholder(tf.float64, (), name="x1")
x2 = tf.placeholder(tf.float64, (), name="x2")
y = tf.add(tf.sin(x1), x1 * x2, name="y")

graph = tf.get_default_graph()
n_forward = len(graph.get_operations())
print("forward graph:")
for op in graph.get_operations():
    print(f"  {op.name:10s} {op.type:12s} <- {', '.join(t.name for t in op.inputs)}")

dx1, dx2 = tf.gradients(y, [x1, x2])
print(f"\ntf.gradients added {len(graph.get_operations()) - n_forward} nodes:")
for op in graph.get_operations()[n_forward:]:
    print(f"  {op.name:28s} {op.type:8s} <- {', '.join(t.name for t in op.inputs)}")

d2x1 = tf.gradients(dx1, x1)[0]        # the gradient graph can be differentiated again

with tf.Session() as sess:
    feed = {x1: 2.0, x2: 5.0}
    vy, v1, v2, v11 = sess.run([y, dx1, dx2, d2x1], feed)
print(f"\nat x1=2, x2=5:  y = {vy:.6f}")
print(f"  dy/dx1 = {v1:.6f}   (x2 + cos x1 = {5 + math.cos(2):.6f})")
print(f"  dy/dx2 = {v2:.6f}   (x1 = 2)")
print(f"  d2y/dx1^2 = {v11:.6f}   (-sin x1 = {-math.sin(2):.6f})")
