"""``tf.summary``: summary ops and ``FileWriter`` for TensorBoard.

    loss_summary = tf.summary.scalar("loss", loss)
    merged = tf.summary.merge_all()
    writer = tf.summary.FileWriter("logs/run1", sess.graph)
    writer.add_summary(sess.run(merged, feed), global_step=step)
"""

from flowgrad.summary.ops import histogram, image, merge, merge_all, scalar, text
from flowgrad.summary.writer import FileWriter
from flowgrad.summary.writer_cache import FileWriterCache


def __getattr__(name: str):
    # the protocol buffer classes, loaded only when asked for (tensorboardX is optional)
    if name in ("Summary", "Event", "SessionLog", "TaggedRunMetadata"):
        from tensorboardX.proto import event_pb2, summary_pb2  # noqa: PLC0415
        return getattr(summary_pb2 if name == "Summary" else event_pb2, name)
    raise AttributeError(f"module 'flowgrad.summary' has no attribute '{name}'")


__all__ = ["FileWriter", "FileWriterCache", "histogram", "image", "merge", "merge_all", "scalar",
           "text"]
