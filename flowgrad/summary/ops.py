"""Summary ops: graph nodes whose value is a serialized ``Summary`` protocol buffer.

``tf.summary.scalar("loss", loss)`` adds a node; running it yields bytes that
``FileWriter.add_summary`` appends to an event file.  ``merge``/``merge_all`` concatenate
serialized summaries, which protobuf reads back as one message with all the values.
The protocol buffer classes are tensorboardX's copies of TensorFlow's (same wire format).
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import GraphKeys, get_default_graph
from flowgrad.framework.registry import (NotDifferentiable, convert_to_tensor, get_opdef,
                                         make_op, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.summary.png import encode_png

_STRING_SCALAR = (TensorShape(()), _dt.string)


def _pb():
    try:
        from tensorboardX.proto import summary_pb2  # noqa: PLC0415
    except ImportError:
        raise ImportError("flowgrad.summary needs tensorboardX: pip install "
                          "'flowgrad[tensorboard]'") from None
    return summary_pb2


def _host(x) -> np.ndarray:
    """A kernel input as a numpy array (device arrays are copied to the host)."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)


def _bytes(msg) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = msg.SerializeToString()
    return out


# --- kernels ---------------------------------------------------------------------------
@op("ScalarSummary", shape=lambda n: _STRING_SCALAR, stateful=True)
def _scalar_summary(xp, tensor, *, tag):
    pb = _pb()
    value = float(_host(tensor).reshape(()))
    return _bytes(pb.Summary(value=[pb.Summary.Value(tag=tag, simple_value=value)]))


def histogram_proto(values, bins: int = 30):
    """A ``HistogramProto`` of ``values`` (finite values only) with ``bins`` buckets."""
    pb = _pb()
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return pb.HistogramProto()
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return pb.HistogramProto(min=float(v.min()), max=float(v.max()), num=float(v.size),
                             sum=float(v.sum()), sum_squares=float(np.dot(v, v)),
                             bucket_limit=edges[1:].tolist(), bucket=counts.tolist())


@op("HistogramSummary", shape=lambda n: _STRING_SCALAR, stateful=True)
def _histogram_summary(xp, values, *, tag):
    pb = _pb()
    histo = histogram_proto(_host(values))
    return _bytes(pb.Summary(value=[pb.Summary.Value(tag=tag, histo=histo)]))


def _to_uint8(images: np.ndarray) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    x = images.astype(np.float64)
    if np.issubdtype(images.dtype, np.floating):
        # TF's rule: floats in [0, 1] are scaled by 255; otherwise min-max normalised
        if x.size and (x.min() < 0 or x.max() > 1):
            lo, hi = x.min(), x.max()
            x = (x - lo) / (hi - lo if hi > lo else 1.0)
        x = x * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


@op("ImageSummary", shape=lambda n: _STRING_SCALAR, stateful=True)
def _image_summary(xp, tensor, *, tag, max_images=3):
    pb = _pb()
    imgs = _host(tensor)
    values = []
    n = min(max_images, imgs.shape[0])
    for i in range(n):
        img = _to_uint8(imgs[i])
        name = f"{tag}/image" if max_images == 1 else f"{tag}/image/{i}"
        values.append(pb.Summary.Value(tag=name, image=pb.Summary.Image(
            height=img.shape[0], width=img.shape[1], colorspace=img.shape[2],
            encoded_image_string=encode_png(img))))
    return _bytes(pb.Summary(value=values))


@op("TextSummary", shape=lambda n: _STRING_SCALAR, stateful=True)
def _text_summary(xp, tensor, *, tag):
    pb = _pb()
    from tensorboardX.proto import plugin_text_pb2, tensor_pb2, tensor_shape_pb2  # noqa: PLC0415
    arr = np.asarray(tensor, dtype=object)
    strings = [s if isinstance(s, bytes) else str(s).encode("utf-8") for s in arr.reshape(-1)]
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in arr.shape])
    meta = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(
        plugin_name="text",
        content=plugin_text_pb2.TextPluginData(version=0).SerializeToString()))
    proto = tensor_pb2.TensorProto(dtype="DT_STRING", string_val=strings, tensor_shape=shape)
    return _bytes(pb.Summary(value=[pb.Summary.Value(tag=tag, metadata=meta, tensor=proto)]))


