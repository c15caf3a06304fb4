"""``tf.SparseTensor``: a tensor stored as (indices, values, dense_shape), three tensors.

A ``SparseTensor`` is not a graph element: it is a composite of three ``Tensor`` objects.
Ops that take one read its components; ``Session.run`` fetches it as a
``SparseTensorValue`` and accepts one (or an ``(indices, values, dense_shape)`` tuple) as
the feed of a ``sparse_placeholder``.  Gradients flow to ``values`` like to any tensor.
"""

from __future__ import annotations

import collections

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import constant_shape, convert_to_tensor
from flowgrad.framework.shapes import TensorShape, as_shape
from flowgrad.ops import array_ops as A

SparseTensorValue = collections.namedtuple("SparseTensorValue",
                                           ["indices", "values", "dense_shape"])
SparseTensorValue.__doc__ = "The value of a SparseTensor, as ``Session.run`` fetches it."


class SparseTensor:
    """A sparse tensor: ``dense[indices[i]] = values[i]``, zero elsewhere.

    ``indices`` is an int64 ``[N, rank]`` matrix, ``values`` a ``[N]`` vector and
    ``dense_shape`` an int64 ``[rank]`` vector.  Ops expect indices in row-major order
    (``tf.sparse.reorder`` puts them there).

    >>> sp = tf.SparseTensor(indices=[[0, 0], [1, 2]], values=[1.0, 2.0], dense_shape=[3, 4])
    >>> tf.sparse.to_dense(sp)          # [[1, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]]
    """

    def __init__(self, indices, values, dense_shape):
        with name_scope(None, "SparseTensor"):
            self._indices = _int64(indices, "indices")
            self._values = convert_to_tensor(values, name="values")
            self._dense_shape = _int64(dense_shape, "dense_shape")
        ishape, vshape, dshape = (self._indices.shape, self._values.shape,
                                  self._dense_shape.shape)
        if ishape.ndims not in (None, 2) or vshape.ndims not in (None, 1) or \
                dshape.ndims not in (None, 1):
            raise ValueError(f"SparseTensor needs indices of rank 2, values of rank 1 and "
                             f"dense_shape of rank 1; got shapes {ishape}, {vshape} and "
                             f"{dshape}")
        if ishape.ndims == 2 and vshape.ndims == 1 and ishape[0] is not None and \
                vshape[0] is not None and ishape[0] != vshape[0]:
            raise ValueError(f"SparseTensor: {ishape[0]} indices but {vshape[0]} values")
        if ishape.ndims == 2 and dshape.ndims == 1 and ishape[1] is not None and \
                dshape[0] is not None and ishape[1] != dshape[0]:
            raise ValueError(f"SparseTensor: indices have {ishape[1]} columns but dense_shape "
                             f"has rank {dshape[0]}")
        self._static_shape = constant_shape(self._dense_shape)
        if self._static_shape.ndims is None and ishape.ndims == 2 and ishape[1] is not None:
            self._static_shape = TensorShape([None] * ishape[1])

    @classmethod
    def from_value(cls, sparse_tensor_value) -> "SparseTensor":
        """A SparseTensor of constants (or the SparseTensor itself)."""
        if isinstance(sparse_tensor_value, SparseTensor):
            return sparse_tensor_value
        return cls(*sparse_tensor_value)

    @property
    def indices(self) -> Tensor:
        return self._indices

    @property
    def values(self) -> Tensor:
        return self._values

    @property
    def dense_shape(self) -> Tensor:
        return self._dense_shape

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def shape(self) -> TensorShape:
        return self._static_shape

    def get_shape(self) -> TensorShape:
        return self._static_shape

    @property
    def op(self):
        return self._values.op

    @property
    def graph(self):
        return self._indices.graph

    def eval(self, feed_dict=None, session=None) -> SparseTensorValue:
        """Runs the graph up to this SparseTensor; returns a ``SparseTensorValue``."""
        from flowgrad.runtime.session import _resolve_session  # noqa: PLC0415
        return _resolve_session(session, self.graph).run(self, feed_dict)

    def consumers(self) -> list:
        return [c for t in (self._indices, self._values, self._dense_shape)
                for c in t.consumers()]

    # --- Session.run: a composite of three tensors ------------------------------------
    def _session_components(self) -> tuple[Tensor, Tensor, Tensor]:
        return self._indices, self._values, self._dense_shape

    @staticmethod
    def _session_value(indices, values, dense_shape) -> SparseTensorValue:
        return SparseTensorValue(indices, values, dense_shape)

    def __array__(self, dtype=None, copy=None):
        # what tf.convert_to_tensor / tf.constant see: TF1's refusal, not an object array
        raise TypeError(f"Failed to convert object of type {type(self)} to Tensor. Contents: "
                        f"{self!r}. Consider casting elements to a supported type. (A "
                        "SparseTensor is not a dense tensor: use tf.sparse.to_dense, or its "
                        ".values / .indices / .dense_shape.)")

    def __mul__(self, other):
        from flowgrad.ops.sparse_binary_ops import _cwise  # noqa: PLC0415
        return _cwise(self, other, "SparseDenseCwiseMul")

    def __truediv__(self, other):
        from flowgrad.ops.sparse_binary_ops import _cwise  # noqa: PLC0415
        return _cwise(self, other, "SparseDenseCwiseDiv")

    __div__ = __truediv__

    def __repr__(self) -> str:
        return (f"SparseTensor(indices={self._indices!r}, values={self._values!r}, "
                f"dense_shape={self._dense_shape!r})")


