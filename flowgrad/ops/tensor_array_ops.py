"""``tf.TensorArray``: a list of same-shaped tensors written and read by index in loops.

A TensorArray is a Python handle around its *flow*: one dense tensor ``[size, *element]``
holding the elements.  ``write`` returns a new TensorArray whose flow is a copy with one
row replaced, so inside ``while_loop`` the flow is an ordinary loop variable and the
loop's gradient covers it (``write``'s gradient routes row ``i`` to the value).  When the
element shape is not known at creation, the flow starts as a ``[size]`` placeholder buffer
and the first write allocates it.
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import NodeSpec, constant, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape, as_shape
from flowgrad.ops import array_ops as A


def _set_item_shape(node: NodeSpec):
    buf, index, value = node.inputs
    if not index.dtype.is_integer:
        node.fail(f"index must be an integer, got {index.dtype.name}", TypeError)
    if buf.dtype != value.dtype:
        node.fail(f"TensorArray has dtype {buf.dtype.name} but the value written has dtype "
                  f"{value.dtype.name}", TypeError)
    return TensorShape(None), buf.dtype


@op("TensorArraySetItem", shape=_set_item_shape, broadcasting=False)
def _set_item(xp, buf, index, value, *, dynamic_size=False):
    i = int(index)
    v = xp.asarray(value)
    n = buf.shape[0]
    if buf.shape[1:] != v.shape:
        if buf.ndim != 1:
            raise ValueError(f"Could not write to TensorArray index {i}: its elements have "
                             f"shape {buf.shape[1:]} but the value has shape {v.shape}")
        buf = xp.zeros((n,) + v.shape, dtype=buf.dtype)     # the first write allocates
    if i < 0 or (i >= n and not dynamic_size):
        raise IndexError(f"Tried to write to index {i} but array size is: {n} (create it "
                         "with dynamic_size=True to let it grow)")
    if i >= n:
        grown = xp.zeros((i + 1,) + v.shape, dtype=buf.dtype)
        grown[:n] = buf
        grown[i] = v
        return grown
    out = buf.copy()
    out[i] = v
    return out


@_set_item.grad
def _set_item_grad(op, dy):
    d_buf, d_value = _set_item_backprop(dy, op.inputs[0], op.inputs[1], op.inputs[2])
    return [d_buf, None, d_value]


def _backprop_shape(node: NodeSpec):
    return [(node.inputs[1].shape, node.inputs[1].dtype),
            (node.inputs[3].shape, node.inputs[3].dtype)]


@op("TensorArraySetItemGrad", shape=_backprop_shape, broadcasting=False)
def _set_item_backprop(xp, dy, buf, index, value):
    i = int(index)
    dv = dy[i]
    if buf.shape[1:] != dy.shape[1:]:
        return xp.zeros_like(buf), dv          # the write allocated: no earlier content
    d = dy[:buf.shape[0]].copy()
    if i < d.shape[0]:
        d[i] = 0
    return d, dv


def _backprop_adjoint_shape(node: NodeSpec):
    return node.inputs[2].shape, node.inputs[2].dtype


@op("TensorArraySetItemGradGrad", shape=_backprop_adjoint_shape, broadcasting=False)
def _set_item_backprop_adjoint(xp, dd_buf, dd_value, dy, buf, index, value):
    """The adjoint of ``TensorArraySetItemGrad`` (linear in ``dy``): its gradient, so
    gradients of any order flow through TensorArray writes."""
    i = int(index)
    out = xp.zeros_like(dy)
    if buf.shape[1:] == dy.shape[1:]:
        n = buf.shape[0]
        out[:n] = dd_buf
        if i < n:
            out[i] = 0
    out[i] += dd_value
    return out


@_set_item_backprop.grad
def _set_item_backprop_grad(op, dd_buf, dd_value):
    dy, buf, index, value = op.inputs
    dd_buf = dd_buf if dd_buf is not None else A.zeros_like(buf)
    dd_value = dd_value if dd_value is not None else A.zeros_like(value)
    return [_set_item_backprop_adjoint(dd_buf, dd_value, dy, buf, index, value),
            None, None, None]


@_set_item_backprop_adjoint.grad
def _set_item_backprop_adjoint_grad(op, ddd):
    dd_buf, dd_value = _set_item_backprop(ddd, op.inputs[3], op.inputs[4], op.inputs[5])
    return [dd_buf, dd_value, None, None, None, None]


class TensorArray:
    """``tf.TensorArray(dtype, size, dynamic_size, element_shape, ...)``."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape: bool = True,
                 element_shape=None, colocate_with_first_write_call: bool = True,
                 name=None) -> None:
        self._dtype = _dt.as_dtype(dtype)
        self._dynamic_size = bool(dynamic_size)
        self._element_shape = as_shape(element_shape) if element_shape is not None else \
            TensorShape(None)
        if flow is not None:
            self._flow = convert_to_tensor(flow)
            return
        if size is None:
            raise ValueError("Size must be provided if handle or flow is not provided.")
        with name_scope(name, "TensorArray"):
            n = convert_to_tensor(size, dtype=_dt.int32) if not isinstance(size, Tensor) \
                else size
            es = self._element_shape
            if es.is_fully_defined():
                dims = A.concat([A.reshape(n, [1]), constant(es.as_list(), _dt.int32)], 0)
            else:
                dims = A.reshape(n, [1])
            self._flow = A.zeros(dims, self._dtype)

    @property
    def flow(self) -> Tensor:
        return self._flow

    @property
    def dtype(self):
        return self._dtype

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    def _with_flow(self, flow, element_shape=None) -> "TensorArray":
        ta = TensorArray(self._dtype, dynamic_size=self._dynamic_size, flow=flow,
                         element_shape=element_shape if element_shape is not None else
                         (self._element_shape if self._element_shape.ndims is not None
                          else None))
        return ta

    def write(self, index, value, name=None) -> "TensorArray":
        """A new TensorArray with element ``index`` set to ``value`` (use the result)."""
        with name_scope(name, "TensorArrayWrite"):
            value = convert_to_tensor(value, dtype=self._dtype)
            es = self._element_shape
            if es.ndims is not None and not es.is_compatible_with(value.shape):
                raise ValueError(f"TensorArray element shape {es} is incompatible with the "
                                 f"value written, of shape {value.shape}")
            flow = _set_item(self._flow, convert_to_tensor(index, dtype=_dt.int32), value,
                             dynamic_size=self._dynamic_size)
            return self._with_flow(flow, value.shape if es.ndims is None else es)

    def read(self, index, name=None) -> Tensor:
        out = A.gather(self._flow, convert_to_tensor(index, dtype=_dt.int32), name=name)
        if self._element_shape.ndims is not None:
            out.set_shape(self._element_shape)
        return out

    def gather(self, indices, element_shape=None, name=None) -> Tensor:
        return A.gather(self._flow, convert_to_tensor(indices, dtype=_dt.int32), name=name)

    def stack(self, name=None) -> Tensor:
        out = A.identity(self._flow, name=name or "TensorArrayStack")
        if self._element_shape.ndims is not None:
            out.set_shape(TensorShape([None]).concatenate(self._element_shape))
        return out

    def concat(self, name=None) -> Tensor:
        shape = A.shape(self._flow)
        return A.reshape(self._flow, A.concat([[-1], shape[2:]], 0), name=name)

    def unstack(self, value, name=None) -> "TensorArray":
        value = convert_to_tensor(value, dtype=self._dtype)
        return self._with_flow(A.identity(value, name=name or "TensorArrayUnstack"),
                               value.shape[1:] if value.shape.ndims else None)

    def size(self, name=None) -> Tensor:
        return A.shape(self._flow, name=name)[0]

    def identity(self) -> "TensorArray":
        return self._with_flow(A.identity(self._flow))

    def close(self, name=None):
        from flowgrad.ops.state_ops import no_op  # noqa: PLC0415
        return no_op(name=name)

    def __repr__(self) -> str:
        return f"<TensorArray dtype={self._dtype.name} flow={self._flow.name}>"
