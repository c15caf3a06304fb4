"""``tf.train.Example``, ``SequenceExample`` and their parts, as protocol buffer classes.

The classes are built when first used, from descriptors written out here (no ``.proto``
compilation step), with the ``protobuf`` package (``pip install 'flowgrad[tfrecord]'``).
Their messages have TensorFlow's names (``tensorflow.Example``, ...) and field numbers
(``tensorflow/core/example/{feature,example}.proto``), so their bytes are TensorFlow's::

    ex = tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0]))}))
    data = ex.SerializeToString()
    tf.train.Example.FromString(data).features.feature["x"].float_list.value   # [1.0, 2.0]

The classes live in a descriptor pool of their own, so they coexist with TensorFlow's.
"""

from __future__ import annotations

NAMES = ("BytesList", "FloatList", "Int64List", "Feature", "Features", "FeatureList",
         "FeatureLists", "Example", "SequenceExample")

_classes: dict = {}


def _file_descriptor():
    from google.protobuf import descriptor_pb2  # noqa: PLC0415
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="tensorflow/core/example/example.proto",
                                             package="tensorflow", syntax="proto3")

    def message(name: str, fields, parent=None):
        m = (parent.nested_type if parent is not None else fdp.message_type).add(name=name)
        for fname, number, ftype, label, type_name, packed in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label, json_name=fname)
            if type_name:
                f.type_name = type_name
            if packed:
                f.options.packed = True
        return m

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    message("BytesList", [("value", 1, F.TYPE_BYTES, rep, None, False)])
    message("FloatList", [("value", 1, F.TYPE_FLOAT, rep, None, True)])
    message("Int64List", [("value", 1, F.TYPE_INT64, rep, None, True)])
    feature = message("Feature", [
        ("bytes_list", 1, F.TYPE_MESSAGE, opt, ".tensorflow.BytesList", False),
        ("float_list", 2, F.TYPE_MESSAGE, opt, ".tensorflow.FloatList", False),
        ("int64_list", 3, F.TYPE_MESSAGE, opt, ".tensorflow.Int64List", False)])
    feature.oneof_decl.add(name="kind")
    for f in feature.field:
        f.oneof_index = 0

    def map_message(name: str, field: str, value_type: str):
        m = message(name, [(field, 1, F.TYPE_MESSAGE, rep,
                            f".tensorflow.{name}.{_entry(field)}", False)])
        entry = message(_entry(field), [("key", 1, F.TYPE_STRING, opt, None, False),
                                        ("value", 2, F.TYPE_MESSAGE, opt, value_type, False)],
                        parent=m)
        entry.options.map_entry = True

    map_message("Features", "feature", ".tensorflow.Feature")
    message("FeatureList", [("feature", 1, F.TYPE_MESSAGE, rep, ".tensorflow.Feature", False)])
    map_message("FeatureLists", "feature_list", ".tensorflow.FeatureList")
    message("Example", [("features", 1, F.TYPE_MESSAGE, opt, ".tensorflow.Features", False)])
    message("SequenceExample", [
        ("context", 1, F.TYPE_MESSAGE, opt, ".tensorflow.Features", False),
        ("feature_lists", 2, F.TYPE_MESSAGE, opt, ".tensorflow.FeatureLists", False)])
    return fdp


def _entry(field: str) -> str:
    return "".join(p.capitalize() for p in field.split("_")) + "Entry"


def _build() -> None:
    try:
        from google.protobuf import descriptor_pool, message_factory  # noqa: PLC0415
    except ImportError:
        raise ImportError("tf.train.Example and the parsing ops need the protobuf package: "
                          "pip install 'flowgrad[tfrecord]'") from None
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor())
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is None:                      # protobuf < 4.22
        get_class = message_factory.MessageFactory(pool).GetPrototype
    for name in NAMES:
        _classes[name] = get_class(pool.FindMessageTypeByName(f"tensorflow.{name}"))


def message_class(name: str):
    """The class of the message ``tensorflow.<name>``."""
    if not _classes:
        _build()
    return _classes[name]


def __getattr__(name: str):
    if name in NAMES:
        return message_class(name)
    raise AttributeError(f"module 'flowgrad.io.example_pb' has no attribute '{name}'")
