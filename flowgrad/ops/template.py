"""``tf.make_template``: a function that creates its variables once and reuses them."""

from __future__ import annotations

import functools

from flowgrad.ops import variables as V


def make_template(name_, func_, create_scope_now_: bool = False, unique_name_=None,
                  custom_getter_=None, **kwargs):
    """Wraps ``func_`` so the first call creates variables under a fresh variable scope
    named ``name_`` and every later call reuses them."""
    state = {"scope": None}
    func = functools.partial(func_, **kwargs)

    def template(*args, **kw):
        if state["scope"] is None:
            with V.variable_scope(unique_name_, default_name=name_,
                                  custom_getter=custom_getter_) as scope:
                state["scope"] = scope
                return func(*args, **kw)
        with V.variable_scope(state["scope"], reuse=True):
            return func(*args, **kw)

    if create_scope_now_:
        with V.variable_scope(unique_name_, default_name=name_) as scope:
            state["scope"] = scope
    template.__name__ = f"template_{name_}"
    return template
