"""TF1's public binary arithmetic functions, with TF1's default op names.

``tf.add(a, b)`` makes an op named ``Add`` in TF1, while ``a + b`` makes ``add``; TF1 code
that fetches ``"Add:0"`` or freezes ``["Mul"]`` depends on the difference.  The builders in
``math_ops`` keep the operators' lower-case names (library code built from them gets the names
TF1's operator-based library code had); these wrappers give the public functions theirs.
"""

from __future__ import annotations

from flowgrad.ops import math_ops as M


def add(x, y, name: str | None = None):
    """``tf.add``: ``x + y`` elementwise (op ``Add``, type ``AddV2``)."""
    return M.add(x, y, name=name or "Add")


def subtract(x, y, name: str | None = None):
    """``tf.subtract``: ``x - y`` elementwise (op ``Sub``)."""
    return M.subtract(x, y, name=name or "Sub")


def multiply(x, y, name: str | None = None):
    """``tf.multiply``: ``x * y`` elementwise (op ``Mul``)."""
    return M.multiply(x, y, name=name or "Mul")


def floormod(x, y, name: str | None = None):
    """``tf.floormod`` / ``tf.mod``: remainder of floor division (op ``FloorMod``)."""
    return M.floormod(x, y, name=name or "FloorMod")


mod = floormod


def pow(x, y, name: str | None = None):  # noqa: A001 - TF's name
    """``tf.pow``: ``x ** y`` elementwise (op ``Pow``)."""
    return M.pow(x, y, name=name or "Pow")


def scalar_mul(scalar, x, name: str | None = None):
    """``tf.scalar_mul``: ``scalar * x`` (op ``Mul``)."""
    return multiply(scalar, x, name=name)
