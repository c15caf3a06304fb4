"""The command line: tiny training runs, resume, eval/predict/graph, and every user mistake
ending in one clear line and a non-zero exit status."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import flowgrad as tf
from flowgrad import cli, trainer
from flowgrad.data.mnist import write_idx
from flowgrad.summary.png import encode_png

pytest.importorskip("sklearn")
TINY = ["--model", "logreg", "--limit", "200", "--batch-size", "50", "--lr", "0.05",
        "--lr-decay", "1"]


def run_cli(capsys, *argv):
    tf.reset_default_graph()
    try:
        code = cli.main(list(argv))
    except SystemExit as e:          # argparse's own exits
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err, *fragments):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests that need a checkpoint."""
    d = str(tmp_path_factory.mktemp("run") / "logreg")
    tf.reset_default_graph()
    buf = io.StringIO()
    result = trainer.train("logreg", "digits", epochs=2, batch_size=50, lr=0.05, lr_decay=1.0,
                           limit=200, logdir=d, stream=buf)
    return d, result, buf.getvalue()


def test_train_leaves_checkpoint_logs_and_curves(trained):
    d, result, out = trained
    lines = out.strip().splitlines()
    assert lines[0].startswith("epoch 1/2") and "test acc" in lines[0] and "img/s" in lines[0]
    assert lines[1].startswith("epoch 2/2")
    assert lines[-1].startswith("test accuracy") and d in lines[-1]
    assert tf.train.latest_checkpoint(d) == result["checkpoint"]
    assert os.path.isfile(os.path.join(d, "curves.png"))
    assert open(os.path.join(d, "curves.png"), "rb").read(4) == b"\x89PNG"
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(d, "train")))
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(d, "test")))
    run = json.load(open(os.path.join(d, "run.json")))
    assert run["model"] == "logreg" and len(run["history"]) == 2
    assert 0.5 < result["test_acc"] <= 1.0


def test_resume_continues_exactly(tmp_path, capsys):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    decay = ["--lr-decay", "0.5"]       # the schedule must resume too
    assert run_cli(capsys, "train", *TINY, *decay, "--epochs", "2", "--logdir", a)[0] == 0
    assert run_cli(capsys, "train", *TINY, *decay, "--epochs", "1", "--logdir", b)[0] == 0
    code, out, _ = run_cli(capsys, "train", *TINY, "--epochs", "2", "--logdir", b, "--resume")
    assert code == 0 and out.startswith("epoch 2/2")
    ha = json.load(open(os.path.join(a, "run.json")))["history"]
    hb = json.load(open(os.path.join(b, "run.json")))["history"]
    for key in ("train_loss", "test_loss", "test_acc", "step"):
        assert [h[key] for h in ha] == [h[key] for h in hb]


def test_eval_and_predict(trained, tmp_path, capsys):
    d, result, _ = trained
    code, out, _ = run_cli(capsys, "eval", d)
    assert code == 0 and f"test accuracy {result['test_acc']:.2%}" in out
    img = np.zeros((16, 16), np.uint8)
    img[2:14, 7:9] = 255                     # a "1"
    p = tmp_path / "one.png"
    p.write_bytes(encode_png(img))
    code, out, _ = run_cli(capsys, "predict", d, str(p))
    assert code == 0 and out.startswith(f"{p}: ") and "p=" in out


def test_progress_bar_on_a_terminal():
    pytest.importorskip("tqdm")

    class Tty(io.StringIO):
        def isatty(self):
            return True

    s = Tty()
    p = trainer.Progress(epochs=1, steps=3, stream=s)
    p.start_epoch(1)
    for _ in range(3):
        p.step(0.5, 0.9)
    p.end_epoch(1, {"train_loss": 0.5, "train_acc": 0.9, "test_loss": 0.4, "test_acc": 0.91,
                    "seconds": 1.0, "images_per_s": 10.0})
    text = s.getvalue()
    assert "epoch 1/1" in text and "3/3" in text and "loss=" in text and "it/s" in text or \
        "step/s" in text


# --- user mistakes --------------------------------------------------------------------
def test_unknown_model(capsys):
    code, _, err = run_cli(capsys, "train", "--model", "resnet")
    assert code == 2
    one_line_error(err, "invalid choice: 'resnet'", "lenet")


def test_bad_numbers(capsys):
    code, _, err = run_cli(capsys, "train", "--epochs", "0")
    assert code == 2
    one_line_error(err, "--epochs", "at least 1")
    code, _, err = run_cli(capsys, "train", "--lr", "abc")
    assert code == 2
    one_line_error(err, "--lr")


