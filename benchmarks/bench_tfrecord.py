"""TFRecord reading and Example parsing: flowgrad against TensorFlow (when installed) and
against the bare loops, measured in the same run.

    python benchmarks/bench_tfrecord.py            # 20000 records of 784 floats + a label

Rows: CRC-32C throughput of the implementation in use and of the pure-Python fallback;
reading every record of a file (``tf_record_iterator``) ; ``TFRecordDataset`` ->
``batch(256)`` -> ``map(parse_example)`` per record; the queue-based readers
(``TFRecordReader.read_up_to(256)`` + ``parse_example``, and TF1's idiom ``read`` +
``parse_single_example`` + ``tf.train.batch``); and, with TensorFlow importable, its
``tf.data`` pipeline on the same file (eager, ``tf.io.parse_example``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20000)
    args = ap.parse_args()
    import flowgrad as tf
    from flowgrad.io import crc32c

    rng = np.random.default_rng(0)
    path = os.path.join(tempfile.mkdtemp(), "bench.tfrecord")
    with tf.python_io.TFRecordWriter(path) as w:
        for i in range(args.records):
            ex = tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(
                    value=rng.random(784, dtype=np.float32))),
                "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 10]))}))
            w.write(ex.SerializeToString())
    size = os.path.getsize(path)
    blob = os.urandom(1 << 20)
    print(f"file: {args.records} records, {size / 1e6:.1f} MB")
    t = _best(lambda: crc32c.crc32c(blob), 5)
    print(f"crc32c ({crc32c.implementation()}): {1 / t:.0f} MB/s")
    t = _best(lambda: crc32c.crc32c_python(blob[:1 << 18]), 1)
    print(f"crc32c (pure-Python fallback): {0.25 / t:.1f} MB/s")

    t = _best(lambda: sum(1 for _ in tf.python_io.tf_record_iterator(path)))
    print(f"tf_record_iterator: {t / args.records * 1e6:.2f} us/record, "
          f"{size / t / 1e6:.0f} MB/s")
    spec = {"x": tf.FixedLenFeature([784], tf.float32), "y": tf.FixedLenFeature([], tf.int64)}

    def pipeline():
        with tf.Graph().as_default():
            nxt = (tf.data.TFRecordDataset(path).batch(256)
                   .map(lambda s: tf.parse_example(s, spec)).make_one_shot_iterator()
                   .get_next())
            with tf.Session() as s:
                while True:
                    try:
                        s.run(nxt)
                    except tf.errors.OutOfRangeError:
                        return
    ours = _best(pipeline, 2)
    print(f"flowgrad TFRecordDataset+parse_example: {ours / args.records * 1e6:.1f} us/record")

    def queues(per_record: bool):
        with tf.Graph().as_default():
            files = tf.train.string_input_producer([path], num_epochs=1)
            reader = tf.TFRecordReader()
            if per_record:      # TF1's idiom: one record per run, batched by a runner thread
                _, record = reader.read(files)
                parsed = tf.parse_single_example(record, spec)
                nxt = tf.train.batch([parsed["x"], parsed["y"]], batch_size=256,
                                     capacity=1024, allow_smaller_final_batch=True)
            else:
                _, records = reader.read_up_to(files, 256)
                nxt = tf.parse_example(records, spec)
            with tf.Session() as s:
                s.run(tf.local_variables_initializer())
                coord = tf.train.Coordinator()
                threads = tf.train.start_queue_runners(s, coord)
                try:
                    while True:
                        s.run(nxt)
                except tf.errors.OutOfRangeError:
                    pass
                coord.request_stop()
                coord.join(threads)
    t = _best(lambda: queues(False), 2)
    print(f"flowgrad TFRecordReader.read_up_to(256)+parse_example: "
          f"{t / args.records * 1e6:.1f} us/record")
    t = _best(lambda: queues(True), 2)
    print(f"flowgrad TFRecordReader.read+parse_single_example+train.batch(256): "
          f"{t / args.records * 1e6:.1f} us/record")
    try:
        import tensorflow as real
    except ImportError:
        return
    real_spec = {"x": real.io.FixedLenFeature([784], real.float32),
                 "y": real.io.FixedLenFeature([], real.int64)}

    def real_pipeline():
        for _ in real.data.TFRecordDataset(path).batch(256).map(
                lambda s: real.io.parse_example(s, real_spec)):
            pass
    theirs = _best(real_pipeline, 2)
    print(f"tensorflow TFRecordDataset+parse_example: {theirs / args.records * 1e6:.1f} "
          f"us/record (flowgrad / tensorflow = {ours / theirs:.1f}x)")


if __name__ == "__main__":
    main()
