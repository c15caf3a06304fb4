"""Known-pattern fusion on the CPU: a convolution with its bias.

``Conv2D -> BiasAdd`` (NHWC, float32, the convolution's output used by nothing else) runs
as one oneDNN convolution that adds the bias as it writes its output, instead of a second
pass over the output (every ``tf.layers.conv2d`` and ``conv -> bias_add`` network has it;
LeNet's step: 6 % faster, paired A/B at one thread).  The fused node keeps the two ops'
own kernels as its fallback, for inputs oneDNN does not take: results are the unfused
ones up to float32 rounding.  Specialized plans only (the recording run that precedes
them keeps every op's output), and only where oneDNN is installed (``runtime/onednn.py``);
the compiler option ``fuse_conv_bias`` turns it off.

Not fused, by measurement: the bias gradient into the filter gradient's pass over ``dy``
(oneDNN's ``diff_bias``): LeNet's first convolution took 0.65 ms that way against 0.39 +
0.13 ms for the filter gradient and numpy's sum apart; a dense layer's ``MatMul`` with its
bias (oneDNN's matmul bias): the mlp step no faster (paired A/B 0.998, one thread).
"""

from __future__ import annotations

import numpy as np

from flowgrad.compiler.ir import Node, Program, Value
from flowgrad.runtime import onednn

_CHANNELS_LAST = ("NHWC", None)


class PatternNode(Node):
    """Nodes fused into one kernel call (``opdef`` None: not an op).  ``op`` is the first
    member's: errors and traces name it."""

    __slots__ = ("members",)

    def __init__(self, members: list[Node], kind: str, args: list, outs: list[Value],
                 kernel) -> None:
        super().__init__(members[0].op, args, outs, kernel)
        self.type = kind
        self.opdef = None
        self.members = members
        for o in outs:
            o.producer = self


def _float32_nhwc(node: Node) -> bool:
    out = node.outs[0] if node.outs else None
    return out is not None and out.dtype == np.float32 and \
        node.op.attrs.get("data_format") in _CHANNELS_LAST


def fuse_conv_bias(prog: Program) -> Program:
    """Fuses each convolution with its bias add (see the module's docstring).  The fused
    node stands where the bias add did: the bias (a variable read just before the add) is
    ready there, and the convolution's output had no other reader."""
    if not any(n.type == "Conv2D" for n in prog.nodes) or not onednn.available():
        return prog             # (a plan without convolutions does not load oneDNN)
    readers: dict[int, list[Node]] = {}
    for node in prog.nodes:
        for a in node.args:
            if isinstance(a, Value):
                readers.setdefault(id(a), []).append(node)
    fetched = {id(v) for v in prog.fetches}
    fused: dict[int, Node] = {}         # the bias add -> the fused node
    convs: set[int] = set()
    for node in prog.nodes:
        if node.type != "Conv2D" or not _float32_nhwc(node):
            continue
        y = node.outs[0]
        add = readers.get(id(y), [])
        if len(add) != 1 or add[0].type != "BiasAdd" or id(y) in fetched or \
                add[0].args[0] is not y or add[0].args[1] is y or not _float32_nhwc(add[0]):
            continue
        add = add[0]
        fused[id(add)] = PatternNode([node, add], "Conv2D+BiasAdd", [*node.args, add.args[1]],
                                     [add.outs[0]], _forward_kernel(node, add))
        convs.add(id(node))
    if fused:
        prog.nodes = [fused.get(id(n), n) for n in prog.nodes if id(n) not in convs]
    return prog


def _forward_kernel(conv: Node, bias_add: Node):
    from flowgrad.ops.conv_ops import conv2d_bias_onednn  # noqa: PLC0415 - ops import us

    attrs = dict(conv.op.attrs)
    conv_k, add_k = conv.kernel, bias_add.kernel

    def conv_bias(x, w, b):
        y = conv2d_bias_onednn(x, w, b, attrs)
        return add_k(conv_k(x, w), b) if y is None else y
    return conv_bias
