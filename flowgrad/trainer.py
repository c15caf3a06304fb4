"""What ``flowgrad train/eval/predict`` do: data, the training graph, the loop, the files.

A run directory (``--logdir``) holds everything a run leaves behind::

    run.json                 what was trained (model, data, hyper-parameters, history)
    model.ckpt-<step>.*      checkpoints, one per epoch (tf.train.Saver)
    train/, test/            TensorBoard event files (scalars, weight histograms, graph)
    curves.png               loss and accuracy per epoch

Training is deterministic for a given ``--seed``: the variables are initialized from the
graph seed and every epoch's order is drawn from ``(seed, epoch)``, so ``--resume`` after
epoch k continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

import flowgrad as tf
from flowgrad import models
from flowgrad.data import Dataset, Iterator
from flowgrad.data.mnist import DataError, load_mnist
from flowgrad.runtime import onednn

RUN_FILE = "run.json"
LR_DECAY = 0.85      # learning rate factor per epoch


class UserError(Exception):
    """A mistake in the command line or its files: reported as one line, exit status 1."""


@dataclass
class Data:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.x_train.shape[1:3])


# --- data -----------------------------------------------------------------------------
def load_data(dataset: str, data_dir: str | None = None, limit: int | None = None) -> Data:
    """``digits`` (embedded), ``mnist`` (IDX files in data_dir / $FLOWGRAD_DATA), or a path
    to a folder of MNIST-named IDX files or an .npz with x_train/y_train/x_test/y_test."""
    try:
        if dataset == "digits":
            from flowgrad.data.digits import load_digits  # noqa: PLC0415
            (xa, ya), (xb, yb) = load_digits()
        elif dataset == "mnist":
            (xa, ya), (xb, yb) = load_mnist(data_dir)
        elif os.path.isdir(dataset):
            (xa, ya), (xb, yb) = load_mnist(dataset)
        elif os.path.isfile(dataset) and dataset.endswith(".npz"):
            (xa, ya), (xb, yb) = _load_npz(dataset)
        elif os.path.exists(dataset):
            raise UserError(f"dataset {dataset} is neither a folder of MNIST IDX files nor an "
                            ".npz file with x_train, y_train, x_test, y_test")
        else:
            raise UserError(f"dataset '{dataset}' not found: use digits, mnist, a folder of "
                            "MNIST IDX files, or an .npz file")
    except DataError as e:
        raise UserError(str(e)) from None
    if limit:
        xa, ya = xa[:limit], ya[:limit]
        xb, yb = xb[:max(limit // 4, 1)], yb[:max(limit // 4, 1)]
    return Data(os.path.basename(os.path.normpath(dataset)), xa, ya, xb, yb)


def _load_npz(path: str):
    try:
        with np.load(path) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as e:
        raise UserError(f"{path} lacks the array {e}; it needs x_train, y_train, x_test, "
                        "y_test") from None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    out = []
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise UserError(f"{path}: x_{split} must be (N, H, W) images and y_{split} N "
                            f"labels; got {x.shape} and {y.shape}")
        x = x.astype(np.float32)
        if x.max() > 1.0:
            x = x / 255.0
        out.append((x, y.astype(np.int64)))
    return tuple(out)


# --- the graph ------------------------------------------------------------------------
class Net:
    """The training graph: iterator over train/test sets, model, loss, metrics, summaries."""

    def __init__(self, model: str, shape: tuple, classes: int, optimizer: str, lr: float,
                 batch_size: int, seed: int, lr_decay: float = 1.0,
                 steps_per_epoch: int = 1, distributed: bool = False) -> None:
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(seed)
            self.x = tf.placeholder(tf.float32, [None, *shape], name="images")
            self.y = tf.placeholder(tf.int64, [None], name="labels")
            train_ds = Dataset.from_tensor_slices((self.x, self.y)).batch(batch_size) \
                .prefetch(2)
            test_ds = Dataset.from_tensor_slices((self.x, self.y)).batch(500)
            it = Iterator.from_structure(train_ds.output_types, train_ds.output_shapes)
            self.train_init = it.make_initializer(train_ds, name="train_init")
            self.test_init = it.make_initializer(test_ds, name="test_init")
            images, labels = it.get_next()
            self.logits = models.build(model, images, classes)
            self.probs = tf.nn.softmax(self.logits, name="probabilities")
            with tf.name_scope("loss"):
                xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                      logits=self.logits)
                self.loss = tf.reduce_mean(xent)
                self.loss_sum = tf.reduce_sum(xent)
            with tf.name_scope("accuracy"):
                hits = tf.cast(tf.equal(tf.argmax(self.logits, 1), labels), tf.float32)
                self.accuracy = tf.reduce_mean(hits)
                self.hits = tf.reduce_sum(hits)
            self.global_step = tf.train.get_or_create_global_step()
            # the rate shrinks by lr_decay per epoch, a function of the step alone, so a
            # resumed run follows the same schedule
            self.lr = tf.train.exponential_decay(lr, self.global_step, steps_per_epoch,
                                                 lr_decay) if lr_decay != 1.0 else lr
            opt = make_optimizer(optimizer, self.lr)
            if distributed:                 # gradients averaged over the ranks (MPI)
                import flowgrad.distributed as hvd  # noqa: PLC0415
                opt = hvd.DistributedOptimizer(opt)
            self.train_op = opt.minimize(self.loss, global_step=self.global_step)
            self.step_summary = tf.summary.merge([tf.summary.scalar("loss", self.loss),
                                                  tf.summary.scalar("accuracy", self.accuracy)])
            self.weights = tf.trainable_variables()
            self.weight_summary = tf.summary.merge(
                [tf.summary.histogram(v.op.name, v) for v in self.weights])
            self.init = tf.global_variables_initializer()
            self.saver = tf.train.Saver(max_to_keep=3)
            self.broadcast = None
            if distributed:
                import flowgrad.distributed as hvd  # noqa: PLC0415
                self.broadcast = hvd.broadcast_global_variables(0)


def make_optimizer(name: str, lr: float):
    if name == "sgd":
        return tf.train.GradientDescentOptimizer(lr)
    if name == "momentum":
        return tf.train.MomentumOptimizer(lr, momentum=0.9)
    if name == "adam":
        return tf.train.AdamOptimizer(lr)
    raise UserError(f"unknown optimizer '{name}' (choose from sgd, momentum, adam)")


def default_lr(optimizer: str) -> float:
    return {"sgd": 0.1, "momentum": 0.02, "adam": 0.003}[optimizer]


def evaluate(sess, net: Net, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean loss and accuracy of the model on ``(x, y)``."""
    sess.run(net.test_init, {net.x: x, net.y: y})
    loss, hits = 0.0, 0.0
    while True:
        try:
            l_sum, h = sess.run([net.loss_sum, net.hits])
        except tf.errors.OutOfRangeError:
            break
        loss += float(l_sum)
        hits += float(h)
    return loss / max(len(y), 1), hits / max(len(y), 1)


