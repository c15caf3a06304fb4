"""The op harness on a device against the CPU: on the real GPU when CuPy sees one, else on
the strict simulated device (which checks that every host/device copy is in place)."""

from pathlib import Path

import pytest

from flowgrad.runtime import backend
from flowgrad.testing.fake_device import FakeDeviceBackend
from flowgrad.testing.op_test import check_device_parity, load_cases

OPS_DIR = Path(__file__).resolve().parents[1] / "ops"


CASES = load_cases(OPS_DIR)
REAL_GPU = backend.gpu_available()


@pytest.fixture(scope="module")
def device():
    if REAL_GPU:
        yield backend.gpu()
    else:
        with backend.use_gpu_backend(FakeDeviceBackend()) as dev:
            yield dev


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_on_device_matches_cpu(case, device):
    check_device_parity(case)
