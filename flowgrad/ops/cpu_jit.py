"""Optional compiled CPU kernels (numba) for the passes numpy makes many times over small
channels: max pooling and its gradient.

numpy runs a ufunc over an array's innermost contiguous run; a channels-last tensor with 6
channels gives it runs of 6 elements, and a 2x2 max-pool gradient is a dozen such passes.
These kernels do each op in one pass over the input, for any window, stride, dilation and
padding.  They are used when

* the ``fast`` extra (numba) is installed,
* ``FLOWGRAD_NUMBA`` is not ``0`` (read on every call, so tests run both paths), and
* the arrays are numpy float32 or float64 arrays (anything else keeps the numpy kernels).

numba is imported when a kernel first runs, never by ``import flowgrad``; the kernels are
compiled with ``cache=True`` (once per machine, into ``__pycache__``; later processes load
the machine code in milliseconds).  The numpy kernels stay the reference: the results are
identical (tests compare both on many geometries, with ties and NaN).
"""

from __future__ import annotations

import os

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_kernels = None          # the compiled module once loaded; False: numba is unavailable


def enabled() -> bool:
    """Whether the compiled kernels are switched on (``FLOWGRAD_NUMBA`` != ``0``) and numba
    can be imported."""
    return os.environ.get("FLOWGRAD_NUMBA", "1") != "0" and _load() is not False


def kernels_for(xp, *arrays):
    """The compiled kernels module when they may run on ``arrays`` (numpy arrays of one
    float32/float64 dtype), else None."""
    if xp is not np or os.environ.get("FLOWGRAD_NUMBA", "1") == "0":
        return None
    dt = arrays[0].dtype
    if dt not in _FLOATS:
        return None
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dt:
            return None
    k = _kernels if _kernels is not None else _load()
    return k or None


def _load():
    global _kernels
    if _kernels is None:
        try:
            from flowgrad.ops import _numba_kernels  # noqa: PLC0415 - imports numba
        except ImportError:
            _kernels = False
        else:
            _kernels = _numba_kernels
    return _kernels


# ----- the entry points the pooling ops call (NHWC, C-contiguous) ---------------------
def max_pool(k, x, wh, ww):
    """``MaxPool`` of a C-contiguous NHWC ``x`` over the windows ``wh``, ``ww``."""
    return k.max_pool(x, wh.k, ww.k, wh.stride, ww.stride, wh.dilation, ww.dilation,
                      wh.pad_before, ww.pad_before, wh.out, ww.out)


def max_pool_grad(k, x, y, dy, wh, ww):
    """``MaxPoolGrad``: ``dy`` routed to the first maximum (row-major) of each window."""
    return k.max_pool_grad(x, y, dy, wh.k, ww.k, wh.stride, ww.stride, wh.dilation,
                           ww.dilation, wh.pad_before, ww.pad_before)