# --- run directories ------------------------------------------------------------------
def read_run(logdir: str) -> dict:
    path = os.path.join(logdir, RUN_FILE)
    if not os.path.isdir(logdir):
        raise UserError(f"checkpoint folder {logdir} does not exist")
    if not os.path.isfile(path):
        raise UserError(f"{logdir} holds no flowgrad run ({RUN_FILE} missing); train one with "
                        f"`flowgrad train --logdir {logdir}`")
    try:
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
        run["model"], run["shape"], run["classes"]  # noqa: B018 - required keys
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{path} is damaged ({e}); train again or restore the file") from None
    return run


def write_run(logdir: str, run: dict) -> None:
    tmp = os.path.join(logdir, RUN_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(run, f, indent=2)
    os.replace(tmp, os.path.join(logdir, RUN_FILE))


def restore(sess, saver, logdir: str, model: str) -> str:
    """Restores the latest checkpoint of ``logdir``; one clear error if it does not fit."""
    ckpt = tf.train.latest_checkpoint(logdir)
    if ckpt is None:
        raise UserError(f"no checkpoint in {logdir}; train first with "
                        f"`flowgrad train --logdir {logdir}`")
    try:
        saver.restore(sess, ckpt)
    except (tf.errors.OpError, ValueError, KeyError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"checkpoint {ckpt} does not fit model '{model}' (it was written for a "
                        f"different model or is damaged): {first}") from None
    return ckpt


# --- progress -------------------------------------------------------------------------
class Progress:
    """A tqdm bar per epoch on a terminal; one line per epoch otherwise."""

    def __init__(self, epochs: int, steps: int, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.epochs, self.steps = epochs, steps
        self.bar = None
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        if self.tty:
            try:
                import tqdm  # noqa: F401, PLC0415
            except ImportError:
                self.tty = False

    def start_epoch(self, epoch: int) -> None:
        if self.tty:
            from tqdm import tqdm  # noqa: PLC0415
            try:
                size = os.get_terminal_size(self.stream.fileno())
                sized = size.columns >= 40 and size.lines > 1  # a pty may report 0x0
            except (AttributeError, OSError, ValueError):
                sized = False
            # tqdm hides a bar it believes is below the screen's last row, so tell it the
            # screen's size when the terminal does not
            self.bar = tqdm(total=self.steps, desc=f"epoch {epoch}/{self.epochs}", unit="step",
                            file=self.stream, dynamic_ncols=sized,
                            ncols=None if sized else 100, nrows=None if sized else 24,
                            leave=True)

    def step(self, loss: float, acc: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.3f}", refresh=False)
            self.bar.update(1)

    def end_epoch(self, epoch: int, stats: dict) -> None:
        line = (f"epoch {epoch}/{self.epochs}  loss {stats['train_loss']:.4f}  "
                f"acc {stats['train_acc']:.2%}  test loss {stats['test_loss']:.4f}  "
                f"test acc {stats['test_acc']:.2%}  {stats['seconds']:.1f}s "
                f"({stats['images_per_s']:.0f} img/s)")
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{stats['train_loss']:.4f}",
                                 test_acc=f"{stats['test_acc']:.3f}")
            self.bar.close()
            self.bar = None
        else:
            print(line, file=self.stream, flush=True)


# --- plots ----------------------------------------------------------------------------
def plot_curves(history: list[dict], path: str) -> str | None:
    """Writes loss/accuracy per epoch to ``path`` (PNG); None when matplotlib is absent."""
    try:
        import matplotlib  # noqa: PLC0415
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return None
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["test_loss"] for h in history], "s--", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax2.plot(epochs, [h["train_acc"] for h in history], "o-", label="train")
    ax2.plot(epochs, [h["test_acc"] for h in history], "s--", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --- commands -------------------------------------------------------------------------
def blas_threads(n: int | None):
    """Limits BLAS and OpenMP (oneDNN's threads) to ``n`` threads while training (None:
    leave them alone).

    The command line's models multiply small matrices (batches of 32), where OpenBLAS's
    thread start-up and hand-off cost far more than the arithmetic, and on a busy machine
    the threads wait for each other: one thread is many times faster there.
    """
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
    except ImportError:
        return contextlib.nullcontext()
    onednn.available()         # loads oneDNN and its OpenMP now, so that the limit reaches it
    return threadpool_limits(limits=n)


def train(model: str = "lenet", dataset: str = "digits", data_dir: str | None = None,
          epochs: int = 20, batch_size: int = 32, optimizer: str = "adam",
          lr: float | None = None, seed: int = 0, logdir: str | None = None,
          resume: bool = False, limit: int | None = None, threads: int | None = 1,
          lr_decay: float = LR_DECAY, stream=None, distributed: bool = False) -> dict:
    """Trains ``model`` and leaves checkpoints, TensorBoard logs and curves in ``logdir``.

    With ``distributed`` (``flowgrad train --workers N`` sets it on every MPI rank) each rank
    trains on its shard of every epoch, gradients are averaged over the ranks, rank 0's
    initial variables are broadcast, and rank 0 alone writes checkpoints, logs and progress.
    """
    with blas_threads(threads):
        return _train(model, dataset, data_dir, epochs, batch_size, optimizer, lr, seed,
                      logdir, resume, limit, lr_decay, stream, distributed)


def _train(model, dataset, data_dir, epochs, batch_size, optimizer, lr, seed, logdir, resume,
           limit, lr_decay, stream, distributed=False) -> dict:
    rank, size = 0, 1
    if distributed:
        import flowgrad.distributed as hvd  # noqa: PLC0415
        hvd.init()
        rank, size = hvd.rank(), hvd.size()
    chief = rank == 0
    out = (stream or sys.stdout) if chief else open(os.devnull, "w")
    if model not in models.MODELS:
        raise UserError(f"unknown model '{model}' (choose from {', '.join(models.MODELS)})")
    if epochs < 1 or batch_size < 1:
        raise UserError("--epochs and --batch-size must be at least 1")
    lr = default_lr(optimizer) if lr is None else lr
    if not lr > 0:
        raise UserError(f"--lr must be positive, got {lr}")
    if not 0 < lr_decay <= 1:
        raise UserError(f"--lr-decay must be in (0, 1], got {lr_decay}")
    data_name = os.path.basename(os.path.normpath(dataset))
    logdir = logdir or os.path.join("runs", f"{model}-{data_name}")
    history: list[dict] = []
    start_epoch = 0
    if resume:
        run = read_run(logdir)
        if run["model"] != model:
            raise UserError(f"cannot resume: the checkpoint in {logdir} is from model "
                            f"'{run['model']}', not '{model}'; pass --model {run['model']} or "
                            "choose another --logdir")
        dataset, data_dir = run.get("dataset", dataset), run.get("data_dir", data_dir)
        optimizer, lr = run.get("optimizer", optimizer), run.get("lr", lr)
        batch_size, seed = run.get("batch_size", batch_size), run.get("seed", seed)
        limit, lr_decay = run.get("limit", limit), run.get("lr_decay", lr_decay)
        history = list(run.get("history", []))
        start_epoch = len(history)
    data = load_data(dataset, data_dir, limit)
    try:
        os.makedirs(logdir, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create log folder {logdir}: {e.strerror}") from None
    shard = len(data.y_train) // size      # every rank takes the same number of steps
    steps = -(-shard // batch_size)
    net = Net(model, data.image_shape, data.classes, optimizer, lr, batch_size, seed,
              lr_decay, steps, distributed)
    run = {"model": model, "dataset": dataset, "data_dir": data_dir, "shape":
           list(data.image_shape), "classes": data.classes, "optimizer": optimizer, "lr": lr,
           "lr_decay": lr_decay, "batch_size": batch_size, "seed": seed, "limit": limit,
           "history": history}
    train_w = tf.summary.FileWriter(os.path.join(logdir, "train"),
                                    None if resume else net.graph) if chief else _NoWriter()
    test_w = tf.summary.FileWriter(os.path.join(logdir, "test")) if chief else _NoWriter()
    progress = Progress(epochs, steps, out)
    t0 = time.perf_counter()
    ckpt = None
    with tf.Session(graph=net.graph) as sess:
        if resume:
            ckpt = restore(sess, net.saver, logdir, model)
        else:
            sess.run(net.init)
        if net.broadcast is not None:
            sess.run(net.broadcast)          # every rank starts from rank 0's variables
        if start_epoch >= epochs:
            print(f"{logdir} has already trained {start_epoch} epochs (asked for {epochs}); "
                  "pass a larger --epochs to continue", file=out)
        for epoch in range(start_epoch + 1, epochs + 1):
            order = np.random.default_rng([seed, epoch]).permutation(len(data.y_train))
            order = order[rank * shard:(rank + 1) * shard]      # this rank's shard
            sess.run(net.train_init, {net.x: data.x_train[order], net.y: data.y_train[order]})
            progress.start_epoch(epoch)
            te = time.perf_counter()
            loss_sum = acc_sum = 0.0
            n = 0
            while True:
                try:
                    if n % 10 == 0:
                        _, loss, acc, step, summ = sess.run(
                            [net.train_op, net.loss, net.accuracy, net.global_step,
                             net.step_summary])
                        train_w.add_summary(summ, step)
                    else:
                        _, loss, acc = sess.run([net.train_op, net.loss, net.accuracy])
                except tf.errors.OutOfRangeError:
                    break
                n += 1
                loss_sum += float(loss)
                acc_sum += float(acc)
                progress.step(float(loss), float(acc))
            seconds = time.perf_counter() - te
            test_loss, test_acc = evaluate(sess, net, data.x_test, data.y_test)
            step = int(sess.run(net.global_step))
            stats = {"epoch": epoch, "step": step, "train_loss": loss_sum / max(n, 1),
                     "train_acc": acc_sum / max(n, 1), "test_loss": test_loss,
                     "test_acc": test_acc, "seconds": seconds,
                     "images_per_s": len(data.y_train) / max(seconds, 1e-9)}
            history.append(stats)
            for w, prefix in ((train_w, "train"), (test_w, "test")):
                w.add_summary(_scalars({"epoch_loss": stats[f"{prefix}_loss"],
                                        "epoch_accuracy": stats[f"{prefix}_acc"]}), step)
            train_w.add_summary(sess.run(net.weight_summary), step)
            train_w.flush()
            test_w.flush()
            if chief:
                ckpt = net.saver.save(sess, os.path.join(logdir, "model.ckpt"),
                                      global_step=step,
                                      write_meta_graph=False)   # run.json rebuilds the graph
                write_run(logdir, run)
            progress.end_epoch(epoch, stats)
    train_w.close()
    test_w.close()
    curves = plot_curves(history, os.path.join(logdir, "curves.png")) \
        if history and chief else None
    elapsed = time.perf_counter() - t0
    final = history[-1] if history else {"test_acc": float("nan")}
    epochs_done = f"{len(history)} epoch{'' if len(history) == 1 else 's'}"
    print(f"test accuracy {final['test_acc']:.2%} ({model} on {data.name}, {epochs_done}, "
          f"{elapsed:.1f}s) | checkpoint {ckpt} | TensorBoard: tensorboard --logdir {logdir}"
          + (f" | curves {curves}" if curves else ""), file=out, flush=True)
    return {"test_acc": final["test_acc"], "checkpoint": ckpt, "logdir": logdir,
            "curves": curves, "seconds": elapsed}


class _NoWriter:
    """What ranks other than 0 write logs to: nothing."""

    def add_summary(self, *args, **kwargs) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _scalars(values: dict) -> bytes:
    from tensorboardX.proto import summary_pb2  # noqa: PLC0415
    s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=k, simple_value=float(v))
                                   for k, v in values.items()])
    return s.SerializeToString()


