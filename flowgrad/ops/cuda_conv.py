"""CUDA kernels of Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter through cuDNN.

cuDNN is reached through NVIDIA's frontend package (``nvidia-cudnn-frontend``, import name
``cudnn``).  One operation graph is built per convolution (op, shapes, dtype, layout,
strides, dilations, padding), cached, and executed with raw device pointers on CuPy's
current stream.  Activations stay in their layout (NHWC or NCHW: cuDNN takes both through
strides); TF's HWIO filter is transposed once per call to the filter layout cuDNN pairs
with the activations (KRSC for NHWC, KCRS for NCHW).  Padding is TF's, as ``conv_geometry``
computes it: SAME's odd cell goes after the input, through cuDNN's pre/post padding.

Whenever cuDNN cannot run a convolution -- ``cudnn`` not importable, no engine for the
configuration, float64 (see ``_IO_TYPES``), an empty tensor, ``$FLOWGRAD_CUDNN=0`` -- the
generic kernel runs on CuPy instead, so a GPU session never fails for lack of cuDNN.
``stats()`` says which path ran how often, and why cuDNN refused what it refused.

CuPy arrives as the kernels' ``xp``; ``cudnn`` is imported when a kernel first runs on a
CUDA device, so importing flowgrad (or running on the CPU) loads neither.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable

import numpy as np

from flowgrad.ops.conv_geometry import Window, explicit_pair, spatial_axes, window


class _Plan:
    """A built cuDNN graph and the tensors its execute call binds."""

    __slots__ = ("graph", "a", "b", "out", "workspace")

    def __init__(self, graph, a, b, out) -> None:
        self.graph, self.a, self.b, self.out = graph, a, b, out
        self.workspace = graph.get_workspace_size()


class _State:
    """The process's cuDNN module, its handles (one per device) and built graphs."""

    def __init__(self) -> None:
        self.cudnn = None
        self.import_error: str | None = None
        self.handles: dict[int, int] = {}
        self.streams: dict[int, int] = {}
        self.plans: dict[tuple, _Plan | None] = {}
        self.reasons: dict[tuple, str] = {}        # why a configuration runs the generic kernel
        self.counts = {"cudnn": 0, "generic": 0}

    def module(self):
        """``cudnn``, or None when it cannot be imported (the reason is kept)."""
        if self.cudnn is None and self.import_error is None:
            try:
                import cudnn  # noqa: PLC0415 - optional, GPU sessions only
                self.cudnn = cudnn
            except Exception as e:  # noqa: BLE001 - a missing library is "no cuDNN"
                self.import_error = f"{type(e).__name__}: {e}"
        return self.cudnn


_STATE = _State()


def enabled() -> bool:
    """Whether cuDNN may be used (the default); ``$FLOWGRAD_CUDNN=0`` runs the generic
    kernels on CuPy instead."""
    return os.environ.get("FLOWGRAD_CUDNN", "1") != "0"


def _tf32() -> bool:
    """``$FLOWGRAD_CUDNN_TF32=1`` lets float32 convolutions use TF32 tensor cores (faster,
    about three decimal digits)."""
    return os.environ.get("FLOWGRAD_CUDNN_TF32", "0") == "1"


def available() -> bool:
    """Whether ``cudnn`` imports (says nothing about a device)."""
    return _STATE.module() is not None


def stats() -> dict:
    """How many convolutions ran through cuDNN and through the generic kernels, and why
    configurations were refused (``{key: reason}``)."""
    return {"counts": dict(_STATE.counts), "unsupported": dict(_STATE.reasons),
            "import_error": _STATE.import_error}


def reset_stats() -> None:
    _STATE.counts.update(cudnn=0, generic=0)


# ----- layouts ---------------------------------------------------------------------------
def _act_strides(dims: tuple, data_format: str) -> list[int]:
    """Element strides of an activation given as NCHW ``dims`` stored in ``data_format``."""
    n, c, h, w = dims
    if data_format == "NHWC":
        return [h * w * c, 1, w * c, c]
    return [c * h * w, h * w, w, 1]


