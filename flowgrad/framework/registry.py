"""The op table, the ``@op`` decorator, and conversion of Python values to tensors.

An op is defined once, in one place::

    @op("Sin", shape=unary)
    def sin(xp, x):                  # kernel: numpy or cupy arrays via xp
        return xp.sin(x)

    @sin.grad
    def _sin_grad(op, dy):           # builds graph nodes; one entry per input
        return [dy * cos(op.inputs[0])]

The kernel's positional parameters (after ``xp``) are the op's inputs, its keyword-only
parameters are attributes (stored on the node, pre-bound when a plan is compiled), and a
keyword-only ``ctx`` parameter asks the session for its per-op context (variables, random
state).  ``@op`` returns the builder: calling it adds a node to the default graph.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Graph, Operation, Tensor, get_default_graph
from flowgrad.framework.shapes import TensorShape, as_shape, broadcast_shapes


@dataclass(eq=False)
class OpDef:
    """Everything known about an op type: kernel, shape/dtype rule, gradient, attributes."""

    type: str
    kernel: Callable | None
    shape_fn: Callable
    input_names: tuple[str, ...]
    attr_defaults: dict
    variadic: bool = False
    same_dtype: tuple[str, ...] = ()
    ref_inputs: tuple[int, ...] = ()
    stateful: bool = False
    needs_ctx: bool = False
    may_alias: bool = False
    default_name: str = ""
    broadcasting: bool = True      # inputs may broadcast: gradients are summed back
    grad: Callable | None = field(default=None)
    #: kernels of the same signature for one platform (``Backend.platform``: "cuda"), used there
    #: instead of ``kernel`` (e.g. convolutions through cuDNN)
    device_kernels: dict = field(default_factory=dict)

    def kernel_for(self, platform: str) -> Callable | None:
        return self.device_kernels.get(platform, self.kernel)


_OPS: dict[str, OpDef] = {}
_GRADIENTS: dict[str, Callable | None] = {}


def get_opdef(op_type: str) -> OpDef:
    if op_type not in _OPS:
        raise KeyError(f"No op named '{op_type}' is registered.")
    return _OPS[op_type]


def registered_ops() -> dict[str, OpDef]:
    return dict(_OPS)


def get_gradient_function(op: Operation) -> Callable | None:
    """The gradient rule of ``op``: an override map entry first, then the op's own rule."""
    key = op._grad_override or op.type
    if key in _GRADIENTS:
        return _GRADIENTS[key]
    raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {op.type}). "
                      "Wrap its input in tf.stop_gradient if no gradient should flow through "
                      "it, or register one with @tf.RegisterGradient.")


class RegisterGradient:
    """``@tf.RegisterGradient("Name")``: registers ``fn(op, *dys) -> [dx per input]``."""

    def __init__(self, op_type: str) -> None:
        if not isinstance(op_type, str):
            raise TypeError("op_type must be a string")
        self._op_type = op_type

    def __call__(self, fn: Callable) -> Callable:
        if self._op_type in _GRADIENTS and _GRADIENTS[self._op_type] is not None \
                and self._op_type not in _OPS:
            raise KeyError(f"Registering two gradient with name '{self._op_type}'!")
        _GRADIENTS[self._op_type] = fn
        return fn


def NotDifferentiable(op_type: str) -> None:  # noqa: N802 - TF1's name
    """Declares that ``op_type`` has no gradient: its inputs receive ``None``."""
    _GRADIENTS[op_type] = None


no_gradient = NotDifferentiable


class NodeSpec:
    """What a shape rule sees: the op being built (its inputs are already tensors)."""

    __slots__ = ("type", "name", "inputs", "attrs")

    def __init__(self, op_type: str, name: str, inputs: list[Tensor], attrs: dict) -> None:
        self.type, self.name, self.inputs, self.attrs = op_type, name, inputs, attrs

    @property
    def shapes(self) -> list[TensorShape]:
        return [t.shape for t in self.inputs]

    def fail(self, message: str, exc: type = ValueError):
        shapes = ", ".join(str(t.shape) for t in self.inputs)
        raise exc(f"{self.type} '{self.name}': {message} (input shapes: {shapes})")


