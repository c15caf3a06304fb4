"""``tf.Variable``, ``tf.get_variable`` and ``tf.variable_scope`` with TF1's names and reuse.

A variable is four nodes, named as in TF1: ``v`` (VariableV2: the session's value),
``v/initial_value`` (for Python values), ``v/Assign`` (the initializer) and ``v/read``
(the Identity that ops consume).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import (GraphKeys, Operation, Tensor, get_default_graph,
                                      name_scope)
from flowgrad.framework.registry import convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape, as_shape
from flowgrad.ops import array_ops as A
from flowgrad.ops import init_ops as I
from flowgrad.ops import state_ops as S


class Variable:
    """A tensor whose value persists across ``Session.run`` calls (TF1 ref variable)."""

    def __init__(self, initial_value=None, trainable: bool | None = None, collections=None,
                 validate_shape: bool = True, caching_device=None, name: str | None = None,
                 variable_def=None, dtype=None, expected_shape=None, import_scope=None,
                 constraint=None, use_resource=None, synchronization=None, aggregation=None,
                 shape=None) -> None:
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        trainable = True if trainable is None else bool(trainable)
        g = get_default_graph()
        with g.control_dependencies(None), name_scope(name, "Variable") as scope:
            if callable(initial_value):
                initial_value = initial_value()
            init = initial_value
            if not isinstance(init, Tensor) and not hasattr(init, "_as_graph_element"):
                init = convert_to_tensor(init, dtype=dtype, name="initial_value")
            else:
                init = convert_to_tensor(init)
                if dtype is not None and init.dtype != _dt.as_dtype(dtype):
                    from flowgrad.ops.math_ops import cast  # noqa: PLC0415
                    init = cast(init, dtype)
            vshape = init.shape if shape is None else as_shape(shape)
            if validate_shape and not vshape.is_fully_defined():
                raise ValueError(f"initial_value must have a shape specified: {init!r}. Pass "
                                 "validate_shape=False for a variable of unknown shape.")
            self._variable = S.variable_op(shape=vshape, dtype=init.dtype, name=scope)
            self._initializer_op = S._assign(self._variable, init, validate_shape=validate_shape,
                                             name="Assign").op
            self._snapshot = A.identity(self._variable, name="read")
        self._initial_value = init
        self._trainable = trainable
        self._constraint = constraint
        self._save_slice_info = None
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        g.add_to_collections(collections, self)

    @classmethod
    def from_variable_def(cls, variable_def: dict, import_scope: str | None = None,
                          graph=None) -> "Variable":
        """A Variable over ops that already exist (rebuilt from a meta-graph): TF's
        ``variable_def`` as a dict of op/tensor names (``variable_name``,
        ``initializer_name``, ``snapshot_name``, ``initial_value_name``, ``trainable``)."""
        g = graph or get_default_graph()
        prefix = (import_scope.rstrip("/") + "/") if import_scope else ""

        def element(key):
            name = variable_def.get(key)
            if name is None:
                return None
            return g.as_graph_element(prefix + name)

        self = cls.__new__(cls)
        var = element("variable_name")
        self._variable = var if isinstance(var, Tensor) else var.outputs[0]
        self._initializer_op = element("initializer_name")
        self._snapshot = element("snapshot_name")
        init = element("initial_value_name")
        self._initial_value = init if init is not None else self._initializer_op.inputs[1]
        self._trainable = bool(variable_def.get("trainable", True))
        self._constraint = None
        self._save_slice_info = None
        return self

    def to_variable_def(self) -> dict:
        """The names that ``from_variable_def`` needs to rebuild this Variable."""
        return {"variable_name": self._variable.name,
                "initializer_name": self._initializer_op.name,
                "snapshot_name": self._snapshot.name,
                "initial_value_name": self._initial_value.name,
                "trainable": self._trainable}

    # --- identity ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self) -> Operation:
        return self._variable.op

    @property
    def dtype(self) -> _dt.DType:
        return self._variable.dtype

    @property
    def shape(self) -> TensorShape:
        return self._variable.shape

    def get_shape(self) -> TensorShape:
        return self._variable.shape

    @property
    def graph(self):
        return self._variable.graph

    @property
    def device(self) -> str:
        return self._variable.device

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def initializer(self) -> Operation:
        return self._initializer_op

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    @property
    def constraint(self):
        return self._constraint

    def value(self) -> Tensor:
        return self._snapshot

    def read_value(self) -> Tensor:
        return A.identity(self._variable, name="read")

    def initialized_value(self) -> Tensor:
        from flowgrad.ops.control_flow import cond  # noqa: PLC0415
        return cond(S.is_variable_initialized(self), self.read_value,
                    lambda: self.initial_value)

    def _as_graph_element(self) -> Tensor:
        return self._snapshot

    def _ref(self) -> Tensor:
        return self._variable

    # --- state changes ------------------------------------------------------------------
    def assign(self, value, use_locking: bool = False, name=None, read_value: bool = True):
        return S._assign(self._variable, value, name=name or "Assign")

    def assign_add(self, delta, use_locking: bool = False, name=None, read_value: bool = True):
        return S._assign_add(self._variable, delta, name=name or "AssignAdd")

    def assign_sub(self, delta, use_locking: bool = False, name=None, read_value: bool = True):
        return S._assign_sub(self._variable, delta, name=name or "AssignSub")

    def load(self, value, session=None) -> None:
        from flowgrad.runtime.session import _resolve_session  # noqa: PLC0415
        sess = _resolve_session(session, self.graph)
        sess.run(self._initializer_op, {self._initial_value: value})

    def eval(self, session=None):
        return self._snapshot.eval(session=session)

    def set_shape(self, shape) -> None:
        self._variable.set_shape(shape)
        self._snapshot.set_shape(shape)

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __bool__(self):
        return self._snapshot.__bool__()

    def __iter__(self):
        return self._snapshot.__iter__()


def _forward(name: str):
    def method(self, *args):
        return getattr(self._snapshot, name)(*args)
    method.__name__ = name
    return method


for _m in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
    setattr(Variable, f"__{_m}__", _forward(f"__{_m}__"))
    setattr(Variable, f"__r{_m}__", _forward(f"__r{_m}__"))
for _m in ("__neg__", "__abs__", "__invert__", "__lt__", "__le__", "__gt__", "__ge__",
           "__and__", "__or__", "__xor__", "__getitem__", "__rand__", "__ror__"):
    setattr(Variable, _m, _forward(_m))
Variable.__array_ufunc__ = None

RefVariable = Variable


# ----- Collections helpers -------------------------------------------------------------
def global_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


all_variables = global_variables


def variables_initializer(var_list, name: str = "init") -> Operation:
    """An op that runs the initializers of ``var_list``."""
    if not var_list:
        return S.no_op(name=name)
    return S.group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer() -> Operation:
    return variables_initializer(global_variables())


def local_variables_initializer() -> Operation:
    return variables_initializer(local_variables(), name="init")    # "init_1" after the global one


initialize_all_variables = global_variables_initializer
initialize_variables = variables_initializer
initialize_local_variables = local_variables_initializer


def report_uninitialized_variables(var_list=None, name: str = "report_uninitialized_variables"):
    """A string tensor with the names of the variables not yet initialized in the session."""
    if var_list is None:
        var_list = global_variables() + local_variables()
    with name_scope(name):
        if not var_list:
            return convert_to_tensor(np.array([], dtype=object), dtype=_dt.string)
        inits = A.stack([S.is_variable_initialized(v) for v in var_list])
        return _names_where_false(inits, names=tuple(v.op.name for v in var_list))


@op("ReportUninitialized", shape=lambda n: (TensorShape([None]), _dt.string))
def _names_where_false(xp, flags, *, names):
    return _dt.string_array([n for n, f in zip(names, flags) if not f])


def assert_variables_initialized(var_list=None):
    if var_list is None:
        var_list = global_variables() + local_variables()
    from flowgrad.ops.reduce_ops import reduce_all  # noqa: PLC0415
    return reduce_all(A.stack([S.is_variable_initialized(v) for v in var_list]))


# ----- variable_scope / get_variable ----------------------------------------------------
class _ReuseAuto:
    def __repr__(self) -> str:
        return "AUTO_REUSE"


AUTO_REUSE = _ReuseAuto()


class VariableScope:
    """The state of one ``variable_scope``: its name, reuse flag and defaults."""

    def __init__(self, reuse, name: str = "", initializer=None, regularizer=None,
                 caching_device=None, partitioner=None, custom_getter=None, name_scope="",
                 dtype=_dt.float32, use_resource=None, constraint=None) -> None:
        self._name, self._reuse = name, reuse
        self.initializer, self.regularizer = initializer, regularizer
        self.custom_getter = custom_getter
        self.original_name_scope = name_scope
        self.dtype = _dt.as_dtype(dtype)
        self.constraint = constraint
        self.partitioner = partitioner
        self.caching_device = caching_device
        self.use_resource = use_resource

    @property
    def name(self) -> str:
        return self._name

    @property
    def reuse(self):
        return self._reuse

    def reuse_variables(self) -> None:
        self._reuse = True

    def set_initializer(self, initializer) -> None:
        self.initializer = initializer

    def set_regularizer(self, regularizer) -> None:
        self.regularizer = regularizer

    def set_dtype(self, dtype) -> None:
        self.dtype = _dt.as_dtype(dtype)

    def get_variable(self, name, *args, **kwargs):
        return get_variable(name, *args, **kwargs)


class _VarStore:
    def __init__(self) -> None:
        self.vars: dict[str, Variable] = {}
        self.scope_counts: dict[str, int] = {}


def _store():
    g = get_default_graph()
    if g._var_store is None:
        g._var_store = _VarStore()
        g._var_scope_stack = [VariableScope(False)]
    return g._var_store, g._var_scope_stack


def get_variable_scope() -> VariableScope:
    return _store()[1][-1]


@contextlib.contextmanager
def variable_scope(name_or_scope, default_name=None, values=None, initializer=None,
                   regularizer=None, caching_device=None, partitioner=None, custom_getter=None,
                   reuse=None, dtype=None, use_resource=None, constraint=None,
                   auxiliary_name_scope: bool = True) -> Iterator[VariableScope]:
    """``tf.variable_scope``: prefixes get_variable names and controls reuse."""
    store, stack = _store()
    parent = stack[-1]
    if name_or_scope is None and default_name is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    if reuse is False:
        reuse = None
    if isinstance(name_or_scope, VariableScope):
        full = name_or_scope.name
        ns = name_or_scope.original_name_scope
        base = name_or_scope
    else:
        if name_or_scope is None:
            # default_name is uniquified among sibling scopes
            prefix = parent.name + "/" if parent.name else ""
            key = prefix + default_name
            i = store.scope_counts.get(key, 0)
            store.scope_counts[key] = i + 1
            rel = default_name if i == 0 else f"{default_name}_{i}"
        else:
            rel = name_or_scope
            key = (parent.name + "/" if parent.name else "") + rel
            store.scope_counts[key] = store.scope_counts.get(key, 0) + 1
        full = (parent.name + "/" if parent.name else "") + rel
        ns = None
        base = parent
    new_reuse = True if parent.reuse is True else (reuse if reuse is not None else
                                                  (base.reuse if isinstance(name_or_scope,
                                                                            VariableScope)
                                                   else parent.reuse))
    if parent.reuse is AUTO_REUSE and reuse is None:
        new_reuse = AUTO_REUSE
    g = get_default_graph()
    cm = contextlib.ExitStack()
    if auxiliary_name_scope:
        if ns:
            scope_name = cm.enter_context(g.name_scope(ns))
        else:
            leaf = full.split("/")[-1]
            scope_name = cm.enter_context(g.name_scope(leaf))
    else:
        scope_name = ns or ""
    vs = VariableScope(new_reuse, full,
                       initializer if initializer is not None else base.initializer,
                       regularizer if regularizer is not None else base.regularizer,
                       caching_device, partitioner,
                       custom_getter if custom_getter is not None else base.custom_getter,
                       scope_name, dtype if dtype is not None else base.dtype, use_resource,
                       constraint if constraint is not None else base.constraint)
    stack.append(vs)
    try:
        with cm:
            yield vs
    finally:
        stack.pop()


def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None,
                 trainable=None, collections=None, caching_device=None, partitioner=None,
                 validate_shape: bool = True, use_resource=None, custom_getter=None,
                 constraint=None, synchronization=None, aggregation=None) -> Variable:
    """Gets an existing variable (when reusing) or creates a new one, named scope/name."""
    store, stack = _store()
    scope = stack[-1]
    full = (scope.name + "/" if scope.name else "") + name
    getter = custom_getter or scope.custom_getter
    kwargs = dict(shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                  trainable=trainable, collections=collections, validate_shape=validate_shape,
                  constraint=constraint)
    if getter is not None:
        return getter(_true_getter, full, **kwargs)
    return _true_getter(full, **kwargs)


def _true_getter(full, shape=None, dtype=None, initializer=None, regularizer=None,
                 trainable=None, collections=None, validate_shape=True, constraint=None,
                 **unused):
    store, stack = _store()
    scope = stack[-1]
    reuse = scope.reuse
    if dtype is None and isinstance(initializer, Tensor):
        dtype = initializer.dtype        # TF1: a tensor initializer gives its own dtype
    dtype = _dt.as_dtype(dtype) if dtype is not None else scope.dtype
    if full in store.vars:
        if reuse is None or reuse is False:
            raise ValueError(f"Variable {full} already exists, disallowed. Did you mean to set "
                             "reuse=True or reuse=tf.AUTO_REUSE in VarScope?")
        v = store.vars[full]
        if shape is not None and not v.shape.is_compatible_with(as_shape(shape)):
            raise ValueError(f"Trying to share variable {full}, but specified shape "
                             f"{as_shape(shape)} and found shape {v.shape}.")
        if dtype is not None and dtype != v.dtype and dtype != scope.dtype:
            raise ValueError(f"Trying to share variable {full}, but specified dtype "
                             f"{dtype.name} and found dtype {v.dtype.name}.")
        return v
    if reuse is True:
        raise ValueError(f"Variable {full} does not exist, or was not created with "
                         "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in "
                         "VarScope?")
    init = initializer if initializer is not None else scope.initializer
    if init is None:
        init = I.GlorotUniform() if dtype.is_floating else I.Zeros()
    g = get_default_graph()
    if callable(init) and not isinstance(init, Tensor):
        if shape is None:
            raise ValueError(f"The shape of variable {full} must be specified with an "
                             "initializer function.")
        shp = as_shape(shape)
        if not shp.is_fully_defined():
            raise ValueError(f"Shape of a new variable ({full}) must be fully defined, but "
                             f"instead was {shp}.")

        def initial():
            with g.name_scope("Initializer"):
                return init(shp.as_list(), dtype=dtype)
        initial_value = initial
    else:
        initial_value = init
    with g.name_scope(None):
        with g.name_scope(full.rsplit("/", 1)[0] + "/" if "/" in full else None):
            v = Variable(initial_value, trainable=trainable, collections=collections,
                         validate_shape=validate_shape, name=full.rsplit("/", 1)[-1],
                         dtype=dtype, constraint=constraint)
    if v.op.name != full:
        raise ValueError(f"Variable name clash: '{full}' became '{v.op.name}' because an "
                         "op of that name already exists in the graph.")
    store.vars[full] = v
    reg = regularizer if regularizer is not None else scope.regularizer
    if reg is not None:
        with g.name_scope(full + "/Regularizer/"):
            loss = reg(v)
        if loss is not None:
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
    return v


def no_regularizer(_):
    return None