def evaluate_checkpoint(logdir: str, model: str | None = None, stream=None) -> dict:
    """Test loss and accuracy of the latest checkpoint in ``logdir``."""
    out = stream or sys.stdout
    run = read_run(logdir)
    model = model or run["model"]
    if model not in models.MODELS:
        raise UserError(f"unknown model '{model}' (choose from {', '.join(models.MODELS)})")
    data = load_data(run["dataset"], run.get("data_dir"), run.get("limit"))
    if list(data.image_shape) != list(run["shape"]):
        raise UserError(f"dataset {run['dataset']} now has images of shape "
                        f"{data.image_shape}, the checkpoint expects {tuple(run['shape'])}")
    net = Net(model, tuple(run["shape"]), run["classes"], run.get("optimizer", "adam"),
              run.get("lr", 0.001), 32, run.get("seed", 0))
    with tf.Session(graph=net.graph) as sess:
        ckpt = restore(sess, net.saver, logdir, model)
        loss, acc = evaluate(sess, net, data.x_test, data.y_test)
    print(f"{ckpt}: test accuracy {acc:.2%}, test loss {loss:.4f} "
          f"({len(data.y_test)} images of {run['dataset']})", file=out)
    return {"test_acc": acc, "test_loss": loss, "checkpoint": ckpt}


