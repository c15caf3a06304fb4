"""A strict simulated accelerator for testing device plumbing on machines without a GPU.

Its arrays (``DeviceArray``) are numpy arrays tagged as living on the device, and its array
module refuses host arrays the way CuPy does, so a feed, constant, random draw or fetch
that misses its copy fails loudly in tests.  It also refuses a few numpy-only spellings that
CuPy lacks, so CPU tests catch kernels that would fail on a GPU: ``ufunc.at`` beyond what
``flowgrad.ops._xp.DEVICE_UFUNC_AT`` lists, ``indices(sparse=)``, ``einsum(out=)``, device
scalars as ``arange`` bounds, ``linalg.solve`` broadcasting batch dimensions, and string or
object arrays.
"""

from __future__ import annotations

import types

import numpy as np

from flowgrad.ops._xp import DEVICE_UFUNC_AT
from flowgrad.runtime.backend import Backend

# keyword arguments numpy takes and CuPy's function of the same name does not
_NUMPY_ONLY_KWARGS = {"indices": {"sparse"}, "einsum": {"out"}}
# functions whose arguments must be host scalars on CuPy (device arrays are refused there)
_HOST_SCALAR_ARGS = {"arange"}


def _solve_batches_equal(a, b, *_, **__) -> None:
    """CuPy's ``linalg.solve`` does not broadcast batch dimensions."""
    if np.ndim(b) > 1 and np.shape(a)[:-1] != np.shape(b)[:-1]:
        raise ValueError("a must have (..., M, M) shape and b must have (..., M, K) for "
                         "multidimensional b")


# argument checks CuPy makes where numpy would broadcast or convert
_CHECKS = {"fake_device_numpy.linalg.solve": _solve_batches_equal}


class DeviceArray(np.ndarray):
    """A numpy array standing for memory on the simulated device."""

    def __getitem__(self, key):
        return _wrap(super().__getitem__(key))      # like CuPy: an element is a 0-d array

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse_host(inputs + tuple(kwargs.get("out", ()) or ()))
        if method == "at" and inputs[0].dtype not in DEVICE_UFUNC_AT.get(ufunc.__name__, ()):
            raise TypeError(f"{ufunc.__name__}.at on {inputs[0].dtype} is not supported on "
                            "the device: use flowgrad.ops._xp.ufunc_at")
        args = [_plain(x) for x in inputs]
        if "out" in kwargs and kwargs["out"] is not None:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*args, **kwargs))


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, DeviceArray) else x


def _refuse_host(values) -> None:
    for v in values:
        if type(v) is np.ndarray and v.ndim > 0:
            raise TypeError("Unsupported type <class 'numpy.ndarray'>: a host array reached "
                            "device code without a copy")
        if isinstance(v, list | tuple):
            _refuse_host(v)


def _to_host(a):
    """CuPy's ``asnumpy``: a host copy."""
    return np.array(a.view(np.ndarray) if isinstance(a, DeviceArray) else a)


def _wrap(out):
    if isinstance(out, np.generic):          # like CuPy: 0-d results stay device arrays
        return np.asarray(out).view(DeviceArray)
    if isinstance(out, np.ndarray) and not isinstance(out, DeviceArray):
        return out.view(DeviceArray)
    if isinstance(out, tuple):
        return tuple(_wrap(o) for o in out)
    if isinstance(out, list):
        return [_wrap(o) for o in out]
    return out


class _StrictNumpy(types.ModuleType):
    """numpy (or one of its submodules), as the device's array module: host arrays in are
    refused, results are device arrays."""

    def __init__(self, name: str, module=np) -> None:
        super().__init__(name)
        self._module = module

    def __getattr__(self, name):
        if name == "asnumpy":
            return _to_host
        attr = getattr(self._module, name)
        if isinstance(attr, types.ModuleType):
            return _StrictNumpy(f"{self.__name__}.{name}", attr)
        if not callable(attr) or isinstance(attr, type) or name in ("dtype",):
            return attr
        if isinstance(attr, np.ufunc):
            return attr

        def call(*args, **kwargs):
            if name not in ("asarray", "array"):
                _refuse_host(args)
            bad = _NUMPY_ONLY_KWARGS.get(name, set()) & set(kwargs)
            if bad:
                raise TypeError(f"{name}() got an unexpected keyword argument {bad.pop()!r}")
            check = _CHECKS.get(f"{self.__name__}.{name}")
            if check is not None:
                check(*args, **kwargs)
            if name in _HOST_SCALAR_ARGS and any(isinstance(a, DeviceArray) for a in args):
                raise TypeError("Implicit conversion to a NumPy array is not allowed: pass "
                                f"{name}() host scalars (int(x), x.item())")
            out = _wrap(attr(*[_plain(a) for a in args], **kwargs))
            if isinstance(out, DeviceArray) and out.dtype.kind in "OSUV":
                raise ValueError(f"Unsupported dtype {out.dtype}")
            return out
        return call


class FakeDeviceBackend(Backend):
    name = "gpu"
    device_name = "/device:GPU:0"
    platform = "simulated"      # runs the generic kernels, not the CUDA-only ones
    array_type = DeviceArray

    def __init__(self) -> None:
        self.xp = _StrictNumpy("fake_device_numpy")
        self.copies_to_device = 0
        self.copies_to_host = 0

    def asarray(self, value, dtype=None):
        self.copies_to_device += 1
        arr = np.array(value, dtype=dtype)
        if arr.dtype.kind in "OSUV":
            raise ValueError(f"Unsupported dtype {arr.dtype}")
        return arr.view(DeviceArray)

    def to_host(self, value):
        if isinstance(value, DeviceArray):
            self.copies_to_host += 1
            return np.array(value.view(np.ndarray))
        return value