class OpBuilder:
    """The callable that ``@op`` returns: builds a node of its op type in the default graph."""

    def __init__(self, opdef: OpDef) -> None:
        self.opdef = opdef
        self.__name__ = opdef.kernel.__name__ if opdef.kernel else opdef.type
        self.__doc__ = (opdef.kernel.__doc__ if opdef.kernel else None) or \
            f"Adds a ``{opdef.type}`` op to the graph."
        P = inspect.Parameter
        kind = P.VAR_POSITIONAL if opdef.variadic else P.POSITIONAL_OR_KEYWORD
        params = [P(n, kind) for n in opdef.input_names]
        params.append(P("name", P.KEYWORD_ONLY, default=None))
        params += [P(k, P.KEYWORD_ONLY, default=P.empty if v is _REQUIRED else v)
                   for k, v in opdef.attr_defaults.items()]
        self.__signature__ = inspect.Signature(params)

    def device_kernel(self, device: str) -> Callable[[Callable], Callable]:
        """Registers the op's kernel for one platform (``"cuda"``), same signature::

            @conv2d.device_kernel("cuda")
            def _conv2d_cudnn(xp, x, w, *, strides, ...): ...
        """
        def decorate(fn: Callable) -> Callable:
            self.opdef.device_kernels[device] = fn
            return fn
        return decorate

    def grad(self, fn: Callable) -> Callable:
        _GRADIENTS[self.opdef.type] = fn
        self.opdef.grad = fn
        return fn

    def __call__(self, *inputs, name: str | None = None, **attrs):
        d = self.opdef
        if d.variadic:
            if len(inputs) != 1 or not isinstance(inputs[0], list | tuple):
                raise TypeError(f"{d.type} expects a list of tensors")
            inputs = tuple(inputs[0])
        elif len(inputs) != len(d.input_names):
            raise TypeError(f"{d.type} takes {len(d.input_names)} inputs "
                            f"({', '.join(d.input_names)}), got {len(inputs)}")
        unknown = set(attrs) - set(d.attr_defaults)
        if unknown:
            raise TypeError(f"{d.type} got unexpected attributes {sorted(unknown)}")
        full_attrs = {**d.attr_defaults, **attrs}
        missing = [k for k, v in full_attrs.items() if v is _REQUIRED]
        if missing:
            raise TypeError(f"{d.type} requires attributes {missing}")
        return make_op(d, list(inputs), full_attrs, name or d.default_name or None)

    def __repr__(self) -> str:
        return f"<op builder {self.opdef.type}>"


_REQUIRED = object()


def make_op(d: OpDef, inputs: list, attrs: dict, name: str | None, graph: Graph | None = None,
            control_inputs=()):
    """Converts inputs, runs the shape rule and adds the node; returns its output(s)."""
    g = graph or _graph_for(inputs)
    default = get_default_graph()
    if graph is None and g is not default and hasattr(default, "capture"):
        g = default          # a function being traced (tf.data): it captures outer tensors
    with g.as_default():
        if all(_as_tensor_or_none(v) is not None for v in inputs):
            tensors = _convert_inputs(d, inputs)
        else:
            # as TF1: the op's name is taken first and the constants made from Python
            # values live under it (``tf.multiply(v, 3.0, name="y")``: Mul ``y``, Const
            # ``y/y``), so the op keeps the name it was asked for
            own = name[:-1] if name and name.endswith("/") else g.unique_name(name or d.type)
            with g.name_scope(own + "/"):
                tensors = _convert_inputs(d, inputs)
            name = own + "/"
        for i, t in enumerate(tensors):
            if t.graph is not g:
                if not hasattr(g, "capture"):
                    raise ValueError(f"{d.type}: input {t.name} is from a different graph; "
                                     "all inputs of an op must live in the same graph.")
                tensors[i] = g.capture(t)
        full_name = name[:-1] if name and name.endswith("/") else \
            g.unique_name(name or d.type, mark_as_used=False)
        spec = d.shape_fn(NodeSpec(d.type, full_name, tensors, attrs))
        single = isinstance(spec, tuple)
        outs = [spec] if single else list(spec)
        outs = [(as_shape(s), _dt.as_dtype(t)) for s, t in outs]
        op = g._create_op(d.type, tensors, attrs, name, d, outs, control_inputs)
        op._multi = not single
    if single:
        return op.outputs[0]
    if not outs:
        return op
    return op.outputs


def _graph_for(inputs) -> Graph:
    for v in inputs:
        if isinstance(v, Tensor):
            return v.graph
        if hasattr(v, "_as_graph_element"):
            el = v._as_graph_element()
            if isinstance(el, Tensor):
                return el.graph
    return get_default_graph()


def _convert_inputs(d: OpDef, inputs: list) -> list[Tensor]:
    names = d.input_names if not d.variadic else [f"{d.input_names[0]}[{i}]"
                                                  for i in range(len(inputs))]
    group = set(d.same_dtype) if not d.variadic else set(names) if d.same_dtype else set()
    target = None
    for n, v in zip(names, inputs):
        if n in group:
            t = _as_tensor_or_none(v)
            if t is not None:
                target = t.dtype
                break
    out = []
    first_name = None
    for n, v in zip(names, inputs):
        if n in group:
            t = _as_tensor_or_none(v)
            if t is None:
                t = convert_to_tensor(v, dtype=target, name=n) if target is not None \
                    else convert_to_tensor(v, name=n)
            if target is None:
                target = t.dtype
            if t.dtype != target:
                raise TypeError(f"Input '{n}' of '{d.type}' Op has type {t.dtype.name} that does "
                                f"not match type {target.name} of argument '{first_name}'. "
                                "flowgrad does not promote dtypes: cast one side with tf.cast.")
            first_name = first_name or n
        else:
            t = convert_to_tensor(v, name=n)
        out.append(t)
    return out


