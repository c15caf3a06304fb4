"""``tf.Print`` / ``tf.print``: pass a tensor through and log values when it runs."""

from __future__ import annotations

import sys

from flowgrad.framework.registry import op
from flowgrad.framework.registry import convert_to_tensor


@op("Print", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype), stateful=True,
    may_alias=True)
def _print(xp, input, *data, message="", first_n=-1, summarize=3, ctx=None):  # noqa: A002
    count = ctx.resources.setdefault(("print", ctx.op), [0])
    count[0] += 1
    if first_n < 0 or count[0] <= first_n:
        parts = [str(xp.asarray(d).reshape(-1)[:summarize].tolist()) for d in data]
        print(message + "".join(parts), file=sys.stderr)
    return input


def Print(input_, data, message=None, first_n=None, summarize=None, name=None):  # noqa: N802
    """TF1's ``tf.Print``: returns ``input_``; prints ``data`` to stderr each time it runs."""
    return _print_op(input_, list(data), message or "", -1 if first_n is None else first_n,
                     3 if summarize is None else summarize, name)


def _print_op(input_, data, message, first_n, summarize, name):
    from flowgrad.framework.registry import make_op, get_opdef  # noqa: PLC0415
    inputs = [convert_to_tensor(input_)] + [convert_to_tensor(d) for d in data]
    return make_op(get_opdef("Print"), inputs,
                   {"message": message, "first_n": first_n, "summarize": summarize}, name)


def print_v2(*inputs, output_stream=sys.stderr, sep=" ", end="\n", name=None):
    """``tf.print``: an op that prints its inputs when run."""
    from flowgrad.ops.state_ops import no_op  # noqa: PLC0415
    tensors = [i for i in inputs if hasattr(i, "_as_graph_element")]
    text = sep.join("{}" if hasattr(i, "_as_graph_element") else str(i) for i in inputs)
    if not tensors:
        return no_op(name=name)
    return _print_op(tensors[0], tensors, text.replace("{}", "") , -1, 1000, name).op
