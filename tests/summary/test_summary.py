"""tf.summary ops, FileWriter event files, GraphDef events, and TensorBoard reading them."""

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import flowgrad as tf

pytest.importorskip("tensorboardX")
from tensorboardX.proto import event_pb2, graph_pb2, summary_pb2  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def read_events(logdir):
    """Every Event in the event files of ``logdir`` (TFRecord framing, CRCs unchecked)."""
    events = []
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        i = 0
        while i < len(data):
            n = int.from_bytes(data[i:i + 8], "little")
            ev = event_pb2.Event()
            ev.ParseFromString(data[i + 12:i + 12 + n])
            events.append(ev)
            i += 12 + n + 4
    return events


def small_model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.variable_scope("dense"):
        w = tf.get_variable("kernel", [3, 2], initializer=tf.ones_initializer())
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w)), name="loss")
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    return x, w, loss, train


def test_summary_values_and_tags():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.name_scope("metrics"):
        s = tf.summary.scalar("mean", tf.reduce_mean(x))
    h = tf.summary.histogram("values", x)
    im = tf.summary.image("pics", tf.zeros([2, 4, 5, 1]), max_outputs=2)
    t = tf.summary.text("note", tf.constant("hello"))
    merged = tf.summary.merge_all()
    assert set(tf.get_collection(tf.GraphKeys.SUMMARIES)) == {s, h, im, t}
    with tf.Session() as sess:
        raw = sess.run(merged)
    assert isinstance(raw, bytes)
    msg = summary_pb2.Summary()
    msg.ParseFromString(raw)
    by_tag = {v.tag: v for v in msg.value}
    assert set(by_tag) == {"metrics/mean", "values", "pics/image/0", "pics/image/1", "note"}
    assert by_tag["metrics/mean"].simple_value == 2.5
    hist = by_tag["values"].histo
    assert (hist.min, hist.max, hist.num, hist.sum, hist.sum_squares) == (1, 4, 4, 10, 30)
    assert sum(hist.bucket) == 4
    img = by_tag["pics/image/0"].image
    assert (img.height, img.width, img.colorspace) == (4, 5, 1)
    assert img.encoded_image_string.startswith(b"\x89PNG")
    assert by_tag["note"].tensor.string_val == [b"hello"]
    assert by_tag["note"].metadata.plugin_data.plugin_name == "text"


def test_summary_errors():
    with pytest.raises(ValueError, match="scalar"):
        tf.summary.scalar("v", tf.zeros([3]))
    with pytest.raises(ValueError, match="channels"):
        tf.summary.image("i", tf.zeros([1, 4, 4, 2]))
    assert tf.summary.merge_all() is None


def test_png_decodes():
    PIL = pytest.importorskip("PIL.Image")
    import io
    from flowgrad.summary.png import encode_png
    img = (np.arange(48).reshape(4, 4, 3) * 5).astype(np.uint8)
    back = np.asarray(PIL.open(io.BytesIO(encode_png(img))))
    np.testing.assert_array_equal(back, img)


def test_file_writer_events_and_graph_def(tmp_path):
    x, w, loss, train = small_model()
    s = tf.summary.scalar("loss", loss)
    writer = tf.summary.FileWriter(str(tmp_path), tf.get_default_graph())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(3):
            _, summ = sess.run([train, s], {x: np.ones((2, 3))})
            writer.add_summary(summ, step)
        md = tf.RunMetadata()
        writer.add_run_metadata(md, "step2", 2)
    writer.close()
    events = read_events(str(tmp_path))
    assert events[0].file_version == "brain.Event:2"
    graphs = [e for e in events if e.graph_def]
    assert len(graphs) == 1
    gd = graph_pb2.GraphDef()
    gd.ParseFromString(graphs[0].graph_def)
    nodes = {n.name: n for n in gd.node}
    assert nodes["x"].op == "Placeholder"
    assert nodes["x"].attr["dtype"].type == 1                      # DT_FLOAT
    assert [d.size for d in nodes["x"].attr["shape"].shape.dim] == [-1, 3]
    grads = [n for n in gd.node if n.name.startswith("gradients/")]
    assert grads and all(not n.name.startswith(("MatMul_grad", "loss_grad")) for n in gd.node)
    matmul = nodes["MatMul"]
    assert list(matmul.input) == ["x", "dense/kernel/read"]
    scalars = [(e.step, v.simple_value) for e in events for v in e.summary.value]
    assert [s for s, _ in scalars] == [0, 1, 2]
    assert scalars[0][1] == pytest.approx(9.0)       # (1+1+1)^2 per output, mean
    assert scalars[1][1] < scalars[0][1]
    assert any(e.tagged_run_metadata.tag == "step2" for e in events)


def test_add_summary_rejects_wrong_types(tmp_path):
    with tf.summary.FileWriter(str(tmp_path)) as w:
        with pytest.raises(TypeError, match="summary"):
            w.add_summary(3.0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, deadline):
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read().decode()
                if r.status == 200 and body not in ("", "[]", "{}"):
                    return body
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
        time.sleep(0.3)
    raise AssertionError(f"TensorBoard did not answer {url} in time ({last})")


def test_tensorboard_reads_scalars_and_graph(tmp_path):
    exe = shutil.which("tensorboard")
    if exe is None:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            pytest.skip("tensorboard is not installed (pip install 'flowgrad[tensorboard]')")
        cmd = [sys.executable, "-m", "tensorboard.main"]
    else:
        cmd = [exe]
    logdir = tmp_path / "logs"
    x, w, loss, train = small_model()
    s = tf.summary.scalar("loss", loss)
    writer = tf.summary.FileWriter(str(logdir / "run1"), tf.get_default_graph())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(4):
            _, summ = sess.run([train, s], {x: np.ones((2, 3))})
            writer.add_summary(summ, step)
    writer.close()

    port = free_port()
    proc = subprocess.Popen(cmd + ["--logdir", str(logdir), "--host", "127.0.0.1",
                                   "--port", str(port), "--reload_interval", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        base = f"http://127.0.0.1:{port}"
        scalars = json.loads(get_json(f"{base}/data/plugin/scalars/scalars?run=run1&tag=loss",
                                      deadline))
        assert [row[1] for row in scalars] == [0, 1, 2, 3]
        assert scalars[0][2] == pytest.approx(9.0)
        graph = get_json(f"{base}/data/plugin/graphs/graph?run=run1", deadline)
        assert 'name: "x"' in graph and 'name: "MatMul"' in graph
        assert 'name: "gradients/' in graph
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_run_metadata_of_a_traced_run_reads_as_tensorflow_proto(tmp_path):
    config_pb2 = pytest.importorskip("tensorboard.compat.proto.config_pb2")
    x, w, loss, train = small_model()
    md = tf.RunMetadata()
    opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: np.ones((2, 3))}, options=opts, run_metadata=md)
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_run_metadata(md, "traced", 1)
    ev = next(e for e in read_events(str(tmp_path)) if e.tagged_run_metadata.tag == "traced")
    parsed = config_pb2.RunMetadata()
    parsed.ParseFromString(ev.tagged_run_metadata.run_metadata)
    stats = [n for d in parsed.step_stats.dev_stats for n in d.node_stats]
    assert stats and all(n.node_name and n.all_start_micros > 0 for n in stats)
    assert any("MatMul" in n.node_name for n in stats)
    assert parsed.step_stats.dev_stats[0].device
