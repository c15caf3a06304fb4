"""Meta-graphs: ``tf.train.export_meta_graph`` / ``tf.train.import_meta_graph``.

A meta-graph is everything needed to rebuild a graph in a fresh process: every op (type,
name, inputs, control inputs, attributes, device) in creation order, the collections
(Variables, tensors, ops and plain values) and the Saver's settings.  flowgrad writes it in
its own format (see ``docs/metagraph.md``): a zip archive in numpy's ``.npz`` layout holding
``meta_graph.json`` (the structure) and one ``.npy`` entry per array attribute (constants).
Nothing is pickled, so loading a meta-graph never runs code from the file.

Importing recreates each op by type through the op registry, so shape rules run again and
the rebuilt graph is an ordinary graph: it can be extended, differentiated and trained.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import zipfile
from typing import Any

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Graph, Operation, Tensor, get_default_graph
from flowgrad.framework.registry import get_opdef, make_op
from flowgrad.framework.shapes import TensorShape

FORMAT = "flowgrad.meta_graph"
VERSION = 1
_JSON = "meta_graph.json"


class MetaGraphDef:
    """An exported meta-graph in memory: ``meta`` (the JSON structure) and ``arrays``."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.meta, self.arrays = meta, arrays

    @property
    def collection_def(self) -> dict:
        return self.meta["collections"]

    @property
    def saver_def(self) -> dict | None:
        return self.meta.get("saver")

    @property
    def graph_def(self):
        """The ops as a ``tf.GraphDef`` (for ``tf.import_graph_def`` or freezing)."""
        from flowgrad.train.graph_def import GraphDef  # noqa: PLC0415
        return GraphDef(self.meta["ops"], self.arrays, graph_seed=self.meta.get("graph_seed"))

    def SerializeToString(self) -> bytes:  # noqa: N802 - protobuf's name
        buf = io.BytesIO()
        entries = {name: arr for name, arr in self.arrays.items()}
        entries[_JSON] = np.frombuffer(json.dumps(self.meta, indent=1).encode("utf-8"),
                                       dtype=np.uint8)
        np.savez(buf, **entries)
        return buf.getvalue()

    @classmethod
    def FromString(cls, data: bytes) -> "MetaGraphDef":  # noqa: N802
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, ValueError, OSError) as e:
            raise ValueError(f"not a flowgrad meta-graph file: {e}") from None
        if _JSON not in arrays:
            raise ValueError(f"not a flowgrad meta-graph file: no {_JSON} entry")
        meta = json.loads(arrays.pop(_JSON).tobytes().decode("utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"not a flowgrad meta-graph (format {meta.get('format')!r})")
        if meta.get("version", 0) > VERSION:
            raise ValueError(f"meta-graph version {meta['version']} is newer than this "
                             f"flowgrad understands ({VERSION}); upgrade flowgrad")
        return cls(meta, arrays)

    def __repr__(self) -> str:
        return (f"<MetaGraphDef: {len(self.meta['ops'])} ops, collections "
                f"{sorted(self.meta['collections'])}>")


# ----- attribute values <-> JSON ---------------------------------------------------------------
# Objects that ops keep in attributes (control flow's sub-graph specs) are exported field by
# field when their class is on this allow-list; importing instantiates only these classes.
_OBJECT_CLASSES: dict[str, type] = {}


def register_serializable(cls: type) -> type:
    """Allows instances of ``cls`` (plain objects whose ``__dict__`` holds exportable values,
    tensors and operations) in exported op attributes."""
    _OBJECT_CLASSES[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


def _register_control_flow() -> None:
    from flowgrad.ops import control_flow as cf  # noqa: PLC0415
    for name in ("SubGraph", "_IfSpec", "_IfGradSpec", "_IfGradGradSpec", "_LoopSpec",
                 "_WhileGradSpec", "_WhileGradGradSpec"):
        if hasattr(cf, name):
            register_serializable(getattr(cf, name))


class _Encoder:
    def __init__(self, scope: str | None = None) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.scope = scope
        self._objects: dict[int, int] = {}
        self._keep: list = []            # keeps encoded objects alive while ids are in use

    def encode(self, v: Any, where: str):
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"float": repr(v)}
        if isinstance(v, _dt.DType):
            return {"dtype": v.name}
        if isinstance(v, TensorShape):
            return {"shape": v.as_list() if v.ndims is not None else None}
        if isinstance(v, np.ndarray):
            return self._array(v, where)
        if isinstance(v, np.generic):
            return {"scalar": self._array(np.asarray(v), where)}
        if isinstance(v, bytes):
            return {"bytes": base64.b64encode(v).decode("ascii")}
        if isinstance(v, tuple):
            return {"tuple": [self.encode(x, where) for x in v]}
        if isinstance(v, list):
            return [self.encode(x, where) for x in v]
        if isinstance(v, dict):
            return {"dict": [[self.encode(k, where), self.encode(x, where)]
                             for k, x in v.items()]}
        if v is Ellipsis:
            return {"ellipsis": True}
        if isinstance(v, slice):
            return {"slice": [self.encode(x, where) for x in (v.start, v.stop, v.step)]}
        if isinstance(v, Tensor):
            return {"tensor": _strip(v.name, self.scope)}
        if isinstance(v, Operation):
            return {"op": _strip(v.name, self.scope)}
        key = f"{type(v).__module__}.{type(v).__qualname__}"
        if key in _OBJECT_CLASSES and hasattr(v, "__dict__"):
            return self._object(v, key, where)
        raise TypeError(f"cannot export {where}: its value {v!r} (a {type(v).__name__}) has no "
                        "meta-graph encoding. Only numbers, strings, bytes, dtypes, shapes, "
                        "arrays, tensors, control-flow specs and lists/tuples/dicts of them "
                        "can be exported.")

    def _object(self, v, key: str, where: str):
        if id(v) in self._objects:          # shared objects stay shared after import
            return {"object_ref": self._objects[id(v)]}
        if self.scope:
            raise TypeError(f"cannot export {where} with export_scope: control-flow sub-graphs "
                            "are exported with whole graphs only")
        n = self._objects[id(v)] = len(self._objects)
        self._keep.append(v)
        fields = {}
        for name, value in vars(v).items():
            if key.endswith(".SubGraph") and name in ("start", "end"):
                fields[name] = {"op_index": value}
            else:
                fields[name] = self.encode(value, f"{where}.{name}")
        return {"object": {"class": key, "id": n, "fields": fields}}

    def _array(self, a: np.ndarray, where: str):
        if a.dtype == object:     # string tensors: a list of str/bytes, never pickled
            flat = [self.encode(x if isinstance(x, str | bytes) else str(x), where)
                    for x in a.reshape(-1).tolist()]
            return {"strings": flat, "shape_of": list(a.shape)}
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.array(a, copy=True, order="C")
        return {"array": key}


class _Decoder:
    """Decodes JSON attribute values; tensors and ops resolve against the import so far."""

    def __init__(self, arrays: dict[str, np.ndarray], tensor=None, op=None,
                 op_offset: int = 0) -> None:
        self.arrays, self.tensor, self.op, self.op_offset = arrays, tensor, op, op_offset
        self.objects: dict[int, Any] = {}

    def __call__(self, v: Any):
        if isinstance(v, list):
            return [self(x) for x in v]
        if not isinstance(v, dict):
            return v
        (tag, x), = v.items() if len(v) == 1 else (("strings", v),)
        if tag == "float":
            return float(x)
        if tag == "dtype":
            return _dt.as_dtype(x)
        if tag == "shape":
            return TensorShape(x)
        if tag == "array":
            a = np.array(self.arrays[x], copy=True)
            a.setflags(write=False)
            return a
        if tag == "scalar":
            return self(x)[()]
        if tag == "bytes":
            return base64.b64decode(x)
        if tag == "tuple":
            return tuple(self(i) for i in x)
        if tag == "dict":
            return {self(k): self(i) for k, i in x}
        if tag == "ellipsis":
            return Ellipsis
        if tag == "slice":
            return slice(*(self(i) for i in x))
        if tag == "strings":
            out = np.empty(len(x["strings"]), dtype=object)
            out[:] = [self(s) for s in x["strings"]]
            out = out.reshape(x["shape_of"])
            out.setflags(write=False)
            return out
        if tag == "tensor":
            return self.tensor(x)
        if tag == "op":
            return self.op(x)
        if tag == "op_index":
            return self.op_offset + int(x)
        if tag == "object_ref":
            return self.objects[x]
        if tag == "object":
            cls = _OBJECT_CLASSES.get(x["class"])
            if cls is None:
                raise ValueError(f"meta-graph holds an object of class {x['class']!r}, which "
                                 "is not registered as serializable")
            obj = cls.__new__(cls)
            self.objects[x["id"]] = obj
            for name, value in x["fields"].items():
                setattr(obj, name, self(value))
            return obj
        raise ValueError(f"unknown meta-graph value tag {tag!r}")


# ----- export ----------------------------------------------------------------------------------
def _strip(name: str, scope: str | None) -> str:
    if not scope:
        return name
    prefix = scope.rstrip("/") + "/"
    if not name.startswith(prefix):
        raise ValueError(f"'{name}' is outside export_scope '{scope}'")
    return name[len(prefix):]


def _in_scope(name: str, scope: str | None) -> bool:
    return not scope or name.startswith(scope.rstrip("/") + "/")


def _variable_def(v, scope) -> dict:
    return {"variable_name": _strip(v._variable.name, scope),
            "initializer_name": _strip(v._initializer_op.name, scope),
            "snapshot_name": _strip(v._snapshot.name, scope),
            "initial_value_name": _strip(v._initial_value.name, scope)
            if v._initial_value.graph is v.graph else None,
            "trainable": bool(v.trainable)}


def _collection_item(item, scope):
    from flowgrad.ops.variables import Variable  # noqa: PLC0415
    if isinstance(item, Variable):
        return {"variable": _variable_def(item, scope)} if _in_scope(item.name, scope) else None
    if isinstance(item, Tensor):
        return {"tensor": _strip(item.name, scope)} if _in_scope(item.name, scope) else None
    if isinstance(item, Operation):
        return {"op": _strip(item.name, scope)} if _in_scope(item.name, scope) else None
    if isinstance(item, bool | int | float | str) and not (isinstance(item, float)
                                                            and not math.isfinite(item)):
        return {"value": item}
    if isinstance(item, bytes):
        return {"bytes": base64.b64encode(item).decode("ascii")}
    return False   # not serialisable: skipped with a warning, as TF does


def export_meta_graph(filename=None, meta_info_def=None, graph_def=None, saver_def=None,
                      collection_list=None, as_text: bool = False, graph: Graph | None = None,
                      export_scope: str | None = None, clear_devices: bool = False,
                      clear_extraneous_savers: bool = False, strip_default_attrs: bool = False,
                      save_debug_info: bool = False, saver=None, **kwargs) -> MetaGraphDef:
    """``tf.train.export_meta_graph``: the graph, its collections (all, or those in
    ``collection_list``) and the saver's settings; written to ``filename`` if given.

    ``as_text`` is accepted for compatibility; the file is always flowgrad's archive format.
    """
    g = graph or get_default_graph()
    _register_control_flow()
    enc = _Encoder(export_scope)
    ops = []
    for op_ in g.get_operations():
        if not _in_scope(op_.name, export_scope):
            continue
        where = f"attr of op '{op_.name}' ({op_.type})"
        entry = {
            "name": _strip(op_.name, export_scope),
            "type": op_.type,
            "inputs": [_strip(t.name, export_scope) for t in op_.inputs],
            "control_inputs": [_strip(c.name, export_scope) for c in op_.control_inputs],
            "attrs": {k: enc.encode(v, f"{where} '{k}'") for k, v in op_.attrs.items()},
            "outputs": [[enc.encode(t.shape, where), t.dtype.name] for t in op_.outputs],
        }
        if op_.device and not clear_devices:
            entry["device"] = op_.device
        if op_._grad_override:
            entry["gradient_override"] = op_._grad_override
        ops.append(entry)
    keys = g.get_all_collection_keys() if collection_list is None else list(collection_list)
    collections = {}
    for key in keys:
        items = []
        for item in g.get_collection(key):
            e = _collection_item(item, export_scope)
            if e is False and key == "savers":
                continue    # a Saver (tf.train.Scaffold puts one there) is the saver_def
            if e is False:
                from flowgrad.platform import tf_logging  # noqa: PLC0415
                tf_logging.warning("Issue encountered when serializing %s: %r cannot be "
                                   "exported and is left out of the meta-graph.", key, item)
                continue
            if e is not None:
                items.append(e)
        if items:
            collections[str(key)] = items
    if saver is not None and saver_def is None:
        saver_def = _saver_def_of(saver)
    meta = {"format": FORMAT, "version": VERSION,
            "meta_info": dict(meta_info_def or {}),
            "graph_seed": g.seed, "ops": ops, "collections": collections,
            "saver": _saver_json(saver_def, export_scope)}
    mg = MetaGraphDef(meta, enc.arrays)
    if filename:
        d = os.path.dirname(os.fspath(filename))
        if d:
            os.makedirs(d, exist_ok=True)
        with open(filename, "wb") as f:
            f.write(mg.SerializeToString())
    return mg


def _saver_def_of(saver) -> dict:
    """The settings that rebuild ``saver``: checkpoint key -> variable tensor name, options."""
    saver.build()
    d = dict(saver.as_saver_def()) if hasattr(saver, "as_saver_def") else {}
    d["var_names"] = {key: v.name for key, v in saver._vars.items()}
    d["name"] = getattr(saver, "_name", "save")
    return d


def _write_for_saver(meta_path: str, saver) -> None:
    """``Saver.save(..., write_meta_graph=True)``: writes ``<prefix>.meta``. A graph the
    format cannot express raises TypeError; the Saver then saves the checkpoint alone."""
    saver.build()
    graph = next(iter(saver._vars.values())).graph if saver._vars else None
    export_meta_graph(meta_path, graph=graph, saver=saver)


def _saver_json(saver_def, scope):
    if saver_def is None:
        return None
    out = dict(saver_def)
    if "var_names" in out:
        out["var_names"] = {k: _strip(v, scope) for k, v in out["var_names"].items()}
    return json.loads(json.dumps(out))


# ----- import ----------------------------------------------------------------------------------
def read_meta_graph_file(filename) -> MetaGraphDef:
    """Reads a meta-graph written by ``export_meta_graph`` / ``Saver.save``."""
    path = os.fspath(filename)
    if not os.path.exists(path):
        from flowgrad.framework import errors  # noqa: PLC0415
        raise errors.NotFoundError(None, None, f"meta-graph file {path} does not exist")
    with open(path, "rb") as f:
        return MetaGraphDef.FromString(f.read())


def import_scoped_meta_graph(meta_graph_or_file, graph: Graph | None = None,
                             import_scope: str | None = None, clear_devices: bool = False,
                             input_map: dict | None = None) -> dict:
    """Rebuilds the ops and collections into ``graph``; returns ``{name: Variable}``."""
    mg = meta_graph_or_file if isinstance(meta_graph_or_file, MetaGraphDef) \
        else read_meta_graph_file(meta_graph_or_file)
    g = graph or get_default_graph()
    prefix = (import_scope.rstrip("/") + "/") if import_scope else ""
    input_map = {k if ":" in k else k + ":0": v for k, v in (input_map or {}).items()}
    built: dict[str, Operation] = {}

    def tensor(name: str) -> Tensor:
        if name in input_map:
            from flowgrad.framework.registry import convert_to_tensor  # noqa: PLC0415
            return convert_to_tensor(input_map[name])
        op_name, _, idx = name.rpartition(":")
        return built[op_name].outputs[int(idx)]

    def operation(name: str) -> Operation:
        return built[name]

    _register_control_flow()
    decode = _Decoder(mg.arrays, tensor, operation, op_offset=len(g.get_operations()))
    with g.as_default(), g.control_dependencies(None):
        if g.seed is None and mg.meta.get("graph_seed") is not None and not g.get_operations():
            g.seed = mg.meta["graph_seed"]
        for e in mg.meta["ops"]:
            d = get_opdef(e["type"])
            attrs = {k: decode(v) for k, v in e["attrs"].items()}
            inputs = [tensor(n) for n in e["inputs"]]
            ctrl = [built[c] for c in e["control_inputs"]]
            name = prefix + e["name"]
            if name in g._ops_by_name:
                raise ValueError(f"import_meta_graph: the graph already has an op named "
                                 f"'{name}'; import into a fresh graph (tf.Graph()) or pass "
                                 "import_scope='...' to prefix the imported names")
            make_op(d, inputs, attrs, name + "/", graph=g, control_inputs=ctrl)
            op_ = g.get_operation_by_name(name)
            for t, (shape, _) in zip(op_.outputs, e["outputs"]):
                saved = decode(shape)
                if t.shape.is_compatible_with(saved):
                    t.set_shape(saved)
            if e.get("device") and not clear_devices:
                op_.device = e["device"]
            if e.get("gradient_override"):
                op_._grad_override = e["gradient_override"]
            _mark_scopes_used(g, name)
            built[e["name"]] = op_
        variables = {}
        for key, items in mg.meta["collections"].items():
            ref = g.get_collection_ref(key)
            for item in items:
                value = _collection_value(item, built, tensor, variables, prefix)
                if value is not None and not any(value is x for x in ref):
                    ref.append(value)
    return variables


def _mark_scopes_used(g: Graph, name: str) -> None:
    """Name scopes of imported ops count as used, so new ops do not reuse them."""
    parts = name.split("/")
    for i in range(1, len(parts)):
        g._names_in_use.setdefault("/".join(parts[:i]).lower(), 1)


def _collection_value(item: dict, built, tensor, variables: dict, prefix: str):
    if "variable" in item:
        vd = item["variable"]
        name = prefix + vd["variable_name"]
        if name not in variables:
            from flowgrad.ops.variables import Variable  # noqa: PLC0415
            variables[name] = Variable.from_variable_def(vd, import_scope=prefix.rstrip("/"))
        return variables[name]
    if "tensor" in item:
        return tensor(item["tensor"])
    if "op" in item:
        return built[item["op"]]
    if "value" in item:
        return item["value"]
    if "bytes" in item:
        return base64.b64decode(item["bytes"])
    return None


def import_meta_graph(meta_graph_or_file, clear_devices: bool = False,
                      import_scope: str | None = None, **kwargs):
    """``tf.train.import_meta_graph``: rebuilds a saved graph (ops, collections, variables)
    into the default graph and returns a ``Saver`` for its variables (``None`` if the graph
    has no variables and no saver was saved).

        saver = tf.train.import_meta_graph("model.ckpt.meta")
        saver.restore(sess, "model.ckpt")
        train_op = tf.get_collection("train_op")[0]
    """
    mg = meta_graph_or_file if isinstance(meta_graph_or_file, MetaGraphDef) \
        else read_meta_graph_file(meta_graph_or_file)
    variables = import_scoped_meta_graph(mg, import_scope=import_scope,
                                         clear_devices=clear_devices,
                                         input_map=kwargs.get("input_map"))
    saver_def = mg.saver_def
    if saver_def is None and not variables:
        return None
    from flowgrad.train.saver import Saver  # noqa: PLC0415
    g = get_default_graph()
    prefix = (import_scope.rstrip("/") + "/") if import_scope else ""
    if saver_def is None or "var_names" not in saver_def:
        var_list = [v for v in variables.values()
                    if any(v is x for x in g.get_collection("variables"))] or \
            list(variables.values())
        return Saver(var_list=var_list)
    var_list = {}
    for key, tname in saver_def["var_names"].items():
        name = prefix + tname
        v = variables.get(name)
        var_list[key] = v if v is not None else _variable_from_ops(g, name)
    return Saver(var_list=var_list, max_to_keep=saver_def.get("max_to_keep", 5),
                 name=saver_def.get("name"))


def _variable_from_ops(g: Graph, tensor_name: str):
    """A Variable for an imported variable that no collection listed (TF1's op naming)."""
    from flowgrad.ops.variables import Variable  # noqa: PLC0415
    var = g.get_tensor_by_name(tensor_name)
    op_name = var.op.name
    init = g.get_operation_by_name(op_name + "/Assign")
    return Variable.from_variable_def({
        "variable_name": var.name, "initializer_name": init.name,
        "snapshot_name": op_name + "/read:0", "initial_value_name": init.inputs[1].name,
        "trainable": False}, graph=g)


def _register_with_saver() -> None:
    from flowgrad.train import saver as _saver  # noqa: PLC0415
    if _write_for_saver not in _saver.META_GRAPH_WRITERS:
        _saver.META_GRAPH_WRITERS.append(_write_for_saver)


_register_with_saver()
