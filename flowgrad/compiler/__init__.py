"""flowgrad's graph compiler: passes over a session's pruned plan, and code generation.

``options`` holds the process-wide switches (see ``flowgrad.compiler.flags``);
``passes.optimize`` rewrites a program; ``codegen.generate`` writes its Python.
"""

from flowgrad.compiler.flags import (PASSES, CompilerOptions, GraphOptions, OptimizerOptions,
                                       resolve)

options = CompilerOptions.from_env()

__all__ = ["PASSES", "CompilerOptions", "GraphOptions", "OptimizerOptions", "options",
           "resolve"]
