"""The runnable examples in the docstrings of the linear-algebra and array modules."""

import doctest

import pytest

from flowgrad.ops import array_extra_ops, diag_ops, einsum_ops, linalg_ops
from flowgrad.platform import test_case


@pytest.mark.parametrize("module", [linalg_ops, einsum_ops, diag_ops, array_extra_ops,
                                    test_case], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
