"""``tf.GraphDef``, ``tf.import_graph_def`` and ``tf.train.write_graph``.

A :class:`GraphDef` is a graph's ops without its Python-side state (collections, Variable
objects, the saver): the ``ops`` list of flowgrad's meta-graph format (``docs/metagraph.md``),
each op with its type, name, inputs, control inputs, attributes and device, plus the arrays
that constants hold.  ``Graph.as_graph_def()`` makes one; ``import_graph_def`` rebuilds its
ops into another graph through the op registry, so shape rules run again.

On disk a GraphDef is written in one of two forms, both read back by
``GraphDef.ParseFromString``:

* binary (``SerializeToString``): an ``.npz`` archive holding ``graph_def.json`` and one
  ``.npy`` entry per array, as meta-graph files are;
* text (``write_graph(..., as_text=True)``): one JSON document with the arrays inlined as
  lists, meant to be read by people (and diffed).

Attribute values the format cannot express (the Python function of a ``py_func``, a
``Dataset``) are kept as live objects in memory, so such a graph can still be imported in
the same process; serializing it raises ``TypeError`` naming the op and the attribute.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any, Callable

import numpy as np

from flowgrad.framework.graph import Graph, Operation, Tensor, get_default_graph
from flowgrad.framework.registry import get_opdef, make_op
from flowgrad.train import meta_graph as _mg

FORMAT = "flowgrad.graph_def"
VERSION = 1
_JSON = "graph_def.json"


# ----- walking encoded attribute values ------------------------------------------------------
_OPAQUE_TAGS = {"float", "dtype", "shape", "array", "bytes", "ellipsis", "object_ref", "opaque"}


def walk(value: Any, visit: Callable[[str, Any], Any]) -> Any:
    """``value`` (an encoded attribute) with every ``{"tensor"|"op"|"op_index"|"array": x}``
    replaced by ``visit(tag, x)`` (a new tagged value); everything else is rebuilt as is."""
    if isinstance(value, list):
        return [walk(v, visit) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        return value                           # plain values and the "strings" form
    (tag, x), = value.items()
    if tag in ("tensor", "op", "op_index", "array"):
        return visit(tag, x)
    if tag == "object":
        return {"object": {**x, "fields": {k: walk(v, visit) for k, v in x["fields"].items()}}}
    if tag in _OPAQUE_TAGS:
        return value
    return {tag: walk(x, visit)}               # tuple, dict, slice, scalar


def references(entry: dict) -> tuple[list[str], list[str]]:
    """The tensors and ops an op entry names in its attributes (control-flow specs)."""
    tensors, ops = [], []

    def visit(tag, x):
        if tag == "tensor":
            tensors.append(x)
        elif tag == "op":
            ops.append(x)
        return {tag: x}
    for v in entry["attrs"].values():
        walk(v, visit)
    return tensors, ops


class _Encoder(_mg._Encoder):
    """The meta-graph encoder, keeping values it cannot express as in-memory objects."""

    def __init__(self) -> None:
        super().__init__(None)
        self.opaque: dict[int, tuple[Any, str]] = {}

    def encode(self, v: Any, where: str):
        try:
            return super().encode(v, where)
        except TypeError:
            key = len(self.opaque)
            self.opaque[key] = (v, where)
            return {"opaque": key}


class _Decoder(_mg._Decoder):
    def __init__(self, arrays, opaque, tensor=None, op=None, op_offset: int = 0) -> None:
        super().__init__(arrays, tensor, op, op_offset)
        self.opaque = opaque

    def __call__(self, v: Any):
        if isinstance(v, dict) and len(v) == 1 and "opaque" in v:
            return self.opaque[v["opaque"]][0]
        return super().__call__(v)


# ----- GraphDef / NodeDef --------------------------------------------------------------------
def _tf_input_name(tensor_name: str) -> str:
    op_name, _, idx = tensor_name.rpartition(":")
    return op_name if idx == "0" else tensor_name


class NodeDef:
    """A view of one op of a :class:`GraphDef` (TF's ``NodeDef`` fields); only ``device``
    can be changed through it."""

    def __init__(self, entry: dict, graph_def: "GraphDef") -> None:
        self._entry, self._gd = entry, graph_def

    @property
    def name(self) -> str:
        return self._entry["name"]

    @property
    def op(self) -> str:
        return self._entry["type"]

    @property
    def device(self) -> str:
        return self._entry.get("device", "")

    @device.setter
    def device(self, value: str) -> None:
        """``node.device = ""`` clears a placement before import, as with TF's NodeDef."""
        if value:
            self._entry["device"] = value
        else:
            self._entry.pop("device", None)

    @property
    def input(self) -> list[str]:
        """Inputs as TF writes them: ``"x"`` (output 0), ``"x:1"``, ``"^x"`` (control)."""
        return [_tf_input_name(n) for n in self._entry["inputs"]] + \
            ["^" + c for c in self._entry["control_inputs"]]

    @property
    def attr(self) -> dict:
        """Attribute values (arrays, dtypes, shapes; tensors and ops as their names)."""
        dec = _Decoder(self._gd._arrays, self._gd._opaque, tensor=str, op=str)
        return {k: dec(v) for k, v in self._entry["attrs"].items()}

    def __repr__(self) -> str:
        return f"<NodeDef {self.name!r} op={self.op!r} input={self.input}>"


class GraphDef:
    """A graph's ops, in creation order (flowgrad's counterpart of TF's ``GraphDef``)."""

    def __init__(self, ops: list[dict] | None = None, arrays: dict | None = None,
                 opaque: dict | None = None, graph_seed: int | None = None) -> None:
        self._ops: list[dict] = list(ops or [])
        self._arrays: dict[str, np.ndarray] = dict(arrays or {})
        self._opaque: dict[int, tuple[Any, str]] = dict(opaque or {})
        self._seed = graph_seed

    @classmethod
    def from_graph(cls, graph: Graph) -> "GraphDef":
        _mg._register_control_flow()
        enc = _Encoder()
        ops = []
        for op_ in graph.get_operations():
            where = f"attr of op '{op_.name}' ({op_.type})"
            entry = {"name": op_.name, "type": op_.type,
                     "inputs": [t.name for t in op_.inputs],
                     "control_inputs": [c.name for c in op_.control_inputs],
                     "attrs": {k: enc.encode(v, f"{where} '{k}'") for k, v in op_.attrs.items()},
                     "outputs": [[enc.encode(t.shape, where), t.dtype.name]
                                 for t in op_.outputs]}
            if op_.device:
                entry["device"] = op_.device
            if op_._grad_override:
                entry["gradient_override"] = op_._grad_override
            ops.append(entry)
        return cls(ops, enc.arrays, enc.opaque, graph.seed)

    # --- protobuf-style API --------------------------------------------------------------
    @property
    def node(self) -> list[NodeDef]:
        return [NodeDef(e, self) for e in self._ops]

    @property
    def versions(self) -> dict:
        return {"producer": VERSION}

    def _document(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "graph_seed": self._seed,
                "ops": self._ops}

    def _used_arrays(self) -> dict[str, np.ndarray]:
        used: dict[str, np.ndarray] = {}

        def visit(tag, x):
            if tag == "array":
                used[x] = self._arrays[x]
            return {tag: x}
        for e in self._ops:
            for v in e["attrs"].values():
                walk(v, visit)
        return used

    def _check_serializable(self) -> None:
        if self._opaque:
            value, where = next(iter(self._opaque.values()))
            raise TypeError(f"cannot serialize {where}: its value {value!r} (a "
                            f"{type(value).__name__}) has no GraphDef encoding; such a graph "
                            "can be imported in this process but not written to a file.")

    def SerializeToString(self) -> bytes:  # noqa: N802 - protobuf's name
        self._check_serializable()
        buf = io.BytesIO()
        entries = dict(self._used_arrays())
        entries[_JSON] = np.frombuffer(json.dumps(self._document()).encode("utf-8"),
                                       dtype=np.uint8)
        np.savez(buf, **entries)
        return buf.getvalue()

    def to_text(self) -> str:
        """The readable form: one JSON document with the arrays inlined."""
        self._check_serializable()
        doc = self._document()
        doc["arrays"] = {k: array_to_json(a) for k, a in self._used_arrays().items()}
        return readable_json(doc)

    def ParseFromString(self, data: bytes | str) -> None:  # noqa: N802
        """Reads either form (binary archive or text) into this GraphDef."""
        if isinstance(data, bytes) and data[:2] == b"PK":
            try:
                with np.load(io.BytesIO(data), allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
                raise ValueError(f"not a flowgrad GraphDef (damaged or truncated): "
                                 f"{type(e).__name__}: {e}") from None
            if _JSON not in arrays:
                raise ValueError(f"not a flowgrad GraphDef: no {_JSON} entry")
            doc = json.loads(arrays.pop(_JSON).tobytes().decode("utf-8"))
        else:
            try:
                text = data.decode("utf-8") if isinstance(data, bytes) else data
                doc = json.loads(text)
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"not a flowgrad GraphDef (neither the binary nor the text "
                                 f"form): {e}") from None
            arrays = {k: array_from_json(v) for k, v in doc.pop("arrays", {}).items()}
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("not a flowgrad GraphDef (format "
                             f"{doc.get('format') if isinstance(doc, dict) else None!r})")
        if doc.get("version", 0) > VERSION:
            raise ValueError(f"GraphDef version {doc['version']} is newer than this flowgrad "
                             f"understands ({VERSION}); upgrade flowgrad")
        self._ops, self._arrays, self._opaque = doc["ops"], arrays, {}
        self._seed = doc.get("graph_seed")

    MergeFromString = ParseFromString

    @classmethod
    def FromString(cls, data: bytes | str) -> "GraphDef":  # noqa: N802
        gd = cls()
        gd.ParseFromString(data)
        return gd

    def CopyFrom(self, other: "GraphDef") -> None:  # noqa: N802
        self._ops = json.loads(json.dumps(other._ops))
        self._arrays, self._opaque = dict(other._arrays), dict(other._opaque)
        self._seed = other._seed

    def ByteSize(self) -> int:  # noqa: N802
        return len(self.SerializeToString())

    def __repr__(self) -> str:
        return f"<GraphDef: {len(self._ops)} nodes>"


def readable_json(doc: dict) -> str:
    """JSON with one line per top-level key, per list item and per dict entry below it."""
    lines = []
    for i, (k, v) in enumerate(doc.items()):
        end = "," if i < len(doc) - 1 else ""
        if isinstance(v, list) and v:
            items = [" " * 2 + json.dumps(x) for x in v]
            lines.append(f" {json.dumps(k)}: [\n" + ",\n".join(items) + f"\n ]{end}")
        elif isinstance(v, dict) and v:
            items = [f"  {json.dumps(a)}: {json.dumps(b)}" for a, b in v.items()]
            lines.append(f" {json.dumps(k)}: {{\n" + ",\n".join(items) + f"\n }}{end}")
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v)}{end}")
    return "{\n" + "\n".join(lines) + "\n}\n"


