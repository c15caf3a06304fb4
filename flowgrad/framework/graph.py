"""Graph, Operation and Tensor: the dataflow graph a program is described as.

A :class:`Graph` owns its operations in creation order (which is a topological order),
hands out unique names (``MatMul``, ``MatMul_1``, ``scope/MatMul``), and keeps the
name-scope, control-dependency and device stacks that new operations read.  Nothing here
computes numbers: kernels live with the ops, execution in :mod:`flowgrad.runtime`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
from typing import Iterator

from flowgrad.framework import dtypes as _dtypes
from flowgrad.framework.shapes import TensorShape, as_shape


class GraphKeys:
    """Standard collection names (``tf.GraphKeys``)."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    REGULARIZATION_LOSSES = "regularization_losses"
    SAVERS = "savers"
    GLOBAL_STEP = "global_step"
    TRAIN_OP = "train_op"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    SUMMARY_OP = "summary_op"
    ACTIVATIONS = "activations"
    WEIGHTS = "weights"
    BIASES = "biases"
    CONCATENATED_VARIABLES = "concatenated_variables"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"
    VARIABLES = GLOBAL_VARIABLES


_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_frame() -> tuple[str, int, str] | None:
    """The innermost stack frame outside flowgrad: where the user built an op."""
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_PKG_DIR) or "/tests/" in fn:
            return (fn, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return None


class Tensor:
    """One output of an :class:`Operation`; a symbolic handle to a value computed by a run."""

    __slots__ = ("op", "value_index", "dtype", "_shape", "_consumers", "__weakref__")
    # numpy defers binary operators to us: np_array + tensor -> Tensor.__radd__
    __array_ufunc__ = None

    def __init__(self, op: "Operation", value_index: int, dtype, shape) -> None:
        self.op = op
        self.value_index = value_index
        self.dtype = _dtypes.as_dtype(dtype)
        self._shape = as_shape(shape)
        self._consumers: list[Operation] = []

    @property
    def name(self) -> str:
        return f"{self.op.name}:{self.value_index}"

    @property
    def graph(self) -> "Graph":
        return self.op.graph

    @property
    def device(self) -> str:
        return self.op.device

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape) -> None:
        """Refines the static shape; raises ``ValueError`` if it contradicts what is known."""
        try:
            self._shape = self._shape.merge_with(as_shape(shape))
        except ValueError:
            raise ValueError(f"Tensor '{self.name}': cannot set shape {as_shape(shape)}; "
                             f"its shape is already known to be {self._shape}.") from None

    def consumers(self) -> list["Operation"]:
        return list(self._consumers)

    def eval(self, feed_dict=None, session=None):
        """Runs the graph up to this tensor in ``session`` (default: the default session)."""
        from flowgrad.runtime.session import _resolve_session
        return _resolve_session(session, self.graph).run(self, feed_dict)

    def _as_graph_element(self) -> "Tensor":
        return self

    # Tensors are graph nodes: identity equality keeps them usable as dict keys, as in TF1.
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        raise TypeError("Using a flowgrad Tensor as a Python bool is not allowed: its value "
                        "exists only when a Session runs it. Use tf.cond for graph-level "
                        "branching, or `if t is not None:` to test existence.")

    def __iter__(self):
        raise TypeError(f"Tensor '{self.name}' is not iterable while the graph is being built; "
                        "use tf.unstack or index it with t[i].")

    def __len__(self):
        raise TypeError(f"len() of Tensor '{self.name}' is not defined; use tf.shape(t)[0] "
                        "or t.shape[0] for its static size.")

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self._shape} dtype={self.dtype.name}>"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"Cannot convert symbolic Tensor '{self.name}' to a numpy array: "
                        "run it in a Session to get its value.")


class Operation:
    """A node of the graph: an op type applied to input tensors with attributes."""

    __slots__ = ("graph", "type", "name", "inputs", "attrs", "outputs", "control_inputs",
                 "device", "_id", "_traceback", "_grad_override", "_opdef", "_multi",
                 "__weakref__")

    def __init__(self, graph, op_type, name, inputs, attrs, control_inputs, device, opdef):
        self.graph = graph
        self.type = op_type
        self.name = name
        self.inputs = tuple(inputs)
        self.attrs = attrs
        self.outputs: list[Tensor] = []
        self.control_inputs = list(control_inputs)
        self.device = device
        self._opdef = opdef
        self._id = 0
        self._traceback = None
        self._grad_override = None
        self._multi = False   # kernel returns a sequence of outputs

    @property
    def node_def(self) -> dict:
        return {"name": self.name, "op": self.type, "device": self.device,
                "input": [t.name for t in self.inputs]
                + ["^" + c.name for c in self.control_inputs],
                "attr": dict(self.attrs)}

    @property
    def op_def(self):
        return self._opdef

    @property
    def traceback(self):
        return self._traceback

    def values(self) -> tuple[Tensor, ...]:
        return tuple(self.outputs)

    def get_attr(self, name: str):
        if name not in self.attrs:
            raise ValueError(f"Operation '{self.name}' ({self.type}) has no attr named '{name}'.")
        return self.attrs[name]

    def run(self, feed_dict=None, session=None) -> None:
        from flowgrad.runtime.session import _resolve_session
        _resolve_session(session, self.graph).run(self, feed_dict)

    def _add_control_input(self, op: "Operation") -> None:
        if op not in self.control_inputs:
            self.control_inputs.append(op)

    def _as_graph_element(self) -> "Operation":
        return self

    def _where(self) -> str:
        if not self._traceback:
            return ""
        fn, line, func = self._traceback
        return f" (defined at {fn}:{line} in {func})"

    def __repr__(self) -> str:
        return f"<tf.Operation '{self.name}' type={self.type}>"


