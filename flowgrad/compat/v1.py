"""``flowgrad.compat.v1``: the whole TF1 namespace (flowgrad's top level) under TF2's path."""

import flowgrad as _flowgrad


def __getattr__(name: str):
    try:
        return getattr(_flowgrad, name)
    except AttributeError:
        raise AttributeError(f"module 'flowgrad.compat.v1' has no attribute '{name}'") from None


def __dir__():
    return [n for n in dir(_flowgrad) if not n.startswith("__")]


def disable_eager_execution() -> None:
    """Graph mode is the only mode: nothing to disable."""


def disable_v2_behavior() -> None:
    """Graph mode is the only mode: nothing to disable."""


def enable_eager_execution(*args, **kwargs) -> None:
    raise NotImplementedError("flowgrad implements TF1 graph mode only; eager execution is "
                              "not available.")


def executing_eagerly() -> bool:
    return False
