"""``tf.saved_model.utils``: ``TensorInfo`` for tensors, and tensors for ``TensorInfo``."""

from __future__ import annotations

from flowgrad.framework.graph import Tensor, get_default_graph
from flowgrad.saved_model.signature_def_utils import TensorInfo


def build_tensor_info(tensor) -> TensorInfo:
    """The ``TensorInfo`` (name, dtype, static shape) of ``tensor``."""
    if hasattr(tensor, "_as_graph_element") and not isinstance(tensor, Tensor):
        tensor = tensor._as_graph_element()
    if not isinstance(tensor, Tensor):
        raise TypeError(f"build_tensor_info expects a Tensor, got {tensor!r}")
    return TensorInfo(tensor.name, tensor.dtype, tensor.shape)


def get_tensor_from_tensor_info(tensor_info: TensorInfo, graph=None,
                                import_scope: str | None = None) -> Tensor:
    """The tensor of ``graph`` (default: the default graph) that ``tensor_info`` names."""
    if not isinstance(tensor_info, TensorInfo):
        raise TypeError(f"expected a TensorInfo, got {tensor_info!r}")
    g = graph or get_default_graph()
    name = tensor_info.name
    if import_scope:
        name = import_scope.rstrip("/") + "/" + name
    return g.get_tensor_by_name(name)
