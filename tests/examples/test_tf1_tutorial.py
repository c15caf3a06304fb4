"""The classic TF1 tutorial script runs on flowgrad with only its import line changed."""

import os
import re
import subprocess
import sys

import numpy as np

import flowgrad as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tf.__file__)))
SCRIPT = os.path.join(ROOT, "examples", "tf1_tutorial.py")


def test_only_the_import_line_is_flowgrad_specific():
    code = [line for line in open(SCRIPT).read().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    body = "\n".join(code)
    doc_end = body.index('"""', body.index('"""') + 3) + 3   # skip the module docstring
    mentions = [line for line in body[doc_end:].splitlines() if "flowgrad" in line]
    assert mentions == ["import flowgrad as tf"]


def test_tutorial_trains_checkpoints_and_restores(tmp_path):
    train_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, SCRIPT, f"--train_dir={train_dir}",
                           "--max_steps=300", "--log_every=150"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    acc = float(re.search(r"test accuracy ([0-9.]+)", proc.stdout).group(1))
    assert acc >= 0.9
    assert "INFO:flowgrad:step 150: loss" in proc.stderr
    assert "restored step 300" in proc.stderr
    result = dict(line.split() for line in (train_dir / "result.txt").read_text().splitlines())
    assert float(result["restored_accuracy"]) == float(result["test_accuracy"]) == acc
    files = sorted(os.listdir(train_dir))
    assert "model.ckpt-300.meta" in files and "checkpoint" in files

    # the written meta-graph rebuilds the model in this process
    with tf.Graph().as_default() as g:
        saver = tf.train.import_meta_graph(str(train_dir / "model.ckpt-300.meta"))
        with tf.Session() as sess:
            saver.restore(sess, str(train_dir / "model.ckpt-300"))
            w = sess.run(g.get_tensor_by_name("weights:0"))
            assert w.shape == (64, 10) and np.abs(w).sum() > 0
            assert sess.run(g.get_tensor_by_name("global_step:0")) == 300
