"""``tf.saved_model.main_op``: the op a loader runs after restoring variables."""

from __future__ import annotations

from flowgrad.framework.graph import GraphKeys, get_collection


def main_op():
    """Initializes local variables and lookup tables (TF1's default main op)."""
    from flowgrad.ops.state_ops import group  # noqa: PLC0415
    from flowgrad.ops.variables import local_variables_initializer  # noqa: PLC0415
    return group(local_variables_initializer(), *get_collection(GraphKeys.TABLE_INITIALIZERS))


def main_op_with_restore(restore_op_name):
    """``main_op()`` run after the op named ``restore_op_name``."""
    from flowgrad.framework.graph import control_dependencies, get_default_graph  # noqa: PLC0415
    from flowgrad.ops.state_ops import group  # noqa: PLC0415
    restore = get_default_graph().as_graph_element(restore_op_name)
    with control_dependencies([restore]):
        return group(main_op())
