"""``tf.distributions.kl_divergence`` and ``tf.distributions.RegisterKL``.

KL functions are registered per (class of ``a``, class of ``b``) pair; a lookup walks both
classes' method resolution orders and takes the registered pair nearest to the two classes
(the smallest sum of MRO distances), so subclasses inherit their parents' KL.
"""

from __future__ import annotations


from flowgrad.framework.graph import control_dependencies, name_scope
from flowgrad.ops import array_ops as A
from flowgrad.ops import check_ops as C
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R

__all__ = ["kl_divergence", "RegisterKL"]

_DIVERGENCES: dict = {}


def _registered_kl(type_a, type_b):
    best, best_dist = None, None
    for i, parent_a in enumerate(type_a.__mro__):
        for j, parent_b in enumerate(type_b.__mro__):
            fn = _DIVERGENCES.get((parent_a, parent_b))
            if fn is not None and (best_dist is None or i + j < best_dist):
                best, best_dist = fn, i + j
    return best


def kl_divergence(distribution_a, distribution_b, allow_nan_stats=True, name=None):
    """``KL[a || b] = E_a[log a(X) - log b(X)]``, batched, from the function registered for
    the pair of distribution classes. With ``allow_nan_stats=False`` a NaN in the result
    raises ``InvalidArgumentError`` at run time."""
    fn = _registered_kl(type(distribution_a), type(distribution_b))
    if fn is None:
        raise NotImplementedError(
            f"No KL(distribution_a || distribution_b) registered for distribution_a type "
            f"{type(distribution_a).__name__} and distribution_b type "
            f"{type(distribution_b).__name__}; register one with "
            f"@tf.distributions.RegisterKL({type(distribution_a).__name__}, "
            f"{type(distribution_b).__name__})")
    with name_scope("KullbackLeibler"):
        kl_t = fn(distribution_a, distribution_b, name=name)
        if allow_nan_stats:
            return kl_t
        kl_t = A.identity(kl_t, name="kl")
        with control_dependencies([C.Assert(
                M.logical_not(R.reduce_any(M.is_nan(kl_t))),
                [f"KL calculation between {distribution_a.name} and {distribution_b.name} "
                 f"returned NaN values (and was called with allow_nan_stats=False). "
                 f"Values:", kl_t])]):
            return A.identity(kl_t, name="checked_kl")


class RegisterKL:
    """Decorator registering a KL divergence function for a pair of distribution classes:

        @tf.distributions.RegisterKL(MyNormal, MyNormal)
        def _kl(a, b, name=None): ...
    """

    def __init__(self, dist_cls_a, dist_cls_b):
        self._key = (dist_cls_a, dist_cls_b)

    def __call__(self, kl_fn):
        if not callable(kl_fn):
            raise TypeError(f"kl_fn must be callable, received: {kl_fn}")
        if self._key in _DIVERGENCES:
            raise ValueError(f"KL({self._key[0].__name__} || {self._key[1].__name__}) has "
                             f"already been registered to: {_DIVERGENCES[self._key]}")
        _DIVERGENCES[self._key] = kl_fn
        return kl_fn