def _filter_to_cudnn(xp, f, data_format: str):
    """TF's HWIO filter as the contiguous array cuDNN reads: KRSC (NHWC) or KCRS (NCHW)."""
    return xp.ascontiguousarray(f.transpose(3, 0, 1, 2) if data_format == "NHWC"
                                else f.transpose(3, 2, 0, 1))


def _filter_from_cudnn(xp, f, data_format: str):
    """Inverse of ``_filter_to_cudnn``: back to a contiguous HWIO array."""
    return xp.ascontiguousarray(f.transpose(1, 2, 3, 0) if data_format == "NHWC"
                                else f.transpose(2, 3, 1, 0))


def _nchw(shape, data_format: str) -> tuple:
    """A 4-D shape in ``data_format`` as (N, C, H, W)."""
    n, a, b, c = (int(d) for d in shape)
    return (n, c, a, b) if data_format == "NHWC" else (n, a, b, c)


def _in_layout(nchw: tuple, data_format: str) -> tuple:
    n, c, h, w = nchw
    return (n, h, w, c) if data_format == "NHWC" else (n, c, h, w)


def _windows(h: int, w: int, kh: int, kw: int, strides, padding, explicit, data_format,
             dilations) -> tuple[Window, Window]:
    ha, wa, _ = spatial_axes(data_format)
    return (window(h, kh, strides[ha], dilations[ha], padding, explicit_pair(explicit, ha)),
            window(w, kw, strides[wa], dilations[wa], padding, explicit_pair(explicit, wa)))


# ----- graphs ----------------------------------------------------------------------------
# float64 is left to the generic kernels: through nvidia-cudnn-frontend 1.26 on an H200 its
# double graphs built and ran but returned values off by arbitrary powers of two (the
# look of a scale factor read at the wrong width), in every layout and direction.
_IO_TYPES = {"float32": ("FLOAT", "FLOAT"), "float16": ("HALF", "FLOAT")}


def _handle(xp) -> tuple[int, int]:
    """``(device, handle)``: the current device and its cuDNN handle, bound to CuPy's
    current stream."""
    cudnn = _STATE.cudnn
    dev = xp.cuda.runtime.getDevice()
    h = _STATE.handles.get(dev)
    if h is None:
        h = _STATE.handles[dev] = cudnn.create_handle()
    stream = xp.cuda.get_current_stream().ptr
    if _STATE.streams.get(dev) != stream:
        cudnn.set_stream(handle=h, stream=stream)
        _STATE.streams[dev] = stream
    return dev, h


def _build(kind: str, dtype: np.dtype, fmt: str, x: tuple, k: tuple, y: tuple,
           wh: Window, ww: Window, handle: int) -> _Plan:
    """One convolution graph.  ``x``, ``k``, ``y``: the NCHW dims of the input, the KCRS
    dims of the filter and the NCHW dims of the output; ``kind``: fprop, dgrad or wgrad."""
    cudnn = _STATE.cudnn
    io, compute = (getattr(cudnn.data_type, t) for t in _IO_TYPES[dtype.name])
    g = cudnn.pygraph(io_data_type=io, intermediate_data_type=compute,
                      compute_data_type=compute, handle=handle)
    geom = {"pre_padding": [wh.pad_before, ww.pad_before],
            "post_padding": [wh.pad_after, ww.pad_after],
            "stride": [wh.stride, ww.stride], "dilation": [wh.dilation, ww.dilation],
            "compute_data_type": compute}
    tx = (list(x), _act_strides(x, fmt))
    ty = (list(y), _act_strides(y, fmt))
    tk = (list(k), _act_strides(k, fmt))        # KRSC / KCRS: the activation strides' form
    if kind == "fprop":
        a = g.tensor(dim=tx[0], stride=tx[1], data_type=io)
        b = g.tensor(dim=tk[0], stride=tk[1], data_type=io)
        out, od = g.conv_fprop(image=a, weight=b, **geom), ty
    elif kind == "dgrad":
        a = g.tensor(dim=ty[0], stride=ty[1], data_type=io)
        b = g.tensor(dim=tk[0], stride=tk[1], data_type=io)
        out, od = g.conv_dgrad(loss=a, filter=b, **geom), tx
    else:
        a = g.tensor(dim=tx[0], stride=tx[1], data_type=io)
        b = g.tensor(dim=ty[0], stride=ty[1], data_type=io)
        out, od = g.conv_wgrad(image=a, loss=b, **geom), tk
    out.set_output(True).set_dim(od[0]).set_stride(od[1]).set_data_type(io)
    g.validate()
    g.build_operation_graph()
    g.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
    if dtype.itemsize >= 4 and not _tf32():
        # float32 stays float32 math, as on the CPU: no TF32 tensor-core engines (10-bit
        # mantissas: errors near 1e-3), which cuDNN would otherwise pick on Ampere and later
        notes = cudnn.numerical_note
        g.deselect_numeric_notes([notes.TENSOR_CORE, notes.DOWN_CONVERT_INPUTS,
                                  notes.REDUCED_PRECISION_REDUCTION])
    g.check_support()
    g.build_plans()
    return _Plan(g, a, b, out)


