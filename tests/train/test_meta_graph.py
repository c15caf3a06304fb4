"""Meta-graphs: export/import in one process, and a train / save / import + restore /
continue round trip across processes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import flowgrad as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tf.__file__)))


def _model(seed=3):
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    with tf.variable_scope("dense"):
        w = tf.get_variable("kernel", [4, 3], initializer=tf.random_normal_initializer())
        b = tf.get_variable("bias", [3], initializer=tf.zeros_initializer())
    logits = tf.add(tf.matmul(x, w), b, name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                         logits=logits),
                          name="loss")
    step = tf.Variable(0, trainable=False, name="global_step", dtype=tf.int64)
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, global_step=step)
    tf.add_to_collection("train_op", train)
    return x, y, loss, train


DATA_X = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
DATA_Y = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def test_round_trip_in_process_rebuilds_every_op_and_collection(tmp_path):
    path = str(tmp_path / "m.meta")
    g = tf.Graph()
    with g.as_default():
        x, y, loss, train = _model()
        tf.constant(["ab", "c"], name="strings")
        tf.identity(x[:, 1:3], name="part")
        bm = tf.boolean_mask(x, tf.constant([True, False] * 4), name="bm")
        with tf.control_dependencies([train]):
            after = tf.identity(loss, name="after")
        tf.add_to_collection("notes", "hello")
        tf.add_to_collection("notes", 2.5)
        tf.add_to_collection("notes", object())     # left out with a warning
        mg = tf.train.export_meta_graph(path)
    assert os.path.exists(path) and "notes" in mg.collection_def
    g2 = tf.Graph()
    with g2.as_default():
        saver = tf.train.import_meta_graph(path)
        assert isinstance(saver, tf.train.Saver)
        n = len(g.get_operations())    # the new Saver adds its restore ops after these
        assert [o.name for o in g2.get_operations()[:n]] == [o.name for o in g.get_operations()]
        for a, b in zip(g.get_operations(), g2.get_operations()):
            assert a.type == b.type and [t.name for t in a.inputs] == [t.name for t in b.inputs]
            assert [c.name for c in a.control_inputs] == [c.name for c in b.control_inputs]
            assert [t.shape.as_list() if t.shape.ndims is not None else None
                    for t in a.outputs] == [t.shape.as_list() if t.shape.ndims is not None
                                            else None for t in b.outputs]
        assert [v.name for v in tf.trainable_variables()] == ["dense/kernel:0", "dense/bias:0"]
        assert all(isinstance(v, tf.Variable) for v in tf.global_variables())
        assert len(tf.global_variables()) == 3
        assert tf.get_collection("notes") == ["hello", 2.5]
        assert tf.get_collection("train_op")[0].name == train.name
        assert g2.get_tensor_by_name(bm.name).shape.as_list() == [None, 4]
        # new ops get fresh names next to the imported ones
        assert tf.identity(g2.get_tensor_by_name("loss:0"), name="loss").name == "loss_1:0"
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = sess.run(["strings:0", "part:0"], {"x:0": DATA_X})
            assert got[0].tolist() == [b"ab", b"c"]
            np.testing.assert_array_equal(got[1], DATA_X[:, 1:3])
            losses2 = [sess.run("after:0", {"x:0": DATA_X, "y:0": DATA_Y}) for _ in range(3)]
    with g.as_default(), tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run(after, {x: DATA_X, y: DATA_Y}) for _ in range(3)]
    np.testing.assert_array_equal(losses, losses2)   # same seeded init, same updates


def test_scopes_collection_list_and_gradients_of_imported_graph():
    g = tf.Graph()
    with g.as_default():
        with tf.name_scope("net"):
            a = tf.placeholder(tf.float64, [3], name="a")
            out = tf.reduce_sum(tf.square(a), name="out")
        tf.add_to_collection("outs", out)
        tf.add_to_collection("other", a)
        mg = tf.train.export_meta_graph(export_scope="net", collection_list=["outs"])
    assert list(mg.collection_def) == ["outs"]
    assert [e["name"] for e in mg.meta["ops"]][0] == "a"
    g2 = tf.Graph()
    with g2.as_default():
        assert tf.train.import_meta_graph(mg, import_scope="copy") is None   # no variables
        a2 = g2.get_tensor_by_name("copy/a:0")
        out2 = tf.get_collection("outs")[0]
        assert out2.name == "copy/out:0" and tf.get_collection("other") == []
        (grad,) = tf.gradients(out2, a2)
        with tf.Session() as sess:
            assert sess.run(grad, {a2: [1.0, 2.0, 3.0]}).tolist() == [2.0, 4.0, 6.0]
        # input_map splices an existing tensor in place of an imported one
        c = tf.constant([1.0, 1.0, 2.0], dtype=tf.float64)
        tf.train.import_meta_graph(mg, import_scope="mapped", input_map={"a": c})
        out3 = g2.get_tensor_by_name("mapped/out:0")
        assert out3.op.inputs[0].op.inputs[0] is c
        with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
            assert sess.run(out3) == 6.0


def test_unserialisable_attribute_is_a_clear_error(tmp_path):
    with tf.Graph().as_default():
        tf.py_func(np.abs, [tf.constant(-1.0)], tf.float32, name="weird")
        with pytest.raises(TypeError, match=r"op 'weird' \(PyFunc\) 'func'.*no meta-graph"):
            tf.train.export_meta_graph(str(tmp_path / "x.meta"))


def test_saver_skips_the_meta_file_of_an_unexportable_graph(tmp_path):
    import logging
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep()
    logging.getLogger("flowgrad").addHandler(handler)
    try:
        with tf.Graph().as_default():
            v = tf.Variable(1.0, name="v")
            tf.py_func(np.abs, [tf.constant(-1.0)], tf.float32, name="weird")
            saver = tf.train.Saver()
            with tf.Session() as sess:
                sess.run(v.initializer)
                path = saver.save(sess, str(tmp_path / "m"))
                saver.save(sess, str(tmp_path / "m2"))
                saver.restore(sess, path)
    finally:
        logging.getLogger("flowgrad").removeHandler(handler)
    assert not os.path.exists(path + ".meta")
    warned = [r for r in records if "meta-graph" in r]
    assert len(warned) == 1 and "op 'weird' (PyFunc)" in warned[0]


def test_devices_survive_unless_cleared():
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            tf.constant(1.0, name="c")
        mg = tf.train.export_meta_graph()
    for clear, want in ((False, "/device:CPU:0"), (True, "")):
        with tf.Graph().as_default() as g:
            tf.train.import_meta_graph(mg, clear_devices=clear)
            assert g.get_operation_by_name("c").device == want


def test_importing_twice_needs_a_scope():
    with tf.Graph().as_default():
        tf.constant(1.0, name="c")
        mg = tf.train.export_meta_graph()
        with pytest.raises(ValueError, match="already has an op named 'c'.*import_scope"):
            tf.train.import_meta_graph(mg)
        tf.train.import_meta_graph(mg, import_scope="again")
        assert tf.get_default_graph().get_operation_by_name("again/c").type == "Const"


def test_bad_files(tmp_path):
    with pytest.raises(tf.errors.NotFoundError):
        tf.train.import_meta_graph(str(tmp_path / "missing.meta"))
    p = tmp_path / "junk.meta"
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a flowgrad meta-graph"):
        tf.train.import_meta_graph(str(p))


RESUME = textwrap.dedent("""
    import json, sys
    import numpy as np
    import flowgrad as tf

    ckpt, out = sys.argv[1], sys.argv[2]
    x = np.asarray(json.loads(sys.argv[3]), dtype=np.float32)
    y = np.asarray(json.loads(sys.argv[4]), dtype=np.int64)
    saver = tf.train.import_meta_graph(ckpt + ".meta")
    train_op = tf.get_collection("train_op")[0]
    g = tf.get_default_graph()
    loss = g.get_tensor_by_name("loss:0")
    with tf.Session() as sess:
        saver.restore(sess, ckpt)
        losses = [float(sess.run([loss, train_op], {"x:0": x, "y:0": y})[0]) for _ in range(4)]
        kernel = sess.run(g.get_tensor_by_name("dense/kernel:0")).tolist()
        step = int(sess.run("global_step:0"))
    json.dump({"losses": losses, "kernel": kernel, "step": step}, open(out, "w"))
