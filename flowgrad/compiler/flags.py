"""Which compiler passes run: one switch per pass, for measuring and for bisecting.

The process-wide defaults live in ``flowgrad.compiler.options`` (all passes on), and can be
changed at run time (``flowgrad.compiler.options.cse = False``) or from the environment
before import: ``FLOWGRAD_PASSES=none`` turns every pass off, ``FLOWGRAD_PASSES=-cse,-inline``
turns the named passes off (``+name`` turns one on), ``FLOWGRAD_PASSES=fold,cse`` turns
only those on.  A session
can override the defaults with TF1's config::

    tf.Session(config=tf.ConfigProto(graph_options=tf.GraphOptions(
        optimizer_options=tf.OptimizerOptions(opt_level=tf.OptimizerOptions.L0))))

(``L0`` = all passes off) or with a mapping ``ConfigProto(graph_options={"cse": False})``.
A plan is compiled with the options in force when it is first needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

PASSES = ("fold", "cse", "simplify", "specialize", "inline", "buffer_reuse", "inplace_updates",
          "fold_sgd_gemm", "fuse_conv_bias", "fuse_elementwise", "cuda_graphs")
_DOC = {
    "fold": "constant folding: ops whose inputs are all constant run once at compile time",
    "cse": "common-subexpression elimination: identical pure ops are computed once",
    "simplify": "algebraic simplification: identity chains, x*1, x+0, reshape-of-reshape, "
                "no-op SumToShape/BroadcastTo/Reshape",
    "specialize": "shape specialization: after the first run, a variant for the fed shapes "
                  "(guarded) where Shape/Size fold to constants and no-op reshapes vanish",
    "inline": "kernel inlining: elementwise ops, matmul, reductions and variable reads are "
              "written straight into the generated code (no per-op Python call)",
    "buffer_reuse": "elementwise ops write into a dead temporary of the same shape (out=)",
    "inplace_updates": "optimizer updates write into the variable's buffer, at the end of the "
                       "run when nothing can fail any more",
    "fold_sgd_gemm": "an in-place SGD update whose step is a MatMul used by nothing else "
                     "becomes one BLAS call w = -lr * a @ b + w at the end of the run (the "
                     "gradient matrix is never written; numpy backend with a direct BLAS; "
                     "equal up to rounding, not bit for bit)",
    "fuse_conv_bias": "CPU plans with oneDNN: a Conv2D and its BiasAdd run as one oneDNN "
                      "convolution, and the bias gradient comes from the filter gradient's "
                      "pass over dy (equal up to rounding)",
    "fuse_elementwise": "device plans: each chain of elementwise ops of one shape runs as one "
                        "generated kernel (CuPy ElementwiseKernel), and the in-place SGD "
                        "updates of a step as one multi-tensor kernel",
    "cuda_graphs": "CUDA plans: a specialized step whose state changes are all in-place "
                   "updates is recorded once as a CUDA graph and replayed (one launch)",
}


@dataclass
class CompilerOptions:
    fold: bool = True
    cse: bool = True
    simplify: bool = True
    specialize: bool = True
    inline: bool = True
    buffer_reuse: bool = True
    inplace_updates: bool = True
    fold_sgd_gemm: bool = True
    fuse_conv_bias: bool = True
    fuse_elementwise: bool = True
    cuda_graphs: bool = True
    # buffer reuse only pays off above this many elements (below it, out= costs more
    # in argument parsing than the allocation it saves)
    reuse_min_elements: int = 2048
    # fold_sgd_gemm only pays off from about this many elements of the variable (below it,
    # the direct BLAS call's fixed cost, ~20 us, is more than writing and reading back the
    # gradient matrix costs)
    fold_min_elements: int = 65536

    def copy(self, **changes) -> "CompilerOptions":
        return replace(self, **changes)

    def enabled(self) -> list[str]:
        return [p for p in PASSES if getattr(self, p)]

    def set_all(self, on: bool) -> None:
        for p in PASSES:
            setattr(self, p, on)

    @classmethod
    def from_env(cls, value: str | None = None) -> "CompilerOptions":
        opts = cls()
        spec = os.environ.get("FLOWGRAD_PASSES", "") if value is None else value
        spec = spec.strip()
        if not spec or spec == "all":
            return opts
        if spec == "none":
            opts.set_all(False)
            return opts
        items = [s.strip() for s in spec.split(",") if s.strip()]
        if not all(s.startswith(("-", "+")) for s in items):
            opts.set_all(False)
        for s in items:
            name = s.lstrip("-+")
            if name not in PASSES:
                raise ValueError(f"FLOWGRAD_PASSES: unknown pass '{name}'; the passes are "
                                 f"{', '.join(PASSES)} (or 'all' / 'none')")
            setattr(opts, name, not s.startswith("-"))
        return opts


class OptimizerOptions:
    """``tf.OptimizerOptions``: ``opt_level`` L0 turns all passes off, L1 (default) on."""

    L1, L0 = 0, -1
    DEFAULT = 0

    def __init__(self, do_common_subexpression_elimination: bool | None = None,
                 do_constant_folding: bool | None = None, opt_level: int = 0,
                 do_function_inlining: bool | None = None, **kwargs) -> None:
        self.opt_level = opt_level
        self.do_common_subexpression_elimination = do_common_subexpression_elimination
        self.do_constant_folding = do_constant_folding
        self.do_function_inlining = do_function_inlining


class GraphOptions:
    """``tf.GraphOptions``: carries ``optimizer_options``."""

    def __init__(self, optimizer_options: OptimizerOptions | None = None, **kwargs) -> None:
        self.optimizer_options = optimizer_options or OptimizerOptions()
        self.__dict__.update(kwargs)


def resolve(base: CompilerOptions, graph_options) -> CompilerOptions:
    """The options for a session: ``base`` overridden by ``ConfigProto.graph_options``."""
    opts = base.copy()
    if graph_options is None:
        return opts
    if isinstance(graph_options, dict):
        names = {f.name for f in fields(CompilerOptions)}
        for k, v in graph_options.items():
            if k not in names:
                raise ValueError(f"graph_options: unknown compiler option '{k}'; known: "
                                 f"{', '.join(sorted(names))}")
            setattr(opts, k, v)
        return opts
    oo = getattr(graph_options, "optimizer_options", None)
    if oo is not None:
        if getattr(oo, "opt_level", 0) == OptimizerOptions.L0:
            opts.set_all(False)
        if oo.do_constant_folding is not None:
            opts.fold = bool(oo.do_constant_folding)
        if oo.do_common_subexpression_elimination is not None:
            opts.cse = bool(oo.do_common_subexpression_elimination)
        if oo.do_function_inlining is not None:
            opts.inline = bool(oo.do_function_inlining)
    return opts
