"""flowgrad's graph as a TensorFlow ``GraphDef`` protocol buffer (for TensorBoard).

Built with tensorboardX's copies of TensorFlow's ``graph``/``node_def``/``attr_value``
messages.  Node names keep their scopes (``dense/MatMul``, ``gradients/dense/MatMul_grad/…``),
which TensorBoard collapses into boxes; every node also gets ``_output_shapes`` so edges
show tensor shapes.  Constants keep their value only when small, to keep event files small.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework.dtypes import DType
from flowgrad.framework.graph import Graph
from flowgrad.framework.shapes import TensorShape

_TF_TYPE = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF",
            "int8": "DT_INT8", "int16": "DT_INT16", "int32": "DT_INT32", "int64": "DT_INT64",
            "uint8": "DT_UINT8", "uint16": "DT_UINT16", "uint32": "DT_UINT32",
            "uint64": "DT_UINT64", "bool": "DT_BOOL", "string": "DT_STRING",
            "complex64": "DT_COMPLEX64", "complex128": "DT_COMPLEX128"}
_SMALL_CONST = 16   # constants with more elements are written with their shape only


def _protos():
    from tensorboardX.proto import (attr_value_pb2, graph_pb2, node_def_pb2,  # noqa: PLC0415
                                    tensor_pb2, tensor_shape_pb2, types_pb2, versions_pb2)
    return attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2, types_pb2, \
        versions_pb2


def _type_enum(dt: DType) -> int:
    types_pb2 = _protos()[5]
    return types_pb2.DataType.Value(_TF_TYPE.get(dt.name, "DT_INVALID"))


def _shape_proto(shape: TensorShape):
    tsp = _protos()[4]
    if shape.ndims is None:
        return tsp.TensorShapeProto(unknown_rank=True)
    return tsp.TensorShapeProto(dim=[tsp.TensorShapeProto.Dim(size=-1 if d is None else d)
                                     for d in shape.as_list()])


def _tensor_proto(value: np.ndarray):
    tensor_pb2 = _protos()[3]
    arr = np.asarray(value)
    dt_name = "string" if arr.dtype == object else arr.dtype.name
    dt_name = "bool" if dt_name == "bool_" else dt_name
    proto = tensor_pb2.TensorProto(tensor_shape=_shape_proto(TensorShape(arr.shape)))
    proto.dtype = _protos()[5].DataType.Value(_TF_TYPE.get(dt_name, "DT_INVALID"))
    if arr.size <= _SMALL_CONST:
        flat = arr.reshape(-1)
        if arr.dtype == object:
            proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode()
                                    for v in flat)
        elif arr.dtype.kind == "f" and arr.dtype.itemsize == 8:
            proto.double_val.extend(flat.tolist())
        elif arr.dtype.kind == "f":
            proto.float_val.extend(flat.astype(np.float32).tolist())
        elif arr.dtype.kind == "b":
            proto.bool_val.extend(flat.tolist())
        elif arr.dtype.kind in "iu" and arr.dtype.itemsize == 8:
            proto.int64_val.extend(flat.tolist())
        elif arr.dtype.kind in "iu":
            proto.int_val.extend(flat.tolist())
    return proto


def attr_value(v):
    """An ``AttrValue`` for a flowgrad attribute, or None for values TF cannot show."""
    attr_value_pb2 = _protos()[0]
    A = attr_value_pb2.AttrValue
    if isinstance(v, DType):
        return A(type=_type_enum(v))
    if isinstance(v, TensorShape):
        return A(shape=_shape_proto(v))
    if isinstance(v, bool | np.bool_):
        return A(b=bool(v))
    if isinstance(v, int | np.integer):
        return A(i=int(v))
    if isinstance(v, float | np.floating):
        return A(f=float(v))
    if isinstance(v, str):
        return A(s=v.encode("utf-8"))
    if isinstance(v, bytes):
        return A(s=v)
    if isinstance(v, np.ndarray):
        return A(tensor=_tensor_proto(v))
    if isinstance(v, list | tuple):
        lst = A.ListValue()
        if all(isinstance(x, bool) for x in v):
            lst.b.extend(v)
        elif all(isinstance(x, int | np.integer) for x in v):
            lst.i.extend(int(x) for x in v)
        elif all(isinstance(x, float | int) for x in v):
            lst.f.extend(float(x) for x in v)
        elif all(isinstance(x, str) for x in v):
            lst.s.extend(x.encode("utf-8") for x in v)
        elif all(isinstance(x, DType) for x in v):
            lst.type.extend(_type_enum(x) for x in v)
        elif all(isinstance(x, TensorShape) for x in v):
            lst.shape.extend(_shape_proto(x) for x in v)
        else:
            return None
        return A(list=lst)
    return None


def _input_name(t) -> str:
    return t.op.name if t.value_index == 0 else f"{t.op.name}:{t.value_index}"


def graph_def(graph: Graph):
    """The ``GraphDef`` protocol buffer of ``graph``'s operations (in creation order)."""
    attr_value_pb2, graph_pb2, node_def_pb2, _, _, _, versions_pb2 = _protos()
    gd = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=22))
    for o in graph.get_operations():
        node = node_def_pb2.NodeDef(name=o.name, op=o.type, device=o.device or "")
        node.input.extend(_input_name(t) for t in o.inputs)
        node.input.extend("^" + c.name for c in o.control_inputs)
        for k, v in o.attrs.items():
            av = attr_value(v)
            if av is not None:
                node.attr[k].CopyFrom(av)
        if o.outputs:
            shapes = attr_value_pb2.AttrValue.ListValue()
            shapes.shape.extend(_shape_proto(t.shape) for t in o.outputs)
            node.attr["_output_shapes"].CopyFrom(attr_value_pb2.AttrValue(list=shapes))
        gd.node.append(node)
    return gd
