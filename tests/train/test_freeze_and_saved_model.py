"""Freezing graphs (tf.graph_util), tf.import_graph_def, tf.train.write_graph and
tf.saved_model: round trips through files, in fresh graphs."""

import os
from pathlib import Path

import numpy as np
import pytest

import flowgrad as tf

X = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], np.float32)


def _trained_model():
    """A small trained network: (graph, session, x, logits); the session stays open."""
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(3)
        x = tf.placeholder(tf.float32, (None, 3), name="x")
        labels = tf.placeholder(tf.int64, (None,), name="labels")
        hidden = tf.layers.dense(x, 4, activation=tf.nn.relu, name="hidden")
        logits = tf.identity(tf.layers.dense(hidden, 2, name="out"), name="logits")
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        train = tf.train.GradientDescentOptimizer(0.5).minimize(
            loss, global_step=tf.train.get_or_create_global_step())
        tf.add_to_collection("train_op", train)
        sess = tf.Session(graph=g)
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            sess.run(train, {x: X, labels: [0, 1]})
    return g, sess, x, logits


# --- freezing --------------------------------------------------------------------------------
def test_frozen_graph_gives_the_same_outputs_without_variables(tmp_path):
    g, sess, x, logits = _trained_model()
    expected = sess.run(logits, {x: X})
    frozen = tf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["logits"])
    sess.close()
    ops = {n.op for n in frozen.node}
    assert "VariableV2" not in ops and "Assign" not in ops
    assert not any("GradientDescent" in n.name or "gradients" in n.name for n in frozen.node)
    kernel = next(n for n in frozen.node if n.name == "hidden/kernel")
    assert kernel.op == "Const" and kernel.attr["value"].shape == (3, 4)

    path = tf.train.write_graph(frozen, str(tmp_path), "frozen.fgdef", as_text=False)
    assert path == os.path.join(str(tmp_path), "frozen.fgdef")
    with tf.gfile.GFile(path, "rb") as f:
        graph_def = tf.GraphDef()
        graph_def.ParseFromString(f.read())
    with tf.Graph().as_default() as g2:
        tf.import_graph_def(graph_def, name="")
        assert tf.global_variables() == []
        assert not [o for o in g2.get_operations() if o.type == "VariableV2"]
        with tf.Session() as s:
            got = s.run("logits:0", {"x:0": X})
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_whitelist_and_blacklist_choose_the_variables_to_freeze():
    g, sess, x, logits = _trained_model()
    gd = g.as_graph_def()
    partial = tf.graph_util.convert_variables_to_constants(
        sess, gd, ["logits"], variable_names_blacklist=["out/kernel"])
    kinds = {n.name: n.op for n in partial.node}
    assert kinds["out/kernel"] == "VariableV2" and kinds["hidden/kernel"] == "Const"
    only = tf.graph_util.convert_variables_to_constants(
        sess, gd, ["logits"], variable_names_whitelist=["hidden/bias"])
    kinds = {n.name: n.op for n in only.node}
    assert kinds["hidden/bias"] == "Const" and kinds["hidden/kernel"] == "VariableV2"
    sess.close()


def test_freezing_a_graph_with_cond_and_while_loop():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None,), name="x")
        w = tf.Variable(2.0, name="w")
        tf.Variable(5.0, name="unused")
        tf.identity(tf.cond(tf.reduce_sum(x) > 0, lambda: x * w, lambda: x - w), name="out")
        _, acc = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * w), [0, x])
        acc = tf.identity(acc, name="acc")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            frozen = tf.graph_util.convert_variables_to_constants(
                sess, g.as_graph_def(), ["out", "acc"])
    assert "unused" not in [n.name for n in frozen.node]
    frozen = tf.GraphDef.FromString(frozen.SerializeToString())
    with tf.Graph().as_default():
        tf.constant(0.0)                            # the imported ops start further on
        out, acc = tf.import_graph_def(frozen, return_elements=["out:0", "acc:0"])
        with tf.Session() as s:
            np.testing.assert_allclose(s.run(out, {"import/x:0": [1, 2]}), [2, 4])
            np.testing.assert_allclose(s.run(out, {"import/x:0": [-1, -2]}), [-3, -4])
            np.testing.assert_allclose(s.run(acc, {"import/x:0": [1, 2]}), [8, 16])


