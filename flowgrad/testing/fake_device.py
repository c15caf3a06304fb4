"""A strict simulated accelerator for testing device plumbing on machines without a GPU.

Its arrays (``DeviceArray``) are numpy arrays tagged as living on the device, and its array
module refuses host arrays the way CuPy does, so a feed, constant, random draw or fetch
that misses its copy fails loudly in tests.
"""

from __future__ import annotations

import types

import numpy as np

from flowgrad.runtime.backend import Backend


class DeviceArray(np.ndarray):
    """A numpy array standing for memory on the simulated device."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse_host(inputs + tuple(kwargs.get("out", ()) or ()))
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
            return _wrap(attr(*[_plain(a) for a in args], **kwargs))
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
        return np.array(value, dtype=dtype).view(DeviceArray)

    def to_host(self, value):
        if isinstance(value, DeviceArray):
            self.copies_to_host += 1
            return np.array(value.view(np.ndarray))
        return value
