"""``backward_passes_per_step``: accumulate gradients locally, reduce and apply every N-th run.

The train op is one ``MPIAggregateApply`` node.  Each run adds this rank's gradients to a
per-session accumulator; every ``N``-th run it averages them over the N passes, allreduces
them over the ranks (one fused collective) and runs the wrapped optimizer's update.  The
update is a sub-graph (the optimizer's ``apply_gradients`` on placeholders standing for the
reduced gradients) that the kernel compiles once with the session's planner and calls only
on those runs -- a functional conditional, so no ``tf.cond`` is needed.  Its assignments
go through the session's undo log like any other, so a failing run still rolls back.

Limitation: the update sub-graph runs without the outer run's feeds, so the wrapped
optimizer's hyper-parameters must not depend on placeholders fed in ``sess.run``.
"""

from __future__ import annotations

from flowgrad.distributed import _context, collectives
from flowgrad.distributed import ops as D
from flowgrad.framework.graph import GraphKeys
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, convert_to_tensor, op
from flowgrad.ops import array_ops as A
from flowgrad.runtime.placement import register_host_only
from flowgrad.runtime.plan import compile_plan

_STATE_KEY = "flowgrad.distributed.aggregation"


def _no_outputs(node: NodeSpec):
    D._each_input(node)
    return []


@op("MPIAggregateApply", shape=_no_outputs, stateful=True, name="DistributedAggregateApply")
def _aggregate_apply(xp, *grads, ctx, passes, update, feeds, reduce_op=collectives.AVERAGE,
                     compression="none", names=()):
    """Accumulates ``grads``; every ``passes``-th run reduces them and runs ``update``."""
    state = ctx.resources.setdefault((_STATE_KEY, ctx.op), {"count": 0, "acc": None})
    arrays = list(grads)
    acc = [g.copy() for g in arrays] if state["acc"] is None else \
        [a + g for a, g in zip(state["acc"], arrays)]
    count = state["count"] + 1
    if count < passes:
        state["acc"], state["count"] = acc, count
        return None
    for a in acc:
        a /= passes
    w = _context.world()
    D.check_signature(ctx, w, acc, (passes, reduce_op, compression), names)
    reduced = collectives.allreduce(w, acc, reduce_op, compression == "fp16",
                                    pool=D.buffer_pool(ctx))
    plan = state.get("plan")
    if plan is None:
        g = ctx.op.graph
        targets = [g.as_graph_element(update)]
        placeholders = [g.as_graph_element(n) for n in feeds]
        sess = ctx.session
        subplan = getattr(sess, "compile_subplan", None)
        plan = state["plan"] = subplan([], targets, placeholders) if subplan else \
            compile_plan([], targets, placeholders, sess._bind, sess._ref_of)
    device = ctx.session._backend         # the sub-plan's feeds live on the session's device
    plan.fn(*[device.asarray(r) for r in reduced])
    state["acc"], state["count"] = None, 0
    return None


NotDifferentiable("MPIAggregateApply")
register_host_only("MPIAggregateApply")


def aggregated_apply(dist_opt, grads_and_vars, global_step, name):
    """The train op of a ``DistributedOptimizer`` with ``backward_passes_per_step > 1``."""
    present = [(g, v) for g, v in grads_and_vars if g is not None]
    if not present:
        raise ValueError("No gradients provided for any variable.")
    grads = [convert_to_tensor(g) for g, _ in present]
    graph = grads[0].graph
    with graph.as_default(), graph.name_scope(name or dist_opt.get_name()):
        with graph.name_scope("reduced_gradients"):
            feeds = [A.placeholder(g.dtype, g.shape, name="grad") for g in grads]
        update = dist_opt.optimizer.apply_gradients(
            list(zip(feeds, [v for _, v in present])), global_step=global_step)
        train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
        if update in train_ops:
            train_ops.remove(update)
        train = _aggregate_apply(
            grads, passes=dist_opt._passes, update=update.name,
            feeds=tuple(f.name for f in feeds), reduce_op=dist_opt._op,
            compression=D._wire(dist_opt._compression),
            names=tuple(v.op.name for _, v in present), name="aggregate_apply")
    train_ops.append(train)
    return train