def test_extract_sub_graph_and_its_errors():
    g, sess, x, logits = _trained_model()
    sess.close()
    gd = g.as_graph_def()
    sub = tf.graph_util.extract_sub_graph(gd, ["hidden/Relu"])
    names = [n.name for n in sub.node]
    assert "x" in names and "hidden/kernel" in names and "out/kernel" not in names
    order = [n.name for n in gd.node if n.name in set(names)]
    assert names == order                           # original order kept
    with pytest.raises(AssertionError, match="nope is not in graph"):
        tf.graph_util.extract_sub_graph(gd, ["nope"])
    with pytest.raises(TypeError, match="list of node names"):
        tf.graph_util.extract_sub_graph(gd, "logits")
    with pytest.raises(TypeError, match="GraphDef"):
        tf.graph_util.extract_sub_graph(g, ["logits"])


def test_remove_training_nodes_splices_identities():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, (2,), name="x")
        a = tf.identity(tf.identity(x, name="id1"), name="id2")
        c = tf.check_numerics(a * 2.0, "bad", name="check")
        tf.identity(c + 1.0, name="result")
    gd = tf.graph_util.remove_training_nodes(g.as_graph_def(), protected_nodes=["result"])
    nodes = {n.name: n for n in gd.node}
    assert "id1" not in nodes and "id2" not in nodes and "check" not in nodes
    assert nodes["mul"].input[0] == "x" and nodes["add"].input[0] == "mul"
    assert "result" in nodes
    with tf.Graph().as_default():
        r, = tf.import_graph_def(gd, return_elements=["result:0"], name="")
        with tf.Session() as s:
            np.testing.assert_allclose(s.run(r, {"x:0": [1, 2]}), [3, 5])


# --- import_graph_def ------------------------------------------------------------------------
def _small_graph_def():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, (None, 2), name="x")
        y = tf.multiply(x, tf.constant(3.0, name="three"), name="scaled")
        tf.reduce_sum(y, name="total")
    return g.as_graph_def()


def test_import_graph_def_prefix_input_map_and_return_elements():
    gd = _small_graph_def()
    with tf.Graph().as_default():
        data = tf.constant([[1.0, 2.0], [3.0, 4.0]], name="data")
        total_op, y = tf.import_graph_def(gd, input_map={"x": data},
                                          return_elements=["total", "scaled:0"])
        assert isinstance(total_op, tf.Operation) and total_op.name == "import/total"
        assert isinstance(y, tf.Tensor) and y.name == "import/scaled:0"
        assert y.op.inputs[0] is data                 # the placeholder was replaced
        again = tf.import_graph_def(gd, return_elements=["scaled:0"])
        assert again[0].name == "import_1/scaled:0"        # the default prefix is made unique
        named = tf.import_graph_def(gd, input_map={"x:0": data}, return_elements=["total:0"],
                                    name="net")
        assert tf.import_graph_def(gd, name="plain") is None
        with tf.Session() as s:
            np.testing.assert_allclose(s.run(y), [[3, 6], [9, 12]])
            assert s.run(named[0]) == 30.0
            assert s.run("plain/total:0", {"plain/x:0": [[1.0, 1.0]]}) == 6.0


def test_import_graph_def_errors():
    gd = _small_graph_def()
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="not found in graph_def"):
            tf.import_graph_def(gd, input_map={"nope:0": tf.constant(1.0)})
        with pytest.raises(ValueError, match="return_element 'zzz:0' not found"):
            tf.import_graph_def(gd, return_elements=["zzz:0"])
        with pytest.raises(ValueError, match="dtype int32"):
            tf.import_graph_def(gd, input_map={"x": tf.constant([[1, 2]])})
        with pytest.raises(ValueError, match="incompatible with the shape"):
            tf.import_graph_def(gd, input_map={"x": tf.constant([1.0, 2.0, 3.0])})
        with pytest.raises(TypeError, match="must be a GraphDef"):
            tf.import_graph_def({"node": []})
        tf.import_graph_def(gd, name="")
        n = len(tf.get_default_graph().get_operations())
        with pytest.raises(ValueError, match="already has an op named 'x'"):
            tf.import_graph_def(gd, name="")
        assert len(tf.get_default_graph().get_operations()) == n