def _int64(x, name: str) -> Tensor:
    """An int64 tensor: tensors must already be int64 (as in TF); literals are converted."""
    if isinstance(x, Tensor) or hasattr(x, "_as_graph_element"):
        return convert_to_tensor(x, dtype=_dt.int64, name=name)
    return convert_to_tensor(np.asarray(x, dtype=np.int64), name=name)


def is_sparse(x) -> bool:
    return isinstance(x, SparseTensor | SparseTensorValue)


def convert_to_sparse(x, what: str = "sp_input") -> SparseTensor:
    """A SparseTensor from a SparseTensor or SparseTensorValue; TypeError otherwise."""
    if isinstance(x, SparseTensor):
        return x
    if isinstance(x, SparseTensorValue):
        return SparseTensor.from_value(x)
    raise TypeError(f"Input {what} must be a SparseTensor, got {type(x).__name__} {x!r}")


def sparse_placeholder(dtype, shape=None, name: str | None = None) -> SparseTensor:
    """``tf.sparse_placeholder``: a SparseTensor whose three parts are fed as one
    ``SparseTensorValue`` (or ``(indices, values, dense_shape)`` tuple).

    ``shape`` may be partly unknown (``[None, 10]``): ``get_shape()`` reports what is
    known, and the fed dense_shape gives the rest.
    """
    shp = as_shape(shape) if shape is not None and not isinstance(shape, Tensor) else None
    rank = shp.ndims if shp is not None else (
        shape.shape[0] if isinstance(shape, Tensor) else None)

    def sub(part):
        return None if name is None else f"{name}/{part}"
    values = A.placeholder(dtype, [None], name=sub("values") or "Placeholder")
    indices = A.placeholder(_dt.int64, [None, rank], name=sub("indices") or "Placeholder")
    if isinstance(shape, Tensor):
        dense_shape = shape
    elif shp is not None and shp.is_fully_defined():
        dense_shape = A.placeholder_with_default(np.asarray(shp.as_list(), np.int64), [rank],
                                                 name=sub("shape") or "PlaceholderWithDefault")
    else:
        dense_shape = A.placeholder(_dt.int64, [rank], name=sub("shape") or "Placeholder")
    sp = SparseTensor(indices, values, dense_shape)
    if shp is not None:
        sp._static_shape = shp
    return sp
