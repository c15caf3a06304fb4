"""``python -m flowgrad`` / ``flowgrad``: train, evaluate, predict, draw graphs, benchmark.

    flowgrad train                         # LeNet on the embedded digits
    flowgrad train --model mlp --dataset mnist --data-dir ~/data/mnist --epochs 5
    flowgrad eval runs/lenet-digits
    flowgrad predict runs/lenet-digits digit.png
    flowgrad graph --model mlp --backward -o mlp.svg

A user's mistake (a missing file, a wrong name, a checkpoint of another model) ends with
one line on stderr and exit status 1 (2 for a malformed command line); never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from flowgrad import models

EXIT_USER_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (no usage dump)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{s}'") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{s}'") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {s}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="flowgrad", description="flowgrad: TF1's graph model on numpy.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a digit classifier",
                       description="Train a model; writes checkpoints, TensorBoard logs and "
                                   "a curves PNG to --logdir.")
    t.add_argument("--model", choices=models.MODELS, default="lenet", help="default: lenet")
    t.add_argument("--dataset", default="digits", metavar="digits|mnist|PATH",
                   help="embedded digits (default), MNIST IDX files, a folder of them, or "
                        "an .npz with x_train/y_train/x_test/y_test")
    t.add_argument("--data-dir", default=None,
                   help="folder of MNIST's IDX files (default: $FLOWGRAD_DATA)")
    t.add_argument("--epochs", type=_positive_int, default=20, help="default: 20")
    t.add_argument("--batch-size", type=_positive_int, default=32, help="default: 32")
    t.add_argument("--optimizer", choices=("sgd", "momentum", "adam"), default="adam",
                   help="default: adam")
    t.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate (default: 0.1 sgd, 0.02 momentum, 0.003 adam)")
    t.add_argument("--lr-decay", type=_positive_float, default=None,
                   help="learning-rate factor per epoch (default 0.85; 1 keeps it constant)")
    t.add_argument("--seed", type=int, default=0, help="graph seed and data order (default 0)")
    t.add_argument("--logdir", default=None, help="default: runs/MODEL-DATASET")
    t.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --logdir")
    t.add_argument("--limit", type=_positive_int, default=None,
                   help="use only the first N training images (quick trials)")
    t.add_argument("--workers", type=_positive_int, default=1,
                   help="data-parallel MPI ranks on this machine (needs flowgrad[mpi]); each "
                   "trains on its shard with --batch-size images per step")
    t.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    t.add_argument("--threads", type=_positive_int, default=1,
                   help="BLAS threads (default 1: fastest for small batches)")

    e = sub.add_parser("eval", help="evaluate a checkpoint on its test set")
    e.add_argument("checkpoint_dir")
    e.add_argument("--model", choices=models.MODELS, default=None,
                   help="model to restore into (default: the one that was trained)")

    r = sub.add_parser("predict", help="classify image files with a trained model")
    r.add_argument("checkpoint_dir")
    r.add_argument("images", nargs="+", metavar="IMAGE.png")

    g = sub.add_parser("graph", help="draw a model's dataflow graph (DOT, SVG, PNG)")
    g.add_argument("--model", choices=models.MODELS, default="lenet")
    g.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                   help="sets the input size (8x8 or 28x28)")
    g.add_argument("--backward", action="store_true", help="include the gradient nodes")
    g.add_argument("-o", "--output", required=True, metavar="graph.svg|.dot|.png")

    b = sub.add_parser("bench", help="performance benchmarks", add_help=False)
    b.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _graph(args) -> int:
    import flowgrad as tf  # noqa: PLC0415
    from flowgrad import viz  # noqa: PLC0415
    from flowgrad.trainer import make_optimizer  # noqa: PLC0415
    shape = (8, 8) if args.dataset == "digits" else (28, 28)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, *shape], name="images")
        y = tf.placeholder(tf.int64, [None], name="labels")
        logits = models.build(args.model, x, 10)
        with tf.name_scope("loss"):
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y, logits=logits))
        # what a training step needs: the variables but not their initializers
        target = make_optimizer("sgd", 0.1).minimize(loss) if args.backward else loss
    text = viz.draw(target, backward=args.backward,
                    title=f"{args.model} ({'with gradients' if args.backward else 'forward'})")
    out = args.output
    try:
        viz.render(text, out)
    except viz.GraphvizNotFound as e:
        dot_path = os.path.splitext(out)[0] + ".dot"
        viz.render(text, dot_path)
        print(f"flowgrad graph: error: {e}; DOT text written to {dot_path}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (OSError, ValueError) as e:
        print(f"flowgrad graph: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    nodes = sum(1 for ln in text.splitlines() if " [label=" in ln and " -> " not in ln)
    print(f"wrote {out} ({nodes} nodes)")
    return 0


def _bench(argv: list[str]) -> int:
    if importlib.util.find_spec("flowgrad.bench") is None:
        print("flowgrad bench: error: the benchmark module (flowgrad.bench) is not part of "
              "this installation", file=sys.stderr)
        return EXIT_USER_ERROR
    from flowgrad import bench  # noqa: PLC0415
    return int(bench.main(argv) or 0)


def _launch_workers(argv: list[str], workers: int, threads: int) -> int:
    """``train --workers N``: the same command on N MPI ranks (flowgrad.distributed.run)."""
    import importlib.util  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    if importlib.util.find_spec("mpi4py") is None:
        print("flowgrad train: error: --workers needs MPI: pip install 'flowgrad[mpi]'",
              file=sys.stderr)
        return EXIT_USER_ERROR
    rest, skip = [], False
    for a in argv:                      # every rank runs the command without --workers
        if skip:
            skip = False
            continue
        if a == "--workers":
            skip = True
            continue
        if a.startswith("--workers="):
            continue
        rest.append(a)
    cmd = [sys.executable, "-m", "flowgrad.distributed.run", "-n", str(workers),
           "--threads", str(threads), "-m", "flowgrad", *rest, "--distributed"]
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        return _bench(argv[1:])
    args = build_parser().parse_args(argv)
    from flowgrad import trainer  # noqa: PLC0415
    try:
        if args.command == "train" and args.workers > 1:
            return _launch_workers(argv, args.workers, args.threads)
        if args.command == "train":
            trainer.train(args.model, args.dataset, args.data_dir, args.epochs, args.batch_size,
                          args.optimizer, args.lr, args.seed, args.logdir, args.resume,
                          args.limit, args.threads,
                          trainer.LR_DECAY if args.lr_decay is None else args.lr_decay,
                          distributed=args.distributed)
        elif args.command == "eval":
            with trainer.blas_threads(1):
                trainer.evaluate_checkpoint(args.checkpoint_dir, args.model)
        elif args.command == "predict":
            trainer.predict(args.checkpoint_dir, args.images)
        elif args.command == "graph":
            return _graph(args)
    except trainer.UserError as e:
        print(f"flowgrad {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"flowgrad {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