# --- write_graph -------------------------------------------------------------------------------
def test_write_graph_text_and_binary_round_trip(tmp_path):
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, (None, 2), name="x")
        w = tf.constant(np.array([[1.5, -2.0], [0.25, 4.0]], np.float32), name="w")
        tf.nn.relu(tf.matmul(x, w), name="out")
    text_path = tf.train.write_graph(g, str(tmp_path / "graphs"), "g.fgdef.txt")
    text = Path(text_path).read_text()
    assert '"name": "out"' in text and "-2.0" in text     # readable: names and values
    bin_path = tf.train.write_graph(g.as_graph_def(), str(tmp_path), "g.fgdef", as_text=False)
    for path in (text_path, bin_path):
        gd = tf.GraphDef.FromString(Path(path).read_bytes())
        assert [n.name for n in gd.node] == ["x", "w", "MatMul", "out"]
        assert gd.node[2].input == ["x", "w"]
        with tf.Graph().as_default():
            out, = tf.import_graph_def(gd, return_elements=["out:0"])
            with tf.Session() as s:
                np.testing.assert_allclose(s.run(out, {"import/x:0": [[1, 1]]}), [[1.75, 2]])
    with pytest.raises(ValueError, match="not a flowgrad GraphDef"):
        tf.GraphDef.FromString(b"garbage")
    with pytest.raises(ValueError, match="truncated"):
        tf.GraphDef.FromString(Path(bin_path).read_bytes()[:200])
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_graph_def_with_python_objects_imports_but_does_not_serialize(tmp_path):
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float64, (2,), name="x")
        tf.py_func(lambda a: a * 2, [x], tf.float64, name="double")
    gd = g.as_graph_def()
    with tf.Graph().as_default():
        out, = tf.import_graph_def(gd, return_elements=["double:0"])
        with tf.Session() as s:
            np.testing.assert_allclose(s.run(out, {"import/x:0": [1, 2]}), [2, 4])
    with pytest.raises(TypeError, match="double"):
        tf.train.write_graph(gd, str(tmp_path), "g.txt")