def test_missing_mnist_files(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("FLOWGRAD_DATA", raising=False)
    code, _, err = run_cli(capsys, "train", "--dataset", "mnist")
    assert code == 1
    one_line_error(err, "MNIST files not found", "FLOWGRAD_DATA")
    code, _, err = run_cli(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path))
    assert code == 1
    one_line_error(err, "train-images-idx3-ubyte", "not found")


def test_wrong_dataset_path(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--dataset", str(tmp_path / "nowhere"))
    assert code == 1
    one_line_error(err, "not found", "nowhere")
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    code, _, err = run_cli(capsys, "train", "--dataset", str(f))
    assert code == 1
    one_line_error(err, "neither a folder of MNIST IDX files nor an .npz")


def test_corrupt_idx(capsys, tmp_path):
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        write_idx(str(tmp_path / name), np.zeros(3, np.uint8))
    write_idx(str(tmp_path / "t10k-images-idx3-ubyte"), np.zeros((3, 28, 28), np.uint8))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04 this is a zip")
    code, _, err = run_cli(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path))
    assert code == 1
    one_line_error(err, "train-images-idx3-ubyte", "bad magic")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(
        b"\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x1c\x00\x00\x00\x1c" + b"\x00" * 100)
    code, _, err = run_cli(capsys, "train", "--dataset", str(tmp_path))
    assert code == 1
    one_line_error(err, "truncated")


def test_checkpoint_from_a_different_model(trained, capsys):
    d, _, _ = trained
    code, _, err = run_cli(capsys, "train", "--model", "mlp", "--resume", "--logdir", d)
    assert code == 1
    one_line_error(err, "from model 'logreg', not 'mlp'")
    code, _, err = run_cli(capsys, "eval", d, "--model", "mlp")
    assert code == 1
    one_line_error(err, "does not fit model 'mlp'")


def test_eval_and_predict_bad_paths(trained, capsys, tmp_path):
    code, _, err = run_cli(capsys, "eval", str(tmp_path / "missing"))
    assert code == 1
    one_line_error(err, "does not exist")
    code, _, err = run_cli(capsys, "eval", str(tmp_path))
    assert code == 1
    one_line_error(err, "run.json missing")
    d, _, _ = trained
    code, _, err = run_cli(capsys, "predict", d, str(tmp_path / "no.png"))
    assert code == 1
    one_line_error(err, "no.png not found")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    code, _, err = run_cli(capsys, "predict", d, str(bad))
    assert code == 1
    one_line_error(err, "cannot read image")


def test_resume_without_a_run(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", *TINY, "--resume", "--logdir", str(tmp_path))
    assert code == 1
    one_line_error(err, "run.json missing")


def test_graph_command(capsys, tmp_path, monkeypatch):
    p = tmp_path / "g.dot"
    code, out, _ = run_cli(capsys, "graph", "--model", "mlp", "--backward", "-o", str(p))
    assert code == 0 and "wrote" in out
    text = p.read_text()
    assert "gradients/" in text and "#ffd8a8" in text and "model/dense/kernel" in text
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, _, err = run_cli(capsys, "graph", "--model", "logreg", "-o", str(tmp_path / "g.svg"))
    assert code == 1
    one_line_error(err, "Graphviz", "g.dot")
    assert (tmp_path / "g.dot").is_file()


def test_bench_without_module(capsys, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "flowgrad.bench" else real(name, *a))
    code, _, err = run_cli(capsys, "bench")
    assert code == 1
    one_line_error(err, "flowgrad.bench")


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "flowgrad", "train", "--model", "nope"],
                          capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 2
    one_line_error(proc.stderr, "invalid choice")


@pytest.mark.parametrize("model", ["lenet", "mlp"])
def test_every_model_trains_and_predicts(model, capsys, tmp_path):
    d = str(tmp_path / model)
    code, out, _ = run_cli(capsys, "train", "--model", model, "--limit", "64", "--epochs", "1",
                           "--logdir", d)
    assert code == 0 and out.splitlines()[-1].startswith("test accuracy")
    p = tmp_path / "digit.png"
    p.write_bytes(encode_png(np.full((8, 8), 200, np.uint8)))
    code, out, _ = run_cli(capsys, "predict", d, str(p))
    assert code == 0 and out.startswith(str(p))


def test_train_with_two_mpi_workers(tmp_path):
    """``--workers 2``: two ranks train on their shards; rank 0 alone writes and reports."""
    pytest.importorskip("mpi4py")
    pytest.importorskip("sklearn")
    res = subprocess.run([sys.executable, "-m", "flowgrad", "train", "--workers", "2",
                          "--model", "mlp", "--epochs", "2", "--limit", "400",
                          "--logdir", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("test accuracy") == 1           # one report, from rank 0
    assert (tmp_path / "run" / "run.json").exists()
    assert sorted(p.name for p in (tmp_path / "run").glob("model.ckpt-*.safetensors"))
