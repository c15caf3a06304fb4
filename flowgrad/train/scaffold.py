"""``tf.train.Scaffold``: the pieces a training session needs (init, ready and local-init
ops, the summary op, the saver), taken from the graph's collections or created with TF1's
defaults when the scaffold is finalized."""

from __future__ import annotations

from flowgrad.framework.graph import GraphKeys, get_default_graph
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V
from flowgrad.platform import tf_logging as logging
from flowgrad.train.saver import Saver

# TF1's collection of the op that says whether local init may run
READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"


class Scaffold:
    """The pieces a training session needs, taken from the graph's collections or created
    by ``finalize()``: ``init_op`` (global variables initializer), ``ready_op`` (names of
    uninitialized variables), ``ready_for_local_init_op`` (names of uninitialized global
    variables), ``local_init_op`` (local variables and tables), ``summary_op``
    (``tf.summary.merge_all()``) and ``saver`` (the ``SAVERS`` collection's, or a new one
    over the global variables). ``init_fn(scaffold, session)`` runs after ``init_op``.
    Pieces passed to the constructor are used as given and not added to collections."""

    def __init__(self, init_op=None, init_feed_dict=None, init_fn=None, ready_op=None,
                 ready_for_local_init_op=None, local_init_op=None, summary_op=None,
                 saver=None, copy_from_scaffold=None) -> None:
        if copy_from_scaffold is not None:
            if not isinstance(copy_from_scaffold, Scaffold):
                raise TypeError("copy_from_scaffold is not a Scaffold instance.")
            other = copy_from_scaffold

            def pick(mine, theirs):     # tensors have no truth value: test for None
                return mine if mine is not None else theirs
            init_op = pick(init_op, other.init_op)
            init_feed_dict = pick(init_feed_dict, other.init_feed_dict)
            init_fn = pick(init_fn, other._user_init_fn)
            ready_op = pick(ready_op, other.ready_op)
            ready_for_local_init_op = pick(ready_for_local_init_op,
                                           other.ready_for_local_init_op)
            local_init_op = pick(local_init_op, other.local_init_op)
            summary_op = pick(summary_op, other.summary_op)
            saver = pick(saver, other.saver)
        self._user_init_fn = init_fn
        self._init_fn = (lambda sess: init_fn(self, sess)) if init_fn else None
        self._init_op = init_op
        self._init_feed_dict = init_feed_dict
        self._ready_op = ready_op
        self._ready_for_local_init_op = ready_for_local_init_op
        self._local_init_op = local_init_op
        self._summary_op = summary_op
        self._saver = saver

    def finalize(self) -> "Scaffold":
        """Creates the missing pieces, then finalizes the default graph."""
        graph = get_default_graph()
        if self._init_op is None:
            self._init_op = Scaffold.get_or_default(
                "init_op", GraphKeys.INIT_OP, V.global_variables_initializer)
        if self._ready_op is None:
            self._ready_op = Scaffold.get_or_default(
                "ready_op", GraphKeys.READY_OP, V.report_uninitialized_variables)
        if self._ready_for_local_init_op is None:
            self._ready_for_local_init_op = Scaffold.get_or_default(
                "ready_for_local_init_op", READY_FOR_LOCAL_INIT_OP,
                lambda: V.report_uninitialized_variables(V.global_variables()))
        if self._local_init_op is None:
            self._local_init_op = Scaffold.get_or_default(
                "local_init_op", GraphKeys.LOCAL_INIT_OP, Scaffold.default_local_init_op)
        if self._summary_op is None:
            from flowgrad.summary.ops import merge_all  # noqa: PLC0415
            self._summary_op = Scaffold.get_or_default("summary_op", GraphKeys.SUMMARY_OP,
                                                       merge_all)
        if self._saver is None:
            self._saver = _get_saver_or_default()
        self._saver.build()
        graph.finalize()
        logging.info("Graph was finalized.")
        return self

    @property
    def init_fn(self):
        return self._init_fn

    @property
    def init_op(self):
        return self._init_op

    @property
    def ready_op(self):
        return self._ready_op

    @property
    def ready_for_local_init_op(self):
        return self._ready_for_local_init_op

    @property
    def local_init_op(self):
        return self._local_init_op

    @property
    def summary_op(self):
        return self._summary_op

    @property
    def saver(self):
        return self._saver

    @property
    def init_feed_dict(self):
        return self._init_feed_dict

    @staticmethod
    def get_or_default(arg_name: str, collection_key: str, default_constructor):
        """The single item of ``collection_key``, or a new one (added to the collection)."""
        elements = get_default_graph().get_collection(collection_key)
        if elements:
            if len(elements) > 1:
                raise RuntimeError(f'More than one item in the collection "{collection_key}". '
                                   "Please indicate which one to use by passing it to the "
                                   f"tf.train.Scaffold constructor as: "
                                   f"tf.train.Scaffold({arg_name}=item to use)")
            return elements[0]
        op = default_constructor()
        if op is not None:
            get_default_graph().add_to_collection(collection_key, op)
        return op

    @staticmethod
    def default_local_init_op():
        """``group(local_variables_initializer(), tables_initializer())``."""
        graph = get_default_graph()
        tables = graph.get_collection(GraphKeys.TABLE_INITIALIZERS)
        return S.group(V.local_variables_initializer(),
                       S.group(*tables, name="init_all_tables") if tables else
                       S.no_op(name="init_all_tables"))


def _get_saver_or_default():
    """The saver of the ``SAVERS`` collection, or a new ``Saver`` (added to it)."""
    graph = get_default_graph()
    savers = graph.get_collection(GraphKeys.SAVERS)
    if savers:
        if len(savers) > 1:
            raise RuntimeError(f"More than one item in collection {GraphKeys.SAVERS}. Please "
                               "indicate which one to use by passing it to the constructor.")
        return savers[0]
    saver = Saver(sharded=True, allow_empty=True)
    graph.add_to_collection(GraphKeys.SAVERS, saver)
    return saver