# --- SavedModel ----------------------------------------------------------------------------------
def test_simple_save_and_load_serve_by_signature_names(tmp_path):
    g, sess, x, logits = _trained_model()
    expected = sess.run(logits, {x: X})
    export_dir = str(tmp_path / "export" / "1")
    with g.as_default():
        probs = tf.nn.softmax(logits, name="probs")
        tf.saved_model.simple_save(sess, export_dir, inputs={"images": x},
                                   outputs={"logits": logits, "probs": probs})
        with pytest.raises(AssertionError, match="already exists, and isn't empty"):
            tf.saved_model.simple_save(sess, export_dir, {"images": x}, {"logits": logits})
    sess.close()
    assert sorted(os.listdir(export_dir)) == ["saved_model.fgsm", "variables"]
    assert tf.saved_model.loader.maybe_saved_model_directory(export_dir)
    with tf.Session(graph=tf.Graph()) as s:
        meta = tf.saved_model.loader.load(s, [tf.saved_model.tag_constants.SERVING], export_dir)
        sig = meta.signature_def[tf.saved_model.signature_constants
                                 .DEFAULT_SERVING_SIGNATURE_DEF_KEY]
        assert sig.method_name == "tensorflow/serving/predict"
        assert sig.inputs["images"].name == "x:0" and sig.inputs["images"].dtype == tf.float32
        assert sig.inputs["images"].tensor_shape.as_list() == [None, 3]
        got, p = s.run([sig.outputs["logits"].name, sig.outputs["probs"].name],
                       {sig.inputs["images"].name: X})
        assert meta.meta_info_def.tags == ["serve"]
        assert "x" in [n.name for n in meta.graph_def.node]
        assert tf.global_variables()                       # variables come back as such
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_builder_signatures_tags_main_op_assets_and_text_form(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("a\nb\n")
    export_dir = str(tmp_path / "m")
    os.makedirs(export_dir)                                 # an empty directory is fine
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (None,), name="x")
        scale = tf.Variable(3.0, name="scale")
        y = tf.multiply(x, scale, name="y")
        tf.Variable(7, name="counter", collections=[tf.GraphKeys.LOCAL_VARIABLES])
        asset = tf.constant(str(vocab), name="vocab_path")
        seen = tf.Variable("", name="seen", collections=[tf.GraphKeys.LOCAL_VARIABLES])
        init = tf.group(tf.local_variables_initializer(), tf.assign(seen, asset),
                        name="init_all")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(tf.assign(scale, 5.0))
            b = tf.saved_model.builder.SavedModelBuilder(export_dir)
            with pytest.raises(AssertionError, match="has not been saved yet"):
                b.add_meta_graph(["train"])
            sig = tf.saved_model.signature_def_utils.build_signature_def(
                inputs={"in": tf.saved_model.utils.build_tensor_info(x)},
                outputs={"out": tf.saved_model.utils.build_tensor_info(y)},
                method_name=tf.saved_model.signature_constants.REGRESS_METHOD_NAME)
            assert tf.saved_model.signature_def_utils.is_valid_signature(sig)
            b.add_meta_graph_and_variables(
                sess, [tf.saved_model.tag_constants.SERVING, "gpu"],
                signature_def_map={"regress": sig,
                                   "predict": tf.saved_model.predict_signature_def(
                                       {"x": x}, {"y": y})},
                assets_collection=[asset], main_op=init)
            with pytest.raises(AssertionError, match="already been saved"):
                b.add_meta_graph_and_variables(sess, ["other"])
            b.add_meta_graph([tf.saved_model.tag_constants.TRAINING])
            path = b.save(as_text=True)
    assert path.endswith("saved_model.fgsm.txt") and '"regress"' in Path(path).read_text()
    assert os.listdir(os.path.join(export_dir, "assets")) == ["vocab.txt"]
    with tf.Session(graph=tf.Graph()) as s:
        meta = tf.saved_model.load(s, ["gpu", "serve"], export_dir)   # tag order is free
        assert sorted(meta.signature_def) == ["predict", "regress"]
        sig = meta.signature_def["regress"]
        assert s.run(sig.outputs["out"].name, {sig.inputs["in"].name: [1.0, 2.0]}).tolist() \
            == [5.0, 10.0]
        assert s.run("counter:0") == 7                       # the main op ran
        assert s.run("seen:0") == os.path.join(export_dir, "assets", "vocab.txt").encode()
        t = tf.saved_model.utils.get_tensor_from_tensor_info(sig.inputs["in"])
        assert t.name == "x:0"
    with tf.Session(graph=tf.Graph()) as s:
        tf.compat.v1.saved_model.loader.load(s, ["train"], export_dir, import_scope="net")
        assert s.run("net/y:0", {"net/x:0": [1.0]}).tolist() == [5.0]
    with tf.Session(graph=tf.Graph()) as s, \
            pytest.raises(RuntimeError, match="could not be found in SavedModel"):
        tf.saved_model.loader.load(s, ["serve"], export_dir)


def test_saved_model_errors(tmp_path):
    with tf.Session(graph=tf.Graph()) as s, pytest.raises(OSError, match="does not exist"):
        tf.saved_model.loader.load(s, ["serve"], str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="cannot be None or empty"):
        tf.saved_model.signature_def_utils.predict_signature_def({}, {"y": 1})
    export_dir = str(tmp_path / "m")
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (2,), name="x")
        v = tf.Variable([1.0, 2.0], name="v")
        y = tf.add(x, v, name="y")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            b = tf.saved_model.Builder(export_dir)
            bad = tf.saved_model.signature_def_utils.SignatureDef(
                {"x": tf.saved_model.utils.TensorInfo("nope:0", tf.float32)},
                {"y": tf.saved_model.build_tensor_info(y)}, "m")
            with pytest.raises(ValueError, match="'nope:0', which is not in the graph"):
                b.add_meta_graph_and_variables(sess, ["serve"], {"s": bad})
            with pytest.raises(TypeError, match="needs to be an Operation"):
                b.add_meta_graph_and_variables(sess, ["serve"], main_op=y)
            b.add_meta_graph_and_variables(sess, ["serve"])
            b.save()
    ckpt = os.path.join(export_dir, "variables", "variables.safetensors")
    data = bytearray(Path(ckpt).read_bytes())
    data[-3] ^= 0xFF                                   # damage the variables' bytes
    Path(ckpt).write_bytes(bytes(data))
    with tf.Session(graph=tf.Graph()) as s, pytest.raises(tf.errors.DataLossError):
        tf.saved_model.loader.load(s, ["serve"], export_dir)
    model = os.path.join(export_dir, "saved_model.fgsm")
    Path(model).write_bytes(Path(model).read_bytes()[:100])      # truncated
    with tf.Session(graph=tf.Graph()) as s, pytest.raises(tf.errors.DataLossError,
                                                          match="damaged"):
        tf.saved_model.loader.load(s, ["serve"], export_dir)


