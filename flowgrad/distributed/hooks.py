"""Making the replicas start equal: broadcast the variables of the root rank to all others.

Ranks initialise their variables independently (different random seeds give different
weights); one broadcast after initialisation (or after rank 0 restored a checkpoint) makes
every replica start from the root's values, after which identical averaged updates keep
them equal.
"""

from __future__ import annotations

from flowgrad.distributed import ops as D
from flowgrad.framework.graph import GraphKeys, Operation, get_default_graph
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V

_CACHE_KEY = "flowgrad.distributed.broadcast_ops"


def broadcast_variables(variables, root_rank: int = 0, name: str | None = None):
    """``root_rank``'s values of ``variables`` assigned on every rank.

    ``broadcast_variables(var_list, root_rank)`` builds and returns the op (Horovod's form;
    one fused broadcast per dtype).  ``broadcast_variables(sess, root_rank)`` runs, in that
    session, the broadcast of all global variables (built once per graph and reused): call
    it on every rank after ``global_variables_initializer`` or after rank 0 restored a
    checkpoint.
    """
    if hasattr(variables, "run") and hasattr(variables, "graph"):
        session = variables
        g = session.graph
        session.run(_cached_op(g, root_rank, g.get_collection(GraphKeys.GLOBAL_VARIABLES)))
        return None
    return _broadcast_op(list(variables), root_rank, name)


def _broadcast_op(variables, root_rank: int, name: str | None) -> Operation:
    g = variables[0].graph if variables else get_default_graph()
    with g.as_default(), g.name_scope(name or "broadcast_variables") as scope:
        if not variables:
            return S.no_op(name=scope)
        values = D.grouped_broadcast([v.value() for v in variables], root_rank,
                                     names=[v.op.name for v in variables])
        assigns = [S.assign(v, x).op for v, x in zip(variables, values)]
        return S.group(*assigns, name=scope)


def broadcast_global_variables(root_rank: int) -> Operation:
    """An op that broadcasts every global variable from ``root_rank`` (Horovod's name)."""
    return _broadcast_op(V.global_variables(), root_rank, "broadcast_global_variables")


def _cached_op(graph, root_rank: int, variables) -> Operation:
    """The broadcast op of ``variables`` in ``graph``, built on first use."""
    for (root, vs), o in graph.get_collection(_CACHE_KEY):
        if root == root_rank and len(vs) == len(variables) and \
                all(a is b for a, b in zip(vs, variables)):
            return o
    with graph.as_default():
        o = _broadcast_op(list(variables), int(root_rank), None)
    graph.add_to_collection(_CACHE_KEY, ((int(root_rank), tuple(variables)), o))
    return o


class BroadcastGlobalVariablesHook:
    """A session hook that broadcasts all global variables from ``root_rank`` once the
    session exists (Horovod's ``BroadcastGlobalVariablesHook``).

    With a plain session::

        hook = hvd.BroadcastGlobalVariablesHook(0)
        hook.begin()                       # builds the op (before the graph is finalised)
        sess.run(tf.global_variables_initializer())
        hook.after_create_session(sess, None)
    """

    def __init__(self, root_rank: int, device: str = "") -> None:
        self.root_rank = int(root_rank)
        self.bcast_op = None

    def begin(self) -> None:
        g = get_default_graph()
        if self.bcast_op is None or self.bcast_op.graph is not g:
            self.bcast_op = _cached_op(g, self.root_rank,
                                      g.get_collection(GraphKeys.GLOBAL_VARIABLES))

    def after_create_session(self, session, coord) -> None:
        if self.bcast_op is None or self.bcast_op.graph is not session.graph:
            with session.graph.as_default():
                self.begin()
        session.run(self.bcast_op)

    # the other hook methods, so that this works wherever a SessionRunHook does
    def before_run(self, run_context):
        return None

    def after_run(self, run_context, run_values) -> None:
        return None

    def end(self, session) -> None:
        return None
