"""The embedded default data set: 1,797 handwritten digits of 8x8 pixels.

These are the UCI "Optical Recognition of Handwritten Digits" test images (E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0) as scikit-learn bundles them (``sklearn.datasets.load_digits``).

Why depend on scikit-learn (the ``[digits]``/``[train]`` extra) instead of shipping the
file: scikit-learn already carries the data with its attribution and licence, keeps it
maintained, and works offline once installed, so flowgrad's own package stays code-only
and its core keeps depending on numpy alone.  The cost is install weight (scikit-learn and
scipy, some tens of MB) for users who want the default training run; anyone who only
builds graphs never pays it.
"""

from __future__ import annotations

import numpy as np

from flowgrad.data.mnist import DataError

TEST_FRACTION = 0.2


def load_digits(test_fraction: float = TEST_FRACTION, seed: int = 0):
    """``((x_train, y_train), (x_test, y_test))``: float32 images in [0, 1] of shape
    (N, 8, 8) and int64 labels, split into a fixed, stratified held-out part."""
    try:
        from sklearn.datasets import load_digits as _sk_load  # noqa: PLC0415
    except ImportError:
        raise DataError("the embedded digits data set needs scikit-learn: "
                        "pip install 'flowgrad[digits]' (or '.[train]' from a checkout)") \
            from None
    bunch = _sk_load()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):   # stratified: the same share of every digit in the test split
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test[idx[:int(round(len(idx) * test_fraction))]] = True
    train_idx = np.flatnonzero(~test)
    test_idx = np.flatnonzero(test)
    rng.shuffle(train_idx)
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])