def test_file_writer_accepts_a_graph_def(tmp_path):
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2, graph_pb2
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (2,), name="x")
        tf.square(x, name="sq")
        with tf.Session() as sess:
            writer = tf.summary.FileWriter(str(tmp_path), graph_def=sess.graph_def)
            writer.close()
    path = next(p for p in tmp_path.iterdir() if p.name.startswith("events"))
    data, i, graphs = path.read_bytes(), 0, []
    while i < len(data):                      # TFRecord framing: length, crc, data, crc
        n = int.from_bytes(data[i:i + 8], "little")
        ev = event_pb2.Event()
        ev.ParseFromString(data[i + 12:i + 12 + n])
        if ev.graph_def:
            graphs.append(ev.graph_def)
        i += 12 + n + 4
    gd = graph_pb2.GraphDef()
    gd.ParseFromString(graphs[0])
    assert [n.name for n in gd.node] == ["x", "sq"]


def test_graph_util_helpers_and_clearing_devices():
    with tf.Graph().as_default() as g:
        with tf.device("/cpu:0"):
            x = tf.placeholder(tf.float32, (None, 4), name="x")
            n = tf.constant(3, name="n")
        v = tf.Variable(1.0, name="v")
    gd = g.as_graph_def()
    assert tf.graph_util.tensor_shape_from_node_def_name(g, "x").as_list() == [None, 4]
    assert tf.graph_util.must_run_on_cpu(n.op)
    assert tf.graph_util.must_run_on_cpu(next(d for d in gd.node if d.name == "n"))
    assert tf.graph_util.must_run_on_cpu(v.op, pin_variables_on_cpu=True)
    assert not tf.graph_util.must_run_on_cpu(x.op)
    assert gd.node[0].device == "/device:CPU:0"
    for node in gd.node:
        node.device = ""
    with tf.Graph().as_default() as g2:
        tf.graph_util.import_graph_def(gd, name="")
        assert g2.get_operation_by_name("x").device == ""


def test_saved_model_of_a_graph_fed_by_tf_data(tmp_path):
    export_dir = str(tmp_path / "m")
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        ds = tf.data.Dataset.from_tensor_slices((rng.random((8, 3), np.float32),
                                                 np.arange(8) % 2)).batch(4).repeat()
        xb, yb = ds.make_one_shot_iterator().get_next()
        x = tf.placeholder_with_default(xb, (None, 3), name="x")
        logits = tf.layers.dense(x, 2, name="dense")
        train = tf.train.AdamOptimizer(0.1).minimize(
            tf.losses.sparse_softmax_cross_entropy(yb, logits))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train)
            expected = sess.run(logits, {x: X})
            tf.saved_model.simple_save(sess, export_dir, {"x": x}, {"logits": logits})
            with pytest.raises(TypeError, match="depends on op 'IteratorGetNext'"):
                tf.saved_model.simple_save(sess, str(tmp_path / "bad"), {"x": x},
                                           {"labels": yb})
    with tf.Session(graph=tf.Graph()) as s:
        meta = tf.saved_model.loader.load(s, ["serve"], export_dir)
        sig = meta.signature_def["serving_default"]
        assert s.graph.get_operation_by_name("x").type == "Placeholder"
        got = s.run(sig.outputs["logits"].name, {sig.inputs["x"].name: X})
    np.testing.assert_allclose(got, expected, rtol=1e-6)