_VALID_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")


class Graph:
    """A dataflow graph: operations, unique names, scopes and collections."""

    def __init__(self) -> None:
        self._ops: list[Operation] = []
        self._ops_by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._control_stack: list[list[Operation]] = []
        self._device_stack: list[str] = []
        self._collections: dict[str, list] = {}
        self._finalized = False
        self._grad_override_map: dict[str, str] = {}
        self._seed: int | None = None
        self._var_store = None       # variable_scope's store, created on first use
        self._var_scope_stack = None
        self.version = 0              # incremented per op; sessions compare it

    # --- names ----------------------------------------------------------------------
    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            while True:
                candidate = f"{name}_{i}"
                if candidate.lower() not in self._names_in_use:
                    break
                i += 1
            if mark_as_used:
                self._names_in_use[candidate.lower()] = 1
            name = candidate
        return name

    def get_name_scope(self) -> str:
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """TF1 name scopes: ``"a"`` opens a fresh unique scope, ``"a/"`` re-enters one."""
        old = self._name_stack
        if name is None or name == "":
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            if not _VALID_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid scope name.")
            new = self.unique_name(name)
        self._name_stack = new
        try:
            yield (new + "/") if new else ""
        finally:
            self._name_stack = old

    # --- ops ------------------------------------------------------------------------
    def _create_op(self, op_type: str, inputs, attrs: dict, name: str | None, opdef,
                   outputs_spec, control_inputs=()) -> Operation:
        """Adds an op whose outputs have ``outputs_spec`` = [(shape, dtype), ...]."""
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        name = self.unique_name(name or op_type) if not (name and name.endswith("/")) \
            else self._exact_name(name[:-1])
        ctrl = [op for deps in self._control_stack for op in deps]
        ctrl.extend(control_inputs)
        op = Operation(self, op_type, name, inputs, attrs, _dedupe(ctrl),
                       self._device_stack[-1] if self._device_stack else "", opdef)
        op._traceback = _user_frame()
        if op_type in self._grad_override_map:
            op._grad_override = self._grad_override_map[op_type]
        op.outputs = [Tensor(op, i, dt, sh) for i, (sh, dt) in enumerate(outputs_spec)]
        for t in op.inputs:
            t._consumers.append(op)
        op._id = len(self._ops)
        self._ops.append(op)
        self._ops_by_name[name] = op
        self.version += 1
        return op

    def _exact_name(self, name: str) -> str:
        """A name ending in '/' (a scope's own name) is used as-is, as in TF."""
        if name in self._ops_by_name:
            raise ValueError(f"Duplicate node name in graph: '{name}'")
        self._names_in_use.setdefault(name.lower(), 1)
        return name

    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if name not in self._ops_by_name:
            raise KeyError(f"The name '{name}' refers to an Operation not in the graph.")
        return self._ops_by_name[name]

    def get_tensor_by_name(self, name: str) -> Tensor:
        if ":" not in name:
            raise ValueError(f"The name '{name}' looks like an (invalid) Operation name, not a "
                             "Tensor. Tensor names must be of the form "
                             "\"<op_name>:<output_index>\".")
        op_name, _, idx = name.rpartition(":")
        op = self._ops_by_name.get(op_name)
        if op is None:
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The "
                           f"operation, '{op_name}', does not exist in the graph.")
        i = int(idx)
        if i >= len(op.outputs):
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The "
                           f"operation, '{op_name}', exists but only has {len(op.outputs)} "
                           "outputs.")
        return op.outputs[i]

    def as_graph_element(self, obj, allow_tensor: bool = True, allow_operation: bool = True):
        if isinstance(obj, str):
            el = self.get_tensor_by_name(obj) if ":" in obj else self.get_operation_by_name(obj)
        elif hasattr(obj, "_as_graph_element"):
            el = obj._as_graph_element()
        else:
            raise TypeError(f"Can not convert a {type(obj).__name__} into a Tensor or Operation.")
        if isinstance(el, Tensor) and not allow_tensor:
            raise ValueError(f"Can not convert a Tensor into an Operation: {el.name}")
        if isinstance(el, Operation) and not allow_operation:
            raise ValueError(f"Can not convert an Operation into a Tensor: {el.name}")
        if el.graph is not self:
            raise ValueError(f"{el!r} is not an element of this graph.")
        return el

    @property
    def operations(self) -> list[Operation]:
        return list(self._ops)

    # --- contexts -------------------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self) -> Iterator["Graph"]:
        token = _graph_stack.set(_graph_stack.get() + (self,))
        try:
            yield self
        finally:
            _graph_stack.reset(token)

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs) -> Iterator[None]:
        """Ops created inside run after ``control_inputs`` (``None`` clears the stack)."""
        if control_inputs is None:
            saved, self._control_stack = self._control_stack, []
            try:
                yield
            finally:
                self._control_stack = saved
            return
        ops = []
        for c in control_inputs:
            if hasattr(c, "_as_graph_element") and not isinstance(c, Tensor | Operation):
                c = c._as_graph_element()
            if isinstance(c, Tensor):
                c = c.op
            if not isinstance(c, Operation):
                raise TypeError(f"Control input must be an Operation or a Tensor: {c!r}")
            ops.append(c)
        self._control_stack.append(ops)
        try:
            yield
        finally:
            self._control_stack.pop()

    @contextlib.contextmanager
    def device(self, device_name) -> Iterator[None]:
        self._device_stack.append(_canonical_device(device_name))
        try:
            yield
        finally:
            self._device_stack.pop()

    @contextlib.contextmanager
    def colocate_with(self, op, ignore_existing: bool = False) -> Iterator[None]:
        yield

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map: dict[str, str]) -> Iterator[None]:
        saved = dict(self._grad_override_map)
        self._grad_override_map.update(op_type_map)
        try:
            yield
        finally:
            self._grad_override_map = saved

    # --- collections ----------------------------------------------------------------
    def add_to_collection(self, name: str, value) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value) -> None:
        names = (names,) if isinstance(names, str) else set(names)
        for n in names:
            self.add_to_collection(n, value)

    def get_collection(self, name: str, scope: str | None = None) -> list:
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        pat = re.compile(scope)
        return [i for i in items if hasattr(i, "name") and pat.match(i.name)]

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def get_all_collection_keys(self) -> list[str]:
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    # --- misc -----------------------------------------------------------------------
    def finalize(self) -> None:
        self._finalized = True

    @property
    def finalized(self) -> bool:
        return self._finalized

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    @property
    def seed(self) -> int | None:
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        self._seed = value

    @property
    def graph_def_versions(self):
        return {"producer": 1}

    def as_graph_def(self, from_version=None, add_shapes: bool = False):
        """The graph's ops as a ``GraphDef`` (output shapes are always included)."""
        from flowgrad.train.graph_def import graph_def_of  # noqa: PLC0415
        return graph_def_of(self)

    def is_feedable(self, tensor: Tensor) -> bool:
        return True

    def is_fetchable(self, tensor_or_op) -> bool:
        return True


