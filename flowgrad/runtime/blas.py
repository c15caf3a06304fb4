"""Direct calls into the BLAS that numpy itself links (OpenBLAS in numpy's wheels).

numpy's ``matmul`` covers ``C = A @ B`` only.  OpenBLAS, already loaded in every numpy
process, also has ``gemm(a, b, c, alpha, beta)``: ``C = alpha * A @ B + beta * C`` in
place.  With ``beta = 1`` an SGD update folds into the weight-gradient GEMM
(``W -= lr * X^T @ dY`` without the gradient matrix ever being written: the compiler's
``fold_sgd_gemm`` pass).

The library is found among the shared objects the process has loaded (numpy loaded it),
under the symbol names of numpy's ``scipy-openblas`` builds (ILP64 and LP64) and of a
plain OpenBLAS; every candidate must reproduce numpy's own product on a probe before it
is used.  Where none is found (another BLAS, another platform) ``available()`` is False
and callers keep their numpy paths.  ``FLOWGRAD_DIRECT_BLAS=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# (prefix, suffix, integer type) of the exported names: scipy-openblas64 (numpy's wheels),
# scipy-openblas32, a plain ILP64 OpenBLAS, a plain OpenBLAS
_NAMINGS = (("scipy_", "64_", ctypes.c_int64), ("scipy_", "", ctypes.c_int),
            ("", "64_", ctypes.c_int64), ("", "", ctypes.c_int))

_lib: dict = {}
_lock = threading.Lock()


def _candidates() -> list[str]:
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.rsplit(None, 1)[-1] if "/" in line else ""
                if "blas" in os.path.basename(p) and p not in paths:
                    paths.append(p)
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*blas*", "numpy/.dylibs/*blas*"):
        paths += [p for p in sorted(glob.glob(os.path.join(root, pattern))) if p not in paths]
    return paths


def _bind(path: str):
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for pre, suf, int_t in _NAMINGS:
        try:
            fns = {kind: getattr(lib, f"{pre}cblas_{kind}gemm{suf}") for kind in "sd"}
            get_threads = getattr(lib, f"{pre}openblas_get_num_threads{suf}")
        except AttributeError:
            continue
        for kind, scalar in (("s", ctypes.c_float), ("d", ctypes.c_double)):
            fns[kind].argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, int_t, int_t,
                                  int_t, scalar, ctypes.c_void_p, int_t, ctypes.c_void_p,
                                  int_t, scalar, ctypes.c_void_p, int_t]
            fns[kind].restype = None
        get_threads.argtypes, get_threads.restype = [], ctypes.c_int
        return {"gemm": {np.dtype(np.float32): fns["s"], np.dtype(np.float64): fns["d"]},
                "get_threads": get_threads, "path": path}
    return None


def _probe(lib) -> bool:
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        a = rng.standard_normal((7, 5)).astype(dt)
        b = rng.standard_normal((3, 5)).astype(dt).T          # F-ordered operand
        c = rng.standard_normal((7, 3)).astype(dt)
        want = 0.5 * (a @ b) + 2.0 * c
        _call(lib, a, b, c, 0.5, 2.0)
        if not np.allclose(c, want, rtol=1e-4, atol=1e-5):
            return False
    return 0 < lib["get_threads"]() < 1 << 16


def _load():
    if "gemm" in _lib or "none" in _lib:
        return _lib if "gemm" in _lib else None
    with _lock:
        if "gemm" not in _lib and "none" not in _lib:
            found = None
            if os.environ.get("FLOWGRAD_DIRECT_BLAS", "1") != "0":
                for path in _candidates():
                    lib = _bind(path)
                    if lib is not None and _probe(lib):
                        found = lib
                        break
            if found is None:
                _lib["none"] = True
            else:
                _lib.update(found)
    return _lib if "gemm" in _lib else None


def available() -> bool:
    """Whether the direct BLAS calls are usable in this process."""
    return _load() is not None


def _layout(m):
    """(transpose flag, leading dimension) of a 2-D operand, or None if BLAS cannot read
    it in place (it must be C- or F-ordered with unit stride on one axis)."""
    item = m.itemsize
    s0, s1 = m.strides
    if s1 == item and s0 >= max(1, m.shape[1]) * item and s0 % item == 0:
        return _NO_TRANS, s0 // item
    if s0 == item and s1 >= max(1, m.shape[0]) * item and s1 % item == 0:
        return _TRANS, s1 // item
    return None


def _call(lib, a, b, c, alpha, beta) -> None:
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    m, k = a.shape
    n = b.shape[1]
    lib["gemm"][c.dtype](_ROW_MAJOR, ta, tb, m, n, k, alpha, _addr(a), lda, _addr(b), ldb,
                         beta, _addr(c), c.strides[0] // c.itemsize)


def _addr(m) -> int:
    return m.__array_interface__["data"][0]


def gemm(a, b, c, alpha: float = 1.0, beta: float = 0.0) -> bool:
    """``c = alpha * a @ b + beta * c`` in place, for 2-D float32/float64 numpy arrays of
    one dtype; ``c`` C-ordered (rows may be strided), ``a``/``b`` C- or F-ordered.
    Returns False (and does nothing) when the direct BLAS cannot take these arrays: the
    caller then does the same with numpy."""
    lib = _load()
    if lib is None or c.dtype not in lib["gemm"] or not (a.dtype == b.dtype == c.dtype):
        return False
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2 or a.shape[1] != b.shape[0] or \
            c.shape != (a.shape[0], b.shape[1]):
        raise ValueError(f"gemm: shapes {a.shape} @ {b.shape} -> {c.shape} do not match")
    if _refused(a, b, c):
        return False
    if 0 in a.shape or 0 in b.shape:
        if beta != 1.0:
            c *= beta
        return True
    _call(lib, a, b, c, alpha, beta)
    return True


def _refused(a, b, c) -> bool:
    return c.strides[1] != c.itemsize or c.strides[0] < max(1, c.shape[1]) * c.itemsize or \
        not c.flags.writeable or _layout(a) is None or _layout(b) is None or \
        np.may_share_memory(c, a) or np.may_share_memory(c, b)


def takes(a, b, c) -> bool:
    """Whether ``gemm(a, b, c, ...)`` would run (rather than return False or raise), without
    running it: lets a caller decide early, where falling back is still cheap to set up."""
    lib = _load()
    return lib is not None and c.dtype in lib["gemm"] and a.dtype == b.dtype == c.dtype and \
        a.ndim == b.ndim == c.ndim == 2 and a.shape[1] == b.shape[0] and \
        c.shape == (a.shape[0], b.shape[1]) and not _refused(a, b, c)