def array_to_json(a: np.ndarray) -> dict:
    if np.iscomplexobj(a):
        return {"dtype": a.dtype.name, "shape": list(a.shape),
                "real": a.real.reshape(-1).tolist(), "imag": a.imag.reshape(-1).tolist()}
    return {"dtype": a.dtype.name, "shape": list(a.shape), "values": a.reshape(-1).tolist()}


def array_from_json(d: dict) -> np.ndarray:
    if "real" in d:
        a = np.asarray(d["real"]) + 1j * np.asarray(d["imag"])
    else:
        a = np.asarray(d["values"])
    return a.astype(np.dtype(d["dtype"])).reshape(d["shape"])


def graph_def_of(graph: Graph) -> GraphDef:
    """``Graph.as_graph_def()``."""
    return GraphDef.from_graph(graph)


# ----- rebuilding a GraphDef from a subset of its ops ---------------------------------------
def rebuild(gd: GraphDef, entries: list[dict]) -> GraphDef:
    """A GraphDef of ``entries`` (edited copies of some of ``gd``'s ops, in order): op
    positions that control-flow specs keep are renumbered, and an object written in full by
    a dropped op is written in full by the first kept op that refers to it."""
    kept_names = [e["name"] for e in entries]
    old_pos = {e["name"]: i for i, e in enumerate(gd._ops)}
    positions = sorted(old_pos[n] for n in kept_names if n in old_pos)
    full: dict[int, dict] = {}

    def collect(v):
        if isinstance(v, list):
            for x in v:
                collect(x)
        elif isinstance(v, dict):
            if len(v) == 1 and "object" in v:
                full.setdefault(v["object"]["id"], v)
            for x in v.values():
                collect(x)
    for e in gd._ops:
        collect(e["attrs"])
    defined: set[int] = set()

    def fix(v):
        if isinstance(v, list):
            return [fix(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1 and "op_index" in v:
            return {"op_index": int(np.searchsorted(positions, v["op_index"]))}
        if len(v) == 1 and "object_ref" in v and v["object_ref"] not in defined:
            v = full[v["object_ref"]]
        if len(v) == 1 and "object" in v:
            defined.add(v["object"]["id"])
            return {"object": {**v["object"],
                               "fields": {k: fix(x) for k, x in v["object"]["fields"].items()}}}
        return {k: fix(x) for k, x in v.items()}
    out = []
    for e in entries:
        e = dict(e)
        e["attrs"] = {k: fix(v) for k, v in e["attrs"].items()}
        out.append(e)
    return GraphDef(out, gd._arrays, gd._opaque, gd._seed)


# ----- import_graph_def ------------------------------------------------------------------------
def _tensor_key(name: str) -> str:
    if name.startswith("^"):
        return name
    return name if ":" in name else name + ":0"


def import_graph_def(graph_def, input_map=None, return_elements=None, name=None, op_dict=None,
                     producer_op_list=None):
    """``tf.import_graph_def``: adds the ops of ``graph_def`` to the default graph.

    Imported ops are named ``<name>/<original name>`` (``name`` defaults to ``"import"``
    and is made unique like a name scope; ``name=""`` keeps the names as they are).
    ``input_map`` maps names in ``graph_def`` (``"x:0"``, ``"x"`` for output 0, ``"^x"`` for
    a control input) to tensors (operations) of the default graph that replace them.
    ``return_elements`` lists names in ``graph_def`` to return: ``"op"`` gives the
    Operation, ``"op:0"`` the Tensor.  Returns that list, or ``None``.

        tf.import_graph_def(frozen, input_map={"x:0": images}, name="net")
        logits, = tf.import_graph_def(frozen, return_elements=["logits:0"])
    """
    if not isinstance(graph_def, GraphDef):
        raise TypeError(f"import_graph_def: graph_def must be a GraphDef (from "
                        f"Graph.as_graph_def() or GraphDef.FromString), got {graph_def!r}")
    input_map = dict(input_map or {})
    for k, v in input_map.items():
        if not isinstance(k, str):
            raise TypeError(f"import_graph_def: input_map keys must be strings, got {k!r}")
        if k.startswith("^"):
            if not isinstance(v, Operation):
                raise TypeError(f"import_graph_def: input_map['{k}'] maps a control input "
                                f"and must be an Operation, got {v!r}")
        elif not isinstance(v, Tensor) and not hasattr(v, "_as_graph_element"):
            raise TypeError(f"import_graph_def: input_map values must be Tensors, got "
                            f"{v!r} for '{k}'")
    input_map = {_tensor_key(k): v for k, v in input_map.items()}
    by_name = {e["name"]: e for e in graph_def._ops}
    missing = []
    for k in input_map:
        op_name, _, idx = (k[1:], "", "") if k.startswith("^") else k.rpartition(":")
        e = by_name.get(op_name)
        if e is None or (idx and int(idx) >= len(e["outputs"])):
            missing.append(k)
    if missing:
        raise ValueError(f"Attempted to map inputs that were not found in graph_def: {missing}")
    if return_elements is not None:
        if isinstance(return_elements, str):
            raise TypeError("import_graph_def: return_elements must be a list of names, "
                            f"got the string {return_elements!r}")
        for r in return_elements:
            op_name, _, idx = r.rpartition(":") if ":" in r else (r, "", "")
            e = by_name.get(op_name)
            if e is None or (idx and int(idx) >= len(e["outputs"])):
                raise ValueError(f"Requested return_element {r!r} not found in graph_def.")

    g = get_default_graph()
    from flowgrad.framework.registry import convert_to_tensor  # noqa: PLC0415
    mapped = {k: (v if k.startswith("^") else convert_to_tensor(v)) for k, v in input_map.items()}
    shape_decoder = _Decoder(graph_def._arrays, graph_def._opaque)
    for k, v in mapped.items():
        if not k.startswith("^"):
            op_name, _, idx = k.rpartition(":")
            shape, want = by_name[op_name]["outputs"][int(idx)]
            if v.dtype.name != want:
                raise ValueError(f"import_graph_def: input_map['{k}'] is {v.name} of dtype "
                                 f"{v.dtype.name}, but '{k}' in graph_def has dtype {want}")
            if not v.shape.is_compatible_with(shape_decoder(shape)):
                raise ValueError(f"import_graph_def: input_map['{k}'] is {v.name} of shape "
                                 f"{v.shape}, incompatible with the shape "
                                 f"{shape_decoder(shape)} of '{k}' in graph_def")
    built: dict[str, Operation] = {}

    def tensor(n: str) -> Tensor:
        if n in mapped:
            return mapped[n]
        op_name, _, idx = n.rpartition(":")
        return built[op_name].outputs[int(idx)]

    def operation(n: str) -> Operation:
        return mapped.get("^" + n) or built[n]

    _mg._register_control_flow()
    decode = _Decoder(graph_def._arrays, graph_def._opaque, tensor, operation,
                      op_offset=len(g.get_operations()))
    scope_name = "import" if name is None else name
    with g.as_default(), g.control_dependencies(None), g.name_scope(scope_name) as prefix:
        clash = [prefix + e["name"] for e in graph_def._ops
                 if prefix + e["name"] in g._ops_by_name]
        if clash:                      # checked first, so that a failed import adds nothing
            raise ValueError(f"import_graph_def: the graph already has an op named "
                             f"'{clash[0]}'; import with a name (a scope prefix) or into a "
                             "fresh graph")
        for e in graph_def._ops:
            full = prefix + e["name"]
            try:
                d = get_opdef(e["type"])
            except (KeyError, ValueError) as err:
                raise ValueError(f"import_graph_def: op '{e['name']}' has type "
                                 f"'{e['type']}', which this flowgrad does not know: "
                                 f"{err}") from None
            attrs = {k: decode(v) for k, v in e["attrs"].items()}
            inputs = [tensor(n) for n in e["inputs"]]
            ctrl = [operation(c) for c in e["control_inputs"]]
            make_op(d, inputs, attrs, full + "/", graph=g, control_inputs=ctrl)
            op_ = g.get_operation_by_name(full)
            for t, (shape, _) in zip(op_.outputs, e["outputs"]):
                saved = decode(shape)
                if t.shape.is_compatible_with(saved):
                    t.set_shape(saved)
            if e.get("device"):
                op_.device = e["device"]
            if e.get("gradient_override"):
                op_._grad_override = e["gradient_override"]
            _mg._mark_scopes_used(g, full)
            built[e["name"]] = op_
    if return_elements is None:
        return None
    out = []
    for r in return_elements:
        if ":" in r:
            op_name, _, idx = r.rpartition(":")
            out.append(built[op_name].outputs[int(idx)])
        else:
            out.append(built[r])
    return out


def to_graph(graph_def: GraphDef) -> Graph:
    """A new Graph holding the ops of ``graph_def`` under their own names."""
    g = Graph()
    with g.as_default():
        import_graph_def(graph_def, name="")
    return g


# ----- write_graph ------------------------------------------------------------------------------
def write_graph(graph_or_graph_def, logdir, name, as_text: bool = True) -> str:
    """``tf.train.write_graph``: writes a graph (or GraphDef) to ``logdir/name``; returns the
    path.  ``as_text`` writes the readable JSON form, otherwise the binary archive; both are
    read back with ``tf.GraphDef.FromString(open(path, "rb").read())``."""
    if isinstance(graph_or_graph_def, Graph):
        gd = graph_or_graph_def.as_graph_def()
    elif isinstance(graph_or_graph_def, GraphDef):
        gd = graph_or_graph_def
    else:
        raise TypeError(f"write_graph expects a tf.Graph or a GraphDef, got "
                        f"{graph_or_graph_def!r}")
    data = gd.to_text().encode("utf-8") if as_text else gd.SerializeToString()
    logdir = os.fspath(logdir)
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, os.fspath(name))
    atomic_write(path, data)
    return path


def atomic_write(path: str, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path`` and renames it into place."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_graph_def(path) -> GraphDef:
    """Reads a file written by ``write_graph`` (either form)."""
    with open(os.fspath(path), "rb") as f:
        return GraphDef.FromString(f.read())
