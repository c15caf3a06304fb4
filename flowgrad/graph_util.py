"""``tf.graph_util``: freezing graphs and cutting GraphDefs down to what outputs need.

    frozen = tf.graph_util.convert_variables_to_constants(
        sess, sess.graph.as_graph_def(), ["logits"])
    tf.train.write_graph(frozen, "export", "frozen.fgdef", as_text=False)

These functions work on :class:`flowgrad.train.graph_def.GraphDef` objects and return new
ones; the graphs they came from are not changed.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.train.graph_def import GraphDef, import_graph_def, references, rebuild

__all__ = ["convert_variables_to_constants", "extract_sub_graph", "import_graph_def",
           "must_run_on_cpu", "remove_training_nodes", "tensor_shape_from_node_def_name"]

_VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")


def _node_name(name: str) -> str:
    """``"^x"``, ``"x:1"`` -> ``"x"``."""
    return name[1:].split(":")[0] if name.startswith("^") else name.split(":")[0]


def _check_graph_def(graph_def, fn: str) -> None:
    if not isinstance(graph_def, GraphDef):
        raise TypeError(f"{fn}: graph_def must be a GraphDef (Graph.as_graph_def()), got "
                        f"{graph_def!r}")


def _dependencies(entry: dict) -> list[str]:
    tensors, ops = references(entry)
    return [_node_name(n) for n in entry["inputs"] + tensors] + \
        list(entry["control_inputs"]) + ops


def extract_sub_graph(graph_def, dest_nodes) -> GraphDef:
    """The ops of ``graph_def`` that the ops named in ``dest_nodes`` need (their inputs and
    control inputs, transitively), in their original order."""
    _check_graph_def(graph_def, "extract_sub_graph")
    if isinstance(dest_nodes, str):
        raise TypeError("extract_sub_graph: dest_nodes must be a list of node names, got "
                        f"the string {dest_nodes!r}")
    by_name = {e["name"]: e for e in graph_def._ops}
    wanted = [_node_name(d) for d in dest_nodes]
    for d in wanted:
        if d not in by_name:
            raise AssertionError(f"{d} is not in graph")
    keep: set[str] = set()
    todo = list(wanted)
    while todo:
        n = todo.pop()
        if n in keep:
            continue
        keep.add(n)
        todo.extend(d for d in _dependencies(by_name[n]) if d not in keep)
    return rebuild(graph_def, [e for e in graph_def._ops if e["name"] in keep])


def convert_variables_to_constants(sess, input_graph_def, output_node_names,
                                   variable_names_whitelist=None,
                                   variable_names_blacklist=None) -> GraphDef:
    """Freezes a graph: the variables that ``output_node_names`` need become ``Const`` ops
    (same names) holding their current values in ``sess``; only the ops the outputs need
    are kept.  ``variable_names_whitelist`` / ``_blacklist`` (variable op names) choose
    which variables are converted."""
    _check_graph_def(input_graph_def, "convert_variables_to_constants")
    inference = extract_sub_graph(input_graph_def, output_node_names)
    whitelist = None if variable_names_whitelist is None else \
        {_node_name(n) for n in variable_names_whitelist}
    blacklist = {_node_name(n) for n in (variable_names_blacklist or ())}
    names = [e["name"] for e in inference._ops
             if e["type"] in _VARIABLE_OPS
             and (whitelist is None or e["name"] in whitelist) and e["name"] not in blacklist]
    values = sess.run([n + ":0" for n in names]) if names else []
    found = dict(zip(names, values))
    arrays = dict(inference._arrays)
    out = []
    for e in inference._ops:
        if e["name"] not in found:
            out.append(e)
            continue
        value = np.asarray(found[e["name"]])
        key = f"frozen{len(arrays)}"
        while key in arrays:
            key += "_"
        arrays[key] = np.array(value, copy=True)
        dtype = e["outputs"][0][1]
        const = {"name": e["name"], "type": "Const", "inputs": [], "control_inputs": [],
                 "attrs": {"value": {"array": key}, "dtype": {"dtype": dtype}},
                 "outputs": [[{"shape": list(value.shape)}, dtype]]}
        if e.get("device"):
            const["device"] = e["device"]
        out.append(const)
    from flowgrad.platform import tf_logging  # noqa: PLC0415
    tf_logging.info("Froze %d variables.", len(found))
    tf_logging.info("Converted %d variables to const ops.", len(found))
    result = rebuild(inference, out)
    result._arrays = arrays
    return result


def remove_training_nodes(input_graph, protected_nodes=None) -> GraphDef:
    """Splices out ``Identity`` and ``CheckNumerics`` ops (their consumers read the op's
    input directly), except protected ones, ones with control inputs and ones used as
    control inputs, as TF1 does; returns the new GraphDef."""
    _check_graph_def(input_graph, "remove_training_nodes")
    protected = {_node_name(n) for n in (protected_nodes or ())}
    controlled = {e["name"] for e in input_graph._ops if e["control_inputs"]}
    control_sources = {c for e in input_graph._ops for c in e["control_inputs"]}
    referenced = set()
    for e in input_graph._ops:       # ops that control-flow specs name stay as they are
        tensors, ops = references(e)
        referenced.update(_node_name(t) for t in tensors)
        referenced.update(ops)
    splice = {e["name"]: e["inputs"][0] for e in input_graph._ops
              if e["type"] in ("Identity", "CheckNumerics") and e["inputs"]
              and e["name"] not in protected and e["name"] not in controlled
              and e["name"] not in control_sources and e["name"] not in referenced}

    def resolve(tensor_name: str) -> str:
        while tensor_name.split(":")[0] in splice and tensor_name.endswith(":0"):
            tensor_name = splice[tensor_name.split(":")[0]]
        return tensor_name
    out = []
    for e in input_graph._ops:
        if e["name"] in splice:
            continue
        e = dict(e)
        e["inputs"] = [resolve(n) for n in e["inputs"]]
        out.append(e)
    return rebuild(input_graph, out)


def tensor_shape_from_node_def_name(graph, input_name: str):
    """The static shape of tensor ``input_name`` (``"x"`` means ``"x:0"``) in ``graph``."""
    if ":" not in input_name:
        input_name += ":0"
    return graph.get_tensor_by_name(input_name).shape



def must_run_on_cpu(node, pin_variables_on_cpu: bool = False) -> bool:
    """Whether TF1 pins ``node`` (an Operation or NodeDef) to the CPU: string and int32
    constants, and variables when ``pin_variables_on_cpu``."""
    op_type = node.type if hasattr(node, "type") else node.op
    if pin_variables_on_cpu and op_type in _VARIABLE_OPS:
        return True
    if op_type == "Const":
        attrs = node.attrs if hasattr(node, "attrs") else node.attr
        return _dt.as_dtype(attrs["dtype"]) in (_dt.string, _dt.int32)
    return False