def _dedupe(ops: list) -> list:
    seen, out = set(), []
    for o in ops:
        if id(o) not in seen:
            seen.add(id(o))
            out.append(o)
    return out


def _canonical_device(spec) -> str:
    if spec is None:
        return ""
    if callable(spec):
        raise TypeError("Device functions are not supported; pass a device string like '/cpu:0'.")
    s = str(spec).strip()
    m = re.search(r"(?:device:)?(cpu|gpu)(?::(\d+))?", s, re.IGNORECASE)
    if not m:
        return s
    kind = m.group(1).upper()
    return f"/device:{kind}:{m.group(2) or 0}"


# --- the default graph --------------------------------------------------------------
# Graphs entered with `as_default()` form a per-context stack; beneath it lies one global
# default graph that `reset_default_graph()` replaces.
_graph_stack: contextvars.ContextVar[tuple] = contextvars.ContextVar("flowgrad_graph_stack",
                                                                     default=())
_global_default: list[Graph] = [Graph()]


def get_default_graph() -> Graph:
    stack = _graph_stack.get()
    return stack[-1] if stack else _global_default[0]


def reset_default_graph() -> None:
    if _graph_stack.get():
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If "
                             "you need a cleared graph, exit the nesting and create a new graph.")
    _global_default[0] = Graph()


def name_scope(name: str | None, default_name: str | None = None, values=None):
    """``tf.name_scope(name, default_name=None, values=None)`` on the default graph."""
    g = _graph_of(values) if values else get_default_graph()
    if name is None and default_name is not None:
        name = default_name
    return g.name_scope(name)


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def device(device_name):
    return get_default_graph().device(device_name)


def _graph_of(values) -> Graph:
    for v in values:
        el = v
        if hasattr(v, "_as_graph_element") and not isinstance(v, Tensor | Operation):
            el = v._as_graph_element()
        if isinstance(el, Tensor | Operation):
            return el.graph
    return get_default_graph()


def add_to_collection(name, value) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(key, scope=None) -> list:
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key) -> list:
    return get_default_graph().get_collection_ref(key)


def set_random_seed(seed: int | None) -> None:
    get_default_graph().seed = seed


def get_seed(op_seed: int | None) -> tuple[int | None, int | None]:
    """TF1's rule: graph seed + op seed -> (graph_seed, op_seed) for a random op."""
    g = get_default_graph()
    gs = g.seed
    if gs is not None:
        if op_seed is None:
            op_seed = len(g._ops)
        return gs, op_seed
    if op_seed is not None:
        return 87654321, op_seed  # TF's DEFAULT_GRAPH_SEED
    return None, None