def _as_tensor_or_none(v) -> Tensor | None:
    if isinstance(v, Tensor):
        return v
    if hasattr(v, "_as_graph_element"):
        el = v._as_graph_element()
        if isinstance(el, Tensor):
            return el
    return None


# --- the decorator -------------------------------------------------------------------
def op(op_type: str, *, shape: Callable, same_dtype: bool | tuple = False, ref_inputs=(),
       stateful: bool = False, may_alias: bool = False, name: str = "",
       broadcasting: bool = True) -> Callable[[Callable], OpBuilder]:
    """Registers an op type whose kernel is the decorated function (see module doc)."""

    def decorate(kernel: Callable | None) -> OpBuilder:
        params = list(inspect.signature(kernel).parameters.values())[1:]
        inputs = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                             p.POSITIONAL_OR_KEYWORD))
        variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
        if variadic:
            inputs = tuple(p.name for p in params if p.kind == p.VAR_POSITIONAL)
        attrs = {p.name: (_REQUIRED if p.default is p.empty else p.default)
                 for p in params if p.kind == p.KEYWORD_ONLY and p.name != "ctx"}
        needs_ctx = any(p.name == "ctx" for p in params)
        sd = inputs if same_dtype is True else tuple(same_dtype or ())
        if op_type in _OPS:
            raise KeyError(f"Op type '{op_type}' is registered twice.")
        d = OpDef(op_type, kernel, shape, inputs, attrs, variadic=variadic, same_dtype=sd,
                  ref_inputs=tuple(ref_inputs), stateful=stateful, needs_ctx=needs_ctx,
                  may_alias=may_alias, default_name=name, broadcasting=broadcasting)
        _OPS[op_type] = d
        _GRADIENTS.setdefault(op_type, _missing_grad)
        return OpBuilder(d)

    return decorate


def _missing_grad(op: Operation, *dys):
    raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {op.type}). "
                      "Wrap its input in tf.stop_gradient if no gradient should flow through "
                      "it, or register one with @tf.RegisterGradient.")


# --- shape rules ---------------------------------------------------------------------
def unary(node: NodeSpec):
    x = node.inputs[0]
    return x.shape, x.dtype


def elementwise(node: NodeSpec):
    """numpy broadcasting of all inputs; the dtype of the first."""
    shape = node.inputs[0].shape
    for t in node.inputs[1:]:
        b = broadcast_shapes(shape, t.shape)
        if b is None:
            node.fail(f"Dimensions must be equal or 1 to broadcast, but shapes are "
                      f"{shape} and {t.shape}. Reshape one operand or use tf.expand_dims to "
                      f"line up the axes.")
        shape = b
    return shape, node.inputs[0].dtype


def comparison(node: NodeSpec):
    shape, _ = elementwise(node)
    return shape, _dt.bool_


def require_float(node: NodeSpec, *idx: int) -> None:
    for i in idx or range(len(node.inputs)):
        dt = node.inputs[i].dtype
        if not (dt.is_floating or dt.is_complex):
            node.fail(f"expects a floating-point input, got {dt.name}; cast it with "
                      f"tf.cast(x, tf.float32)", TypeError)


# --- constants and conversion --------------------------------------------------------
def _const_shape(node: NodeSpec):
    v = node.attrs["value"]
    return v.shape, node.attrs["dtype"]


@op("Const", shape=_const_shape, may_alias=True)
def _const_kernel(xp, *, value, dtype):
    return value


_CONST = _OPS["Const"]
# Hook set by array_ops: converts a list that contains tensors into one tensor (tf.stack).
_AUTOPACK: list = [None]


def constant_array(value, dtype=None, shape=None, name: str = "Const") -> np.ndarray:
    """The numpy value ``tf.constant(value, dtype, shape)`` holds, checked like TF1."""
    dt = _dt.as_dtype(dtype) if dtype is not None else _dt.infer_dtype(value)
    if dtype is not None and not isinstance(value, np.ndarray | np.generic) \
            and not _dt.convertible(value, dt):
        raise TypeError(f"Cannot convert {value!r} to a tensor of dtype {dt.name} "
                        f"({_dt.infer_dtype(value).name} values do not fit).")
    arr = np.asarray(value, dtype=dt.np) if dt != _dt.string else _dt.string_array(value)
    if shape is not None:
        shp = tuple(as_shape(shape).as_list())
        if arr.size == 1 and int(np.prod(shp)) != 1:
            arr = np.full(shp, arr.reshape(()), dtype=arr.dtype)
        elif arr.size == int(np.prod(shp)):
            arr = arr.reshape(shp)
        else:
            raise TypeError(f"Eager/graph constant of {arr.size} elements cannot be reshaped "
                            f"to {shp} ({int(np.prod(shp))} elements).")
    arr.setflags(write=False)
    return arr


