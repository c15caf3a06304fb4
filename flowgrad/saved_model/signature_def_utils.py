"""``tf.saved_model.signature_def_utils``: signatures, the named inputs and outputs that a
client feeds and fetches (``SignatureDef``: ``inputs``/``outputs`` maps of ``TensorInfo``
and a ``method_name``)."""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.shapes import TensorShape
from flowgrad.saved_model import signature_constants as sc


class TensorInfo:
    """A tensor a signature names: its graph name, dtype and static shape."""

    def __init__(self, name: str = "", dtype=None, tensor_shape=None) -> None:
        self.name = name
        self.dtype = None if dtype is None else _dt.as_dtype(dtype)
        self.tensor_shape = TensorShape(None) if tensor_shape is None else \
            TensorShape(tensor_shape)

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype.name if self.dtype else None,
                "shape": self.tensor_shape.as_list() if self.tensor_shape.ndims is not None
                else None}

    @classmethod
    def from_json(cls, d: dict) -> "TensorInfo":
        return cls(d["name"], d["dtype"], d["shape"])

    def __eq__(self, other) -> bool:
        return isinstance(other, TensorInfo) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        dtype = self.dtype.name if self.dtype else None
        return f"TensorInfo(name={self.name!r}, dtype={dtype}, shape={self.tensor_shape})"


class SignatureDef:
    """``inputs`` and ``outputs`` (key -> :class:`TensorInfo`) and a ``method_name``."""

    def __init__(self, inputs=None, outputs=None, method_name: str = "") -> None:
        self.inputs: dict[str, TensorInfo] = dict(inputs or {})
        self.outputs: dict[str, TensorInfo] = dict(outputs or {})
        self.method_name = method_name or ""

    def to_json(self) -> dict:
        return {"inputs": {k: v.to_json() for k, v in self.inputs.items()},
                "outputs": {k: v.to_json() for k, v in self.outputs.items()},
                "method_name": self.method_name}

    @classmethod
    def from_json(cls, d: dict) -> "SignatureDef":
        return cls({k: TensorInfo.from_json(v) for k, v in d["inputs"].items()},
                   {k: TensorInfo.from_json(v) for k, v in d["outputs"].items()},
                   d.get("method_name", ""))

    def __eq__(self, other) -> bool:
        return isinstance(other, SignatureDef) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return (f"SignatureDef(inputs={sorted(self.inputs)}, outputs={sorted(self.outputs)}, "
                f"method_name={self.method_name!r})")


def _tensor_infos(what: str, tensors) -> dict[str, TensorInfo]:
    from flowgrad.saved_model.utils import build_tensor_info  # noqa: PLC0415
    out = {}
    for k, v in (tensors or {}).items():
        if not isinstance(k, str):
            raise TypeError(f"{what} keys must be strings, got {k!r}")
        out[k] = v if isinstance(v, TensorInfo) else build_tensor_info(v)
    return out


def build_signature_def(inputs=None, outputs=None, method_name=None) -> SignatureDef:
    """A SignatureDef from maps of key -> ``TensorInfo`` (``utils.build_tensor_info``)."""
    for what, m in (("inputs", inputs), ("outputs", outputs)):
        for k, v in (m or {}).items():
            if not isinstance(v, TensorInfo):
                raise TypeError(f"build_signature_def: {what}['{k}'] must be a TensorInfo "
                                f"(tf.saved_model.utils.build_tensor_info(tensor)), got {v!r}")
    return SignatureDef(inputs, outputs, method_name)


def predict_signature_def(inputs, outputs) -> SignatureDef:
    """A ``tensorflow/serving/predict`` signature from maps of key -> Tensor."""
    if not inputs:
        raise ValueError("Prediction inputs cannot be None or empty.")
    if not outputs:
        raise ValueError("Prediction outputs cannot be None or empty.")
    return SignatureDef(_tensor_infos("predict_signature_def inputs", inputs),
                        _tensor_infos("predict_signature_def outputs", outputs),
                        sc.PREDICT_METHOD_NAME)


def regression_signature_def(examples, predictions) -> SignatureDef:
    """A ``tensorflow/serving/regress`` signature: ``inputs`` -> ``outputs`` (float)."""
    if examples is None:
        raise ValueError("Regression examples cannot be None.")
    if predictions is None:
        raise ValueError("Regression predictions cannot be None.")
    return SignatureDef(_tensor_infos("regression", {sc.REGRESS_INPUTS: examples}),
                        _tensor_infos("regression", {sc.REGRESS_OUTPUTS: predictions}),
                        sc.REGRESS_METHOD_NAME)


def classification_signature_def(examples, classes, scores) -> SignatureDef:
    """A ``tensorflow/serving/classify`` signature: ``inputs`` -> ``classes``/``scores``."""
    if examples is None:
        raise ValueError("Classification examples cannot be None.")
    if classes is None and scores is None:
        raise ValueError("Classification classes and scores cannot both be None.")
    outputs = {}
    if classes is not None:
        outputs[sc.CLASSIFY_OUTPUT_CLASSES] = classes
    if scores is not None:
        outputs[sc.CLASSIFY_OUTPUT_SCORES] = scores
    return SignatureDef(_tensor_infos("classification", {sc.CLASSIFY_INPUTS: examples}),
                        _tensor_infos("classification", outputs), sc.CLASSIFY_METHOD_NAME)


def is_valid_signature(signature_def) -> bool:
    """Whether ``signature_def`` is a SignatureDef with a method name and named tensors."""
    if not isinstance(signature_def, SignatureDef) or not signature_def.method_name:
        return False
    infos = list(signature_def.inputs.values()) + list(signature_def.outputs.values())
    return bool(signature_def.outputs) and all(i.name and i.dtype for i in infos)
