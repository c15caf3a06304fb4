"""tf.train.Saver: round trips, the checkpoint state file, readers, and fault tolerance."""

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.train import checkpoint_io

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python(code: str, *args, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def _build():
    w = tf.get_variable("w", initializer=tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    b = tf.get_variable("scope/b", initializer=tf.constant([0.5], tf.float64))
    step = tf.train.get_or_create_global_step()
    return w, b, step


def test_save_restore_roundtrip_and_state_file(tmp_path):
    with tf.Graph().as_default():
        w, b, step = _build()
        saver = tf.train.Saver(max_to_keep=2)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            paths = []
            for k in range(1, 4):
                s.run([tf.assign(step, k), tf.assign(w, w * 2.0)])
                paths.append(saver.save(s, str(tmp_path / "model.ckpt"), global_step=step))
            assert paths[-1] == str(tmp_path / "model.ckpt-3")
            s.run([tf.assign(w, tf.zeros([2, 2])), tf.assign(step, 0)])
            saver.restore(s, paths[-1])
            np.testing.assert_array_equal(s.run(w), [[8, 16], [24, 32]])
            assert s.run(step) == 3 and s.run(step).dtype == np.int64
            assert s.run(b).dtype == np.float64
    # max_to_keep=2: the first checkpoint's file is gone, the state file lists the others
    assert not os.path.exists(paths[0] + ".safetensors")
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "model.ckpt-3"\n'
        'all_model_checkpoint_paths: "model.ckpt-2"\n'
        'all_model_checkpoint_paths: "model.ckpt-3"\n')
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == paths[2]
    assert state.all_model_checkpoint_paths == paths[1:]
    assert tf.train.latest_checkpoint(str(tmp_path)) == paths[2]
    assert tf.train.latest_checkpoint(str(tmp_path / "nothing")) is None
    assert tf.train.list_variables(str(tmp_path)) == [("global_step", []), ("scope/b", [1]),
                                                      ("w", [2, 2])]
    np.testing.assert_array_equal(tf.train.load_variable(paths[1], "w:0"), [[4, 8], [12, 16]])
    reader = tf.train.NewCheckpointReader(paths[1])
    assert reader.get_variable_to_shape_map()["w"] == [2, 2]
    assert reader.get_variable_to_dtype_map()["scope/b"] == tf.float64


def test_files_are_plain_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    with tf.Graph().as_default():
        w, b, step = _build()
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            path = tf.train.Saver().save(s, str(tmp_path / "m"))
    loaded = safetensors_numpy.load_file(path + ".safetensors")
    np.testing.assert_array_equal(loaded["w"], [[1, 2], [3, 4]])
    assert loaded["global_step"].dtype == np.int64


def test_var_list_dict_and_list(tmp_path):
    with tf.Graph().as_default():
        w, b, step = _build()
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            path = tf.train.Saver({"renamed": w}).save(s, str(tmp_path / "m"))
            assert tf.train.list_variables(path) == [("renamed", [2, 2])]
            s.run(tf.assign(w, tf.zeros([2, 2])))
            tf.train.Saver({"renamed": w}).restore(s, path)
            np.testing.assert_array_equal(s.run(w), [[1, 2], [3, 4]])
            path2 = tf.train.Saver([b]).save(s, str(tmp_path / "only_b"))
            assert [n for n, _ in tf.train.list_variables(path2)] == ["scope/b"]
            with pytest.raises(tf.errors.NotFoundError, match="Key w not found"):
                tf.train.Saver([w]).restore(s, path2)
            with pytest.raises(tf.errors.NotFoundError, match="Failed to find"):
                tf.train.Saver().restore(s, str(tmp_path / "missing"))
            with pytest.raises(TypeError, match="variables"):
                tf.train.Saver([w.value()])
            full = tf.train.Saver().save(s, str(tmp_path / "full"))
    with tf.Graph().as_default():
        tf.get_variable("w", shape=[3], initializer=tf.zeros_initializer())
        with tf.Session() as s:
            with pytest.raises(tf.errors.InvalidArgumentError, match="shape"):
                tf.train.Saver().restore(s, full)


def _save_one(path):
    with tf.Graph().as_default():
        tf.Variable(np.arange(1000, dtype=np.float32), name="a")
        tf.Variable(np.arange(6, dtype=np.int64).reshape(2, 3), name="layer/b")
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            tf.train.Saver().save(s, path)
    return path + ".safetensors"


def _restore(path):
    with tf.Graph().as_default():
        tf.Variable(np.zeros(1000, np.float32), name="a")
        tf.Variable(np.zeros((2, 3), np.int64), name="layer/b")
        with tf.Session() as s:
            tf.train.Saver().restore(s, path)


def test_truncated_file_raises_data_loss_naming_file_and_tensor(tmp_path):
    f = _save_one(str(tmp_path / "m"))
    data = open(f, "rb").read()
    header_len = 8 + int.from_bytes(data[:8], "little")
    header = json.loads(data[8:header_len])
    first = min(("a", "layer/b"), key=lambda n: header[n]["data_offsets"][0])
    second = ({"a", "layer/b"} - {first}).pop()
    start2 = header_len + header[second]["data_offsets"][0]
    for cut, tensor in [(len(data) - 1, second), (start2 + 3, second), (start2 - 1, first),
                        (header_len, first)]:
        open(f, "wb").write(data[:cut])
        with pytest.raises(tf.errors.DataLossError, match="truncated") as e:
            _restore(str(tmp_path / "m"))
        assert f in str(e.value) and repr(tensor) in str(e.value)
    for cut in (0, 5, header_len // 2):
        open(f, "wb").write(data[:cut])
        with pytest.raises(tf.errors.DataLossError, match=str(tmp_path)):
            _restore(str(tmp_path / "m"))


def test_bit_flips_raise_data_loss_naming_file_and_tensor(tmp_path):
    f = _save_one(str(tmp_path / "m"))
    data = bytearray(open(f, "rb").read())
    header_len = 8 + int.from_bytes(data[:8], "little")
    header = json.loads(bytes(data[8:header_len]))
    for name in ("a", "layer/b"):
        b0, b1 = header[name]["data_offsets"]
        for pos in (b0, (b0 + b1) // 2, b1 - 1):
            flipped = bytearray(data)
            flipped[header_len + pos] ^= 0x10
            open(f, "wb").write(flipped)
            with pytest.raises(tf.errors.DataLossError, match="checksum mismatch") as e:
                _restore(str(tmp_path / "m"))
            assert f in str(e.value) and repr(name) in str(e.value)
    # a flip inside the header (in a shape) is caught too
    text = bytes(data[8:header_len])
    i = text.index(b"[1000]")
    flipped = bytearray(data)
    flipped[8 + i + 1] ^= 0x02        # "1000" -> "3000"
    open(f, "wb").write(flipped)
    with pytest.raises(tf.errors.DataLossError, match="'a'"):
        _restore(str(tmp_path / "m"))
    # and the checkpoint reader reports the same way
    with pytest.raises(tf.errors.DataLossError):
        tf.train.load_variable(str(tmp_path / "m"), "a")


_WRITER = """
    import sys
    import numpy as np
    import flowgrad as tf
    ckdir = sys.argv[1]
    v = tf.Variable(tf.zeros([4 * 1024 * 1024]), name="big")       # 16 MB of float32
    step = tf.train.get_or_create_global_step()
    bump = tf.group(tf.assign_add(v, tf.ones([4 * 1024 * 1024])), tf.assign_add(step, 1))
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        saver.save(s, ckdir + "/model.ckpt", global_step=step)
        print("ready", flush=True)
        while True:
            s.run(bump)
            saver.save(s, ckdir + "/model.ckpt", global_step=step)
"""


def test_sigkill_during_saves_never_leaves_an_unloadable_latest_checkpoint(tmp_path):
    rng = np.random.RandomState(0)
    for trial in range(4):
        ckdir = tmp_path / f"run{trial}"
        ckdir.mkdir()
        p = _python(_WRITER, ckdir)
        try:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
            time.sleep(rng.uniform(0.05, 0.6))
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        latest = tf.train.latest_checkpoint(str(ckdir))
        assert latest is not None
        reader = checkpoint_io.Reader(latest + ".safetensors")
        reader.verify()
        step = int(reader.get_tensor("global_step"))
        assert latest.endswith(f"-{step}")
        big = reader.get_tensor("big")
        assert big[0] == step and (big == big[0]).all()
        # every file the state file lists is loadable as well
        for path in tf.train.get_checkpoint_state(str(ckdir)).all_model_checkpoint_paths:
            checkpoint_io.Reader(path + ".safetensors").verify()


_RESUME = """
    import sys
    import numpy as np
    import flowgrad as tf
    mode, ckdir, n_steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rs = np.random.RandomState(0)
    xs = rs.rand(64, 8).astype(np.float32)
    ys = rs.randint(0, 3, 64)
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None, 8])
    y = tf.placeholder(tf.int64, [None])
    h = tf.layers.dense(x, 16, activation=tf.nn.relu)
    logits = tf.layers.dense(h, 3)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    step = tf.train.get_or_create_global_step()
    train = tf.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        if mode == "resume":
            saver.restore(s, tf.train.latest_checkpoint(ckdir))
        for _ in range(n_steps):
            i = int(s.run(step)) % 8                      # the batch follows the global step
            s.run(train, {x: xs[i * 8:(i + 1) * 8], y: ys[i * 8:(i + 1) * 8]})
        saver.save(s, ckdir + "/model.ckpt", global_step=step)
        np.savez(out, **{v.op.name: s.run(v) for v in tf.global_variables()})
"""


def test_exact_resume_in_a_fresh_process(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    first = _python(_RESUME, "fresh", a, 7, tmp_path / "first.npz")
    straight = _python(_RESUME, "fresh", b, 12, tmp_path / "straight.npz")
    assert first.wait() == 0, first.stderr.read()
    resumed = _python(_RESUME, "resume", a, 5, tmp_path / "resumed.npz")
    assert resumed.wait() == 0, resumed.stderr.read()
    assert straight.wait() == 0, straight.stderr.read()
    got = np.load(tmp_path / "resumed.npz")
    want = np.load(tmp_path / "straight.npz")
    assert sorted(got.files) == sorted(want.files)
    assert {"beta1_power", "beta2_power", "global_step", "dense/kernel/Adam",
            "dense/kernel/Adam_1"} <= set(got.files)
    assert int(got["global_step"]) == 12
    for name in want.files:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        assert got[name].tobytes() == want[name].tobytes(), name
    # the intermediate state really differs (the test would be vacuous otherwise)
    assert not np.array_equal(np.load(tmp_path / "first.npz")["dense/kernel"],
                              want["dense/kernel"])


def test_meta_graph_writer_hook(tmp_path, monkeypatch, caplog):
    from flowgrad.train import saver as saver_mod

    calls = []

    def good(path, saver):
        calls.append(path)

    def bad(path, saver):
        raise TypeError("cannot encode attr 'dataset'")

    with tf.Graph().as_default():
        _build()
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            saver = tf.train.Saver()
            monkeypatch.setattr(saver_mod, "META_GRAPH_WRITERS", [good])
            prefix = saver.save(s, str(tmp_path / "m"))
            saver.save(s, str(tmp_path / "n"), write_meta_graph=False)
            assert calls == [prefix + ".meta"]
            monkeypatch.setattr(saver_mod, "META_GRAPH_WRITERS", [bad])
            # tf.logging may have made the "flowgrad" logger stop propagating to the root
            monkeypatch.setattr(logging.getLogger("flowgrad"), "propagate", True)
            with caplog.at_level(logging.WARNING, logger="flowgrad"):
                prefix = saver.save(s, str(tmp_path / "o"))
                saver.save(s, str(tmp_path / "p"))
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "p")
    assert os.path.exists(prefix + ".safetensors")
    warned = [r for r in caplog.records if "without a meta-graph" in r.getMessage()]
    assert len(warned) == 1 and "cannot encode" in warned[0].getMessage()


def test_every_supported_dtype_and_odd_shapes_round_trip(tmp_path):
    tensors = {"f16": np.arange(5, dtype=np.float16), "flag": np.array(True),
               "empty": np.zeros((0, 3), np.float32), "scalar": np.array(3, np.int64),
               "strided": np.arange(6.0).reshape(2, 3).T, "u8": np.arange(4, dtype=np.uint8)}
    path = str(tmp_path / "x.safetensors")
    checkpoint_io.save(path, tensors)
    reader = checkpoint_io.Reader(path)
    reader.verify()
    for name, value in tensors.items():
        got = reader.get_tensor(name)
        assert got.dtype == value.dtype and got.shape == value.shape, name
        np.testing.assert_array_equal(got, value)
    with pytest.raises(TypeError, match="dtype"):
        checkpoint_io.save(path, {"s": np.array(["a"])})
