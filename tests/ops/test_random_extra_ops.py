"""Op harness row for RandomGammaGrad (d sample / d alpha of Gamma samples), against the
implicit-differentiation formula evaluated with scipy."""

import math

import numpy as np
import pytest

from flowgrad.ops.random_extra_ops import random_gamma_grad
from flowgrad.testing.op_test import OpCase, check_op


def _reference(alpha, sample):
    """dx/da = -(dP(a, x)/da) / density(x), with dP/da from scipy's regularized incomplete
    gamma by a fourth-order central difference (through Q = 1 - P right of the mode)."""
    from scipy import special  # noqa: PLC0415 (scipy comes with scikit-learn)

    def one(a, x):
        f = (lambda b: -special.gammaincc(b, x)) if x > a else (lambda b: special.gammainc(b, x))
        h = 1e-3 * a
        dp = (8 * (f(a + h) - f(a - h)) - (f(a + 2 * h) - f(a - 2 * h))) / (12 * h)
        log_density = (a - 1) * math.log(x) - x - special.gammaln(a)
        return -dp / math.exp(log_density)
    return np.array([one(a, x) for a, x in zip(alpha.ravel(), sample.ravel())]).reshape(
        alpha.shape)


ALPHA = np.array([0.3, 0.5, 1.0, 3.0, 20.0, 150.0])
SAMPLE = np.array([0.02, 1.5, 0.7, 6.0, 17.0, 170.0])

CASES = [
    OpCase("random_gamma_grad", random_gamma_grad, _reference, [(6,), (6,)],
           inputs=[ALPHA, SAMPLE], grad=False, rtol=1e-7),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    pytest.importorskip("scipy")
    check_op(case)