def load_image(path: str, shape: tuple) -> np.ndarray:
    """A grayscale image resized to ``shape``, scaled to [0, 1] with ink bright."""
    if not os.path.isfile(path):
        raise UserError(f"image {path} not found")
    try:
        from PIL import Image  # noqa: PLC0415
    except ImportError:
        raise UserError("reading images needs Pillow (installed with matplotlib): "
                        "pip install 'flowgrad[plot]'") from None
    try:
        with Image.open(path) as im:
            im = im.convert("L").resize((shape[1], shape[0]), Image.Resampling.BOX)
            x = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read image {path}: {e}") from None
    if x.mean() > 0.5:      # dark ink on a light background: invert to the data's look
        x = 1.0 - x
    return x


def predict(logdir: str, images: list[str], stream=None) -> list[tuple[str, int, float]]:
    """The predicted class (and its probability) for each image file."""
    out = stream or sys.stdout
    run = read_run(logdir)
    shape = tuple(run["shape"])
    batch = np.stack([load_image(p, shape) for p in images])
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, *shape], name="images")
        probs = tf.nn.softmax(models.build(run["model"], x, run["classes"]))
        saver = tf.train.Saver(tf.trainable_variables())
    with tf.Session(graph=g) as sess:
        restore(sess, saver, logdir, run["model"])
        p = sess.run(probs, {x: batch})
    results = []
    for path, row in zip(images, p):
        k = int(np.argmax(row))
        results.append((path, k, float(row[k])))
        print(f"{path}: {k} (p={row[k]:.3f})", file=out)
    return results
