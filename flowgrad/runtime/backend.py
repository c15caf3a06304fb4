"""The one seam between ops and a device: which array module (``xp``) kernels receive.

CPU kernels get numpy.  The GPU backend hands them CuPy; this is the only module that
imports cupy, and only when a GPU device is asked for, so CPU-only use never touches it.
"""

from __future__ import annotations

import numpy as np


class Backend:
    """A device's array module plus conversions to and from host numpy arrays."""

    name = "cpu"
    xp = np

    def asarray(self, value, dtype=None):
        return np.asarray(value, dtype=dtype)

    def to_host(self, value):
        return value

    def synchronize(self) -> None:
        pass


class CupyBackend(Backend):
    name = "gpu"

    def __init__(self) -> None:
        import cupy  # noqa: PLC0415 - the only cupy import in flowgrad
        self.xp = cupy

    def asarray(self, value, dtype=None):
        return self.xp.asarray(value, dtype=dtype)

    def to_host(self, value):
        return self.xp.asnumpy(value) if isinstance(value, self.xp.ndarray) else value

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()


_CPU = Backend()
_GPU: list = []


def cpu() -> Backend:
    return _CPU


def gpu_available() -> bool:
    try:
        return _gpu() is not None
    except Exception:  # noqa: BLE001 - any import or driver failure means "no GPU"
        return False


def _gpu() -> Backend | None:
    if not _GPU:
        try:
            import cupy  # noqa: PLC0415
            _GPU.append(CupyBackend() if cupy.cuda.runtime.getDeviceCount() > 0 else None)
        except Exception:  # noqa: BLE001
            _GPU.append(None)
    return _GPU[0]