def _plan(xp, key: tuple, *args) -> tuple[_Plan | None, tuple, int]:
    """``(plan, full key, handle)``: the cached graph for ``key`` (built on first use; None
    when cuDNN cannot run it), its key with the device, and the device's handle."""
    if not enabled() or _STATE.module() is None:
        return None, key, 0
    try:
        dev, handle = _handle(xp)
    except Exception as e:  # noqa: BLE001 - e.g. the cuDNN library itself missing
        _STATE.cudnn, _STATE.import_error = None, f"handle: {type(e).__name__}: {e}"
        warnings.warn(f"cuDNN is not usable, convolutions run as CuPy GEMMs: {e}",
                      RuntimeWarning, stacklevel=3)
        return None, key, 0
    key = (dev, _tf32()) + key
    if key in _STATE.plans:
        return _STATE.plans[key], key, handle
    try:
        plan = _build(*args, handle=handle)
    except Exception as e:  # noqa: BLE001 - unsupported configurations and build failures
        plan = None
        _STATE.reasons[key] = f"{type(e).__name__}: {e}"
    _STATE.plans[key] = plan
    return plan, key, handle


def _run(xp, key: tuple, plan: _Plan, handle: int, a, b, out) -> bool:
    """Executes ``plan``; False (and the plan dropped, with a warning) if cuDNN fails."""
    ws = xp.empty(plan.workspace, dtype=xp.uint8) if plan.workspace else None
    try:
        plan.graph.execute({plan.a: a.data.ptr, plan.b: b.data.ptr, plan.out: out.data.ptr},
                           ws.data.ptr if ws is not None else 0, handle=handle)
    except Exception as e:  # noqa: BLE001 - fall back rather than fail the step
        _STATE.plans[key] = None
        _STATE.reasons[key] = f"execute: {type(e).__name__}: {e}"
        warnings.warn(f"cuDNN failed to run a convolution ({key[2]}), using the generic "
                      f"kernel from now on: {e}", RuntimeWarning, stacklevel=3)
        return False
    _STATE.counts["cudnn"] += 1
    return True


def _usable(dtype, *shapes) -> bool:
    return dtype.name in _IO_TYPES and all(d > 0 for s in shapes for d in s)


# ----- the kernels -----------------------------------------------------------------------
def conv2d_kernel(generic: Callable) -> Callable:
    """The CUDA kernel of Conv2D; ``generic`` (the op's own kernel) runs where cuDNN cannot."""

    def conv2d_cuda(xp, input, filter, *, strides, padding, explicit_paddings=(),  # noqa: A002
                    data_format="NHWC", dilations=(1, 1, 1, 1)):
        kh, kw, ci, co = (int(d) for d in filter.shape)
        x = _nchw(input.shape, data_format)
        if x[1] == ci and input.dtype == filter.dtype and _usable(input.dtype, x, filter.shape):
            wh, ww = _windows(x[2], x[3], kh, kw, strides, padding, explicit_paddings,
                              data_format, dilations)
            y = (x[0], co, wh.out, ww.out)
            k = (co, ci, kh, kw)
            key = ("fprop", input.dtype.str, data_format, x, k, wh, ww)
            if wh.out > 0 and ww.out > 0:
                plan, key, h = _plan(xp, key, "fprop", input.dtype, data_format, x, k, y, wh, ww)
                if plan is not None:
                    out = xp.empty(_in_layout(y, data_format), dtype=input.dtype)
                    if _run(xp, key, plan, h, xp.ascontiguousarray(input),
                            _filter_to_cudnn(xp, filter, data_format), out):
                        return out
        _STATE.counts["generic"] += 1
        return generic(xp, input, filter, strides=strides, padding=padding,
                       explicit_paddings=explicit_paddings, data_format=data_format,
                       dilations=dilations)

    return conv2d_cuda