def constant(value, dtype=None, shape=None, name: str = "Const", verify_shape: bool = False
             ) -> Tensor:
    """``tf.constant``: a tensor whose value is fixed when the graph is built."""
    arr = constant_array(value, dtype, shape, name)
    dt = _dt.as_dtype(dtype) if dtype is not None else _dt.infer_dtype(value)
    return make_op(_CONST, [], {"value": arr, "dtype": dt}, name)


def convert_to_tensor(value, dtype=None, name: str | None = None, preferred_dtype=None,
                      dtype_hint=None) -> Tensor:
    """Tensors pass through (dtype-checked); Variables give their value; literals -> Const."""
    if isinstance(value, Tensor) or (hasattr(value, "_as_graph_element")
                                     and not isinstance(value, Operation | Graph)):
        t = value if isinstance(value, Tensor) else value._as_graph_element()
        if not isinstance(t, Tensor):
            raise TypeError(f"Can not convert {value!r} to a Tensor.")
        if dtype is not None and t.dtype != _dt.as_dtype(dtype):
            raise ValueError(f"Tensor conversion requested dtype {_dt.as_dtype(dtype).name} for "
                             f"Tensor with dtype {t.dtype.name}: {t!r}")
        return t
    if isinstance(value, Operation):
        raise TypeError(f"Can not convert an Operation ({value.name}) into a Tensor; use one "
                        "of its outputs, e.g. op.outputs[0].")
    if isinstance(value, list | tuple) and _contains_tensor(value) and _AUTOPACK[0]:
        return _AUTOPACK[0](value, dtype, name)
    if value is None:
        raise ValueError("None values not supported.")
    if dtype is None and (preferred_dtype or dtype_hint) is not None:
        hint = _dt.as_dtype(preferred_dtype or dtype_hint)
        if not isinstance(value, np.ndarray) and _dt.convertible(value, hint):
            dtype = hint
    return constant(value, dtype=dtype, name=name or "Const")


def _contains_tensor(seq) -> bool:
    for v in seq:
        if isinstance(v, Tensor) or hasattr(v, "_as_graph_element"):
            return True
        if isinstance(v, list | tuple) and _contains_tensor(v):
            return True
    return False


def constant_value(t: Tensor):
    """The value of ``t`` if it is known at build time (TF's ``tensor_util.constant_value``)."""
    if not isinstance(t, Tensor):
        return np.asarray(t)
    op_ = t.op
    if op_.type == "Const":
        return op_.attrs["value"]
    if op_.type == "Shape" and op_.inputs[0].shape.is_fully_defined():
        return np.array(op_.inputs[0].shape.as_list(), dtype=t.dtype.np)
    if op_.type == "Rank" and op_.inputs[0].shape.ndims is not None:
        return np.array(op_.inputs[0].shape.ndims, dtype=np.int32)
    if op_.type == "Size" and op_.inputs[0].shape.is_fully_defined():
        return np.array(op_.inputs[0].shape.num_elements(), dtype=t.dtype.np)
    if op_.type in ("Identity", "StopGradient"):
        return constant_value(op_.inputs[0])
    if op_.type == "Cast":
        v = constant_value(op_.inputs[0])
        return None if v is None else v.astype(t.dtype.np)
    if op_.type == "Pack":
        vals = [constant_value(i) for i in op_.inputs]
        if any(v is None for v in vals):
            return None
        return np.stack(vals, axis=op_.attrs["axis"])
    return None


def constant_shape(t: Tensor) -> TensorShape:
    """The static shape that a 1-D shape tensor ``t`` describes (unknown parts as None)."""
    v = constant_value(t)
    if v is not None:
        return TensorShape([None if d < 0 else int(d) for d in np.asarray(v).reshape(-1)])
    if t.op.type == "Shape":
        return t.op.inputs[0].shape
    if t.op.type == "Pack":
        return TensorShape([_scalar_or_none(i) for i in t.op.inputs])
    if t.shape.ndims == 1 and t.shape[0] is not None:
        return TensorShape([None] * t.shape[0])
    return TensorShape(None)


def _scalar_or_none(t: Tensor):
    v = constant_value(t)
    return None if v is None or int(v) < 0 else int(v)
