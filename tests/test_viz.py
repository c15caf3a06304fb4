"""Graph drawings: DOT text, forward vs gradient styling, value annotation, rendering."""

import shutil

import pytest

import flowgrad as tf
from flowgrad import viz


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def lecture_example():
    w1 = tf.placeholder(tf.float32, name="w1")
    w2 = tf.placeholder(tf.float32, name="w2")
    w3 = tf.multiply(w1, w2, name="w3")
    w4 = tf.sin(w1, name="w4")
    w5 = tf.add(w3, w4, name="w5")
    return w1, w2, w5


def node_lines(dot):
    return {ln.split('"')[1]: ln for ln in dot.splitlines()
            if ln.startswith('  "') and "->" not in ln}


def test_forward_drawing_has_nodes_and_shaped_edges():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.reduce_sum(tf.square(x, name="sq"), name="total")
    dot = viz.draw(y)
    assert dot.startswith("digraph flowgrad {") and dot.rstrip().endswith("}")
    nodes = node_lines(dot)
    assert {"x", "sq", "total"} <= set(nodes)
    assert '"x" -> "sq" [label="(?, 3)"]' in dot
    assert "invhouse" in nodes["x"]          # placeholders stand out


def test_gradient_nodes_are_distinct_and_optional():
    w1, w2, w5 = lecture_example()
    grads = tf.gradients(w5, [w1, w2])
    full = viz.draw(tf.get_default_graph())
    nodes = node_lines(full)
    grad_nodes = [n for n in nodes if n.startswith("gradients/")]
    assert grad_nodes
    assert all("#ffd8a8" in nodes[n] for n in grad_nodes)
    assert all("#ffd8a8" not in nodes[n] for n in ("w3", "w4", "w5"))
    assert "style=dashed" in full
    forward = viz.draw(tf.get_default_graph(), backward=False)
    assert not [n for n in node_lines(forward) if n.startswith("gradients/")]
    assert viz.is_gradient_op(grads[0].op) and not viz.is_gradient_op(w5.op)


def test_values_annotate_every_node():
    w1, w2, w5 = lecture_example()
    dw1, dw2 = tf.gradients(w5, [w1, w2])
    dot = viz.draw([w5, dw1, dw2], values={w1: 2.0, w2: 3.0})
    nodes = node_lines(dot)
    assert "= 2" in nodes["w1"] and "= 3" in nodes["w2"]
    assert "= 6" in nodes["w3"] and "= 0.9093" in nodes["w4"] and "= 6.909" in nodes["w5"]
    # dw5/dw1 = w2 + cos(w1) = 3 - 0.416
    assert "= 2.584" in nodes[dw1.op.name] and "= 2" in nodes[dw2.op.name]


def test_values_with_variables_use_their_initializers():
    v = tf.Variable(4.0, name="v")
    y = tf.multiply(v, 2.0, name="double")
    assert "= 8" in node_lines(viz.draw(y, values={}))["double"]


def test_render_dot_and_missing_graphviz(tmp_path, monkeypatch):
    _, _, w5 = lecture_example()
    p = tmp_path / "g.dot"
    text = viz.draw(w5, path=str(p))
    assert p.read_text() == text
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(viz.GraphvizNotFound, match="Graphviz"):
        viz.draw(w5, path=str(tmp_path / "g.svg"))
    with pytest.raises(ValueError, match=".dot, .svg"):
        viz.render(text, str(tmp_path / "g.txt"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_svg_with_graphviz(tmp_path):
    _, _, w5 = lecture_example()
    p = tmp_path / "g.svg"
    viz.draw(w5, path=str(p))
    assert "<svg" in p.read_text()
