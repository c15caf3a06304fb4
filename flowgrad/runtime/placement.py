"""Device placement: which device runs each op of a session, and the copies between them.

A session runs on one device (``backend.select``).  On a GPU session an op still runs on
the host when it is pinned there (``tf.device('/cpu:0')``) or has no device kernel (a
Python callback, printing); its kernel is then wrapped to copy inputs to the host and
outputs back, so copies are decided once, when the plan is built, never per surprise.
Ops that update variables always run where the variables live.  Feeds are copied to the
device once per run and fetched values once back to the host (``Session._execute``).
String tensors stay on the host, and so do the ops that make or read them.
"""

from __future__ import annotations

import sys

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import Operation
from flowgrad.runtime import backend as _backend

# op types whose kernels only run on the host (Python callbacks, host-side effects)
HOST_ONLY = {"PyFunc", "Print", "Assert", "ReportUninitialized", "Multinomial"}


# Inputs that kernels read as Python numbers (shapes, sizes, ranges), TF's "HostMemory"
# arguments: on a device plan a constant given there stays a host array, where any other
# constant is copied to the device once, when the plan is built.
HOST_MEMORY_ARGS = {
    "Reshape": (1,), "BroadcastTo": (1,), "SumToShape": (1,), "Fill": (0,),
    "Conv2DBackpropInput": (0,), "Conv2DBackpropFilter": (1,),
    "DepthwiseConv2dNativeBackpropInput": (0,), "DepthwiseConv2dNativeBackpropFilter": (1,),
    "AvgPoolGrad": (0,), "Range": (0, 1, 2), "Slice": (1, 2), "SliceGrad": (1, 2),
    "RandomStandardNormal": (0,), "RandomUniform": (0,), "TruncatedNormal": (0,),
    "ResizeBilinear": (1,), "ResizeBicubic": (1,), "ResizeArea": (1,),
    "ResizeNearestNeighbor": (1,), "ResizeNearestNeighborGrad": (1,),
}


def host_memory_arg(op_type: str, index: int) -> bool:
    return index in HOST_MEMORY_ARGS.get(op_type, ())


def register_host_only(*op_types: str) -> None:
    """Declares op types whose kernels need host (numpy) arrays."""
    HOST_ONLY.update(op_types)


class Placer:
    """Decides each op's device for one session and binds its kernel accordingly."""

    def __init__(self, device: _backend.Backend, config=None) -> None:
        self.device = device
        self.log = bool(getattr(config, "log_device_placement", False))
        self.soft = bool(getattr(config, "allow_soft_placement", False))

    def device_of(self, op: Operation) -> _backend.Backend:
        want = op.device
        host = _backend.cpu()
        if "GPU" in want and self.device is host:
            if not self.soft:
                raise errors.InvalidArgumentError(
                    None, op, f"Cannot assign a device for operation '{op.name}': it was "
                    f"explicitly assigned to {want} but the only available device is "
                    "/device:CPU:0. Pass tf.ConfigProto(allow_soft_placement=True) to the "
                    "Session to place it on the CPU instead.")
            return host
        if self.device is host:
            return host
        if _has_strings(op):
            return host                   # device arrays hold numbers: strings stay on the host
        if op._opdef is not None and op._opdef.ref_inputs:
            return self.device            # updates run where the variables live
        if "CPU" in want or op.type in HOST_ONLY:
            return host
        return self.device

    def bind(self, op: Operation, make_kernel):
        """The callable the plan runs for ``op``: ``make_kernel(device)`` on its device, wrapped
        with copies when the op runs on the host inside a device session."""
        dev = self.device_of(op)
        if self.log:
            print(f"{op.name}: ({op.type}): /job:localhost/replica:0/task:0{dev.device_name}",
                  file=sys.stderr)
        kernel = make_kernel(dev)
        if dev is self.device:
            if op.type == "Const" and dev is not _backend.cpu():
                value = dev.asarray(op.attrs["value"])     # copied once, when bound
                return lambda: value
            return kernel
        return _on_host(kernel, self.device)


def _has_strings(op: Operation) -> bool:
    return any(t.dtype == _dt.string for t in op.outputs) or \
        any(t.dtype == _dt.string for t in op.inputs)


def to_device(device: _backend.Backend, value):
    """``value`` copied to ``device``; strings and objects stay host arrays (as in TF, string
    tensors live on the host: device arrays hold numbers only)."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype.kind in "OSUV":
        return value
    return device.asarray(value)


def _on_host(kernel, device: _backend.Backend):
    to_host = device.to_host

    def host_kernel(*args):
        out = kernel(*[to_host(a) for a in args])
        if out is None:
            return None
        if isinstance(out, list | tuple):
            return type(out)(to_device(device, o) for o in out)
        return to_device(device, out)
    return host_kernel