@op("MergeSummary", shape=lambda n: _STRING_SCALAR)
def _merge_summary(xp, *inputs):
    out = np.empty((), dtype=object)
    out[()] = b"".join(bytes(np.asarray(i, dtype=object).reshape(())[()]) for i in inputs)
    return out


for _t in ("ScalarSummary", "HistogramSummary", "ImageSummary", "TextSummary",
           "MergeSummary"):
    NotDifferentiable(_t)


# --- the public API --------------------------------------------------------------------
def _tag(name: str, family: str | None) -> str:
    scope = get_default_graph().get_name_scope()
    base = f"{family}/{name}" if family else name
    return f"{scope}/{base}" if scope else base


def _add(t, collections) -> None:
    g = t.graph
    for key in (collections if collections is not None else [GraphKeys.SUMMARIES]):
        g.add_to_collection(key, t)


def scalar(name: str, tensor, collections=None, family: str | None = None):
    """``tf.summary.scalar``: a summary of one number (a scalar or one-element tensor)."""
    t = convert_to_tensor(tensor)
    if t.shape.num_elements() not in (None, 1):
        raise ValueError(f"tf.summary.scalar('{name}'): expects a scalar, got a tensor of "
                         f"shape {t.shape}; reduce it first (e.g. tf.reduce_mean).")
    s = make_op(get_opdef("ScalarSummary"), [t], {"tag": _tag(name, family)}, name)
    _add(s, collections)
    return s


def histogram(name: str, values, collections=None, family: str | None = None):
    """``tf.summary.histogram``: the distribution of ``values`` at each step."""
    t = convert_to_tensor(values)
    s = make_op(get_opdef("HistogramSummary"), [t], {"tag": _tag(name, family)}, name)
    _add(s, collections)
    return s


def image(name: str, tensor, max_outputs: int = 3, collections=None,
          family: str | None = None):
    """``tf.summary.image``: up to ``max_outputs`` images of a [N, H, W, 1|3|4] batch."""
    t = convert_to_tensor(tensor)
    if t.shape.ndims not in (None, 4) or (t.shape.ndims == 4 and t.shape.as_list()[3]
                                          not in (None, 1, 3, 4)):
        raise ValueError(f"tf.summary.image('{name}'): expects [batch, height, width, "
                         f"channels] with 1, 3 or 4 channels, got shape {t.shape}.")
    s = make_op(get_opdef("ImageSummary"), [t],
                {"tag": _tag(name, family), "max_images": int(max_outputs)}, name)
    _add(s, collections)
    return s


def text(name: str, tensor, collections=None):
    """``tf.summary.text``: strings shown in TensorBoard's text dashboard."""
    t = convert_to_tensor(tensor)
    if t.dtype != _dt.string:
        raise ValueError(f"tf.summary.text('{name}'): expects a string tensor, got "
                         f"{t.dtype.name}.")
    s = make_op(get_opdef("TextSummary"), [t], {"tag": _tag(name, None)}, name)
    _add(s, collections)
    return s


def merge(inputs, collections=None, name: str | None = None):
    """``tf.summary.merge``: one serialized summary holding all of ``inputs``' values."""
    tensors = [convert_to_tensor(i) for i in inputs]
    s = make_op(get_opdef("MergeSummary"), tensors, {}, name or "Merge/MergeSummary")
    if collections:
        _add(s, collections)
    return s


def merge_all(key: str = GraphKeys.SUMMARIES, scope: str | None = None,
              name: str | None = None):
    """``tf.summary.merge_all``: merges the summaries of collection ``key`` (None if empty)."""
    summaries = get_default_graph().get_collection(key, scope)
    if not summaries:
        return None
    return merge(summaries, name=name)