def _grad_plan(xp, kind: str, dtype, data_format, x: tuple, filter_hwio: tuple, dy_shape,
               strides, padding, explicit_paddings, dilations):
    """``(plan, key, handle, k)`` of a backward convolution (``kind``: dgrad or wgrad) with
    input ``x`` (NCHW order) and an HWIO filter, or None where cuDNN does not apply."""
    kh, kw, ci, co = filter_hwio
    dy = _nchw(dy_shape, data_format)
    if x[1] != ci or not _usable(dtype, x, dy, filter_hwio):
        return None
    wh, ww = _windows(x[2], x[3], kh, kw, strides, padding, explicit_paddings, data_format,
                      dilations)
    k = (co, ci, kh, kw)
    if dy != (x[0], co, wh.out, ww.out):
        return None
    plan, key, h = _plan(xp, (kind, dtype.str, data_format, x, k, wh, ww), kind, dtype,
                         data_format, x, k, dy, wh, ww)
    return None if plan is None else (plan, key, h, k)


def conv2d_backprop_input_kernel(generic: Callable) -> Callable:
    """The CUDA kernel of Conv2DBackpropInput (cuDNN's dgrad)."""

    def conv2d_backprop_input_cuda(xp, input_sizes, filter, out_backprop, *,  # noqa: A002
                                   strides, padding, explicit_paddings=(),
                                   data_format="NHWC", dilations=(1, 1, 1, 1)):
        x = _nchw(input_sizes, data_format)
        got = _grad_plan(xp, "dgrad", filter.dtype, data_format, x,
                         tuple(int(d) for d in filter.shape), out_backprop.shape, strides,
                         padding, explicit_paddings, dilations) \
            if out_backprop.dtype == filter.dtype else None
        if got is not None:
            plan, key, h, _ = got
            dx = xp.empty(_in_layout(x, data_format), dtype=filter.dtype)
            if _run(xp, key, plan, h, xp.ascontiguousarray(out_backprop),
                    _filter_to_cudnn(xp, filter, data_format), dx):
                return dx
        _STATE.counts["generic"] += 1
        return generic(xp, input_sizes, filter, out_backprop, strides=strides,
                       padding=padding, explicit_paddings=explicit_paddings,
                       data_format=data_format, dilations=dilations)

    return conv2d_backprop_input_cuda


def conv2d_backprop_filter_kernel(generic: Callable) -> Callable:
    """The CUDA kernel of Conv2DBackpropFilter (cuDNN's wgrad)."""

    def conv2d_backprop_filter_cuda(xp, input, filter_sizes, out_backprop, *,  # noqa: A002
                                    strides, padding, explicit_paddings=(),
                                    data_format="NHWC", dilations=(1, 1, 1, 1)):
        x = _nchw(input.shape, data_format)
        got = _grad_plan(xp, "wgrad", input.dtype, data_format, x,
                         tuple(int(d) for d in filter_sizes), out_backprop.shape, strides,
                         padding, explicit_paddings, dilations) \
            if out_backprop.dtype == input.dtype else None
        if got is not None:
            plan, key, h, k = got
            dk = xp.empty(_in_layout(k, data_format), dtype=input.dtype)
            if _run(xp, key, plan, h, xp.ascontiguousarray(input),
                    xp.ascontiguousarray(out_backprop), dk):
                return _filter_from_cudnn(xp, dk, data_format)
        _STATE.counts["generic"] += 1
        return generic(xp, input, filter_sizes, out_backprop, strides=strides,
                       padding=padding, explicit_paddings=explicit_paddings,
                       data_format=data_format, dilations=dilations)

    return conv2d_backprop_filter_cuda