""")


def test_train_save_then_import_restore_and_continue_in_a_new_process(tmp_path):
    import json
    g = tf.Graph()
    with g.as_default():
        x, y, loss, train = _model(seed=7)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train, {x: DATA_X, y: DATA_Y})
            ckpt = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=3)
            assert os.path.exists(ckpt + ".meta")
            expected = [float(sess.run([loss, train], {x: DATA_X, y: DATA_Y})[0])
                        for _ in range(4)]
            kernel = sess.run(g.get_tensor_by_name("dense/kernel:0"))
    script = tmp_path / "resume.py"
    script.write_text(RESUME)
    out = tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(script), ckpt, str(out),
                           json.dumps(DATA_X.tolist()), json.dumps(DATA_Y.tolist())],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    np.testing.assert_allclose(got["losses"], expected, rtol=1e-6)
    assert expected[-1] < expected[0]
    np.testing.assert_allclose(got["kernel"], kernel, rtol=1e-6)
    assert got["step"] == 7


def test_control_flow_graphs_round_trip_with_their_gradients(tmp_path):
    path = str(tmp_path / "cf.meta")
    feed = [1.0, 2.0, 3.0]
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [3], name="x")
        flag = tf.placeholder(tf.bool, [], name="flag")
        w = tf.Variable(np.array([0.5, -0.3, 0.8]), name="w")
        y = tf.cond(flag, lambda: tf.reduce_sum(x * w),
                    lambda: tf.reduce_sum(tf.square(x - w)))
        _, acc = tf.while_loop(lambda i, a: i < 3,
                               lambda i, a: (i + 1, a * 0.9 + tf.reduce_sum(w * x)),
                               [tf.constant(0), tf.constant(0.0, tf.float64)])
        loss = tf.add(y, acc, name="loss")
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        tf.add_to_collection("train_op", train)
        tf.train.export_meta_graph(path)
        with pytest.raises((TypeError, ValueError), match="export_scope"):
            tf.train.export_meta_graph(export_scope="cond")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            expected = [sess.run([loss, train], {x: feed, flag: bool(i % 2)})[0]
                        for i in range(4)]
    with tf.Graph().as_default():
        tf.placeholder(tf.float32, name="unrelated")     # ids shift: sub-graphs still line up
        tf.train.import_meta_graph(path, import_scope="m")
        train_op = tf.get_collection("train_op")[0]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = [sess.run(["m/loss:0", train_op], {"m/x:0": feed, "m/flag:0": bool(i % 2)})[0]
                   for i in range(4)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
