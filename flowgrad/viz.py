"""Drawings of dataflow graphs: Graphviz DOT text, and SVG/PNG through Graphviz's ``dot``.

    x = tf.placeholder(tf.float32, name="x")
    y = tf.sin(x) * x
    dx, = tf.gradients(y, x)
    print(flowgrad.viz.draw(dx, values={x: 2.0}))        # DOT text, annotated with values
    flowgrad.viz.draw(dx, path="grad.svg")                 # needs Graphviz's `dot`

Forward ops are blue ellipses; gradient ops (everything under a ``gradients/`` scope) are
orange boxes joined by dashed edges; variables are double octagons, placeholders green,
constants grey.  Edges carry the tensor's static shape.  With ``values`` (a feed dict), every
drawn tensor is computed and its value written into its node — the way a lecture annotates
``w1 … w5`` in a worked example.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import numpy as np

from flowgrad.framework.graph import Graph, Operation, Tensor, get_default_graph

_STATEFUL_UPDATES = ("Assign", "Apply", "ScatterUpdate", "MakeIterator", "IteratorGetNext",
                     "Summary", "NoOp", "Print", "SaveV2", "RestoreV2")
_VAR_TYPES = ("VariableV2", "Variable", "VarHandleOp")


_GRAD_SCOPE = re.compile(r"gradients(_\d+)?")


class GraphvizNotFound(RuntimeError):
    """Graphviz's ``dot`` program is needed to render SVG/PNG and is not installed."""


def is_gradient_op(op: Operation) -> bool:
    """True for the ops ``tf.gradients`` (or an optimizer) added: under a gradients/ scope."""
    return any(_GRAD_SCOPE.fullmatch(part) for part in op.name.split("/")[:-1])


def _ops_for(target, backward: bool | None) -> tuple[list[Operation], Graph]:
    if isinstance(target, Graph):
        g = target
        ops = list(g.get_operations())
        if backward is None:
            backward = True
    else:
        items = list(target) if isinstance(target, list | tuple) else [target]
        roots = []
        for it in items:
            el = it._as_graph_element() if hasattr(it, "_as_graph_element") else it
            if not isinstance(el, Tensor | Operation):
                raise TypeError(f"draw() expects a Graph, Tensor or Operation, got {it!r}")
            roots.append(el.op if isinstance(el, Tensor) else el)
        g = roots[0].graph
        seen: set = set()
        stack = list(roots)
        while stack:
            o = stack.pop()
            if o in seen:
                continue
            seen.add(o)
            stack.extend(t.op for t in o.inputs)
            stack.extend(o.control_inputs)
        ops = [o for o in g.get_operations() if o in seen]
        if backward is None:
            backward = True
    if not backward:
        ops = [o for o in ops if not is_gradient_op(o)]
    return ops, g


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_value(v) -> str:
    arr = np.asarray(v)
    if arr.dtype == object:
        return "…"
    if arr.size <= 6:
        if arr.ndim == 0:
            return f"{arr.item():.4g}" if arr.dtype.kind in "fc" else str(arr.item())
        with np.printoptions(precision=3, suppress=True):
            return np.array2string(arr, separator=", ").replace("\n", "")
    return f"{arr.shape} mean {arr.mean():.3g}" if arr.dtype.kind in "fiu" else str(arr.shape)


def _evaluate(ops: list[Operation], g: Graph, values: dict, session) -> dict:
    """Values of the drawn ops' outputs under ``values``; unevaluable ones are left out."""
    from flowgrad.runtime.session import Session  # noqa: PLC0415
    wanted = [t for o in ops if not any(k in o.type for k in _STATEFUL_UPDATES)
              for t in o.outputs if t.dtype.name != "string"]
    own = session is None
    sess = session or Session(graph=g)
    try:
        if own:
            variables = [o for o in ops if o.type in _VAR_TYPES]
            inits = [c for o in variables for c in o.outputs[0].consumers()
                     if c.type == "Assign" and c.name.endswith("/Assign")]
            if inits:
                sess.run(inits, values)
        feed = {k: v for k, v in values.items()}
        try:
            return dict(zip(wanted, sess.run(wanted, feed)))
        except Exception:  # noqa: BLE001 - fall back to one tensor at a time
            out = {}
            for t in wanted:
                try:
                    out[t] = sess.run(t, feed)
                except Exception:  # noqa: BLE001 - a value we cannot show is left out
                    continue
            return out
    finally:
        if own:
            sess.close()


def to_dot(target, values: dict | None = None, backward: bool | None = None, session=None,
           title: str | None = None) -> str:
    """DOT text of ``target`` (a Graph, or the ops a Tensor/Operation depends on)."""
    ops, g = _ops_for(target, backward)
    vals = _evaluate(ops, g, values, session) if values is not None else {}
    drawn = set(ops)
    lines = ["digraph flowgrad {",
             "  rankdir=BT;",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#555555"];']
    if title:
        lines.append(f"  label={_quote(title)}; labelloc=t;")
    for o in ops:
        grad = is_gradient_op(o)
        label = f"{o.name}\\n{o.type}" if o.name.split("/")[-1] != o.type else o.name
        for t in o.outputs:
            if t in vals:
                label += "\\n= " + _format_value(vals[t]).replace('"', "'")
        if o.type in _VAR_TYPES:
            style = 'shape=doubleoctagon, style=filled, fillcolor="#fff2a8"'
        elif o.type in ("Placeholder", "PlaceholderWithDefault"):
            style = 'shape=invhouse, style=filled, fillcolor="#c8f0c8"'
        elif o.type == "Const":
            style = 'shape=box, style="filled,rounded", fillcolor="#eeeeee", fontcolor="#555555"'
        elif grad:
            style = 'shape=box, style=filled, fillcolor="#ffd8a8", color="#d9480f"'
        else:
            style = 'shape=ellipse, style=filled, fillcolor="#cfe2ff", color="#1c5bb5"'
        lines.append(f"  {_quote(o.name)} [label=\"{label}\", {style}];")
    for o in ops:
        grad = is_gradient_op(o)
        for t in o.inputs:
            if t.op not in drawn:
                continue
            shape = "" if t.shape.ndims is None else \
                "(" + ", ".join("?" if d is None else str(d) for d in t.shape.as_list()) + \
                ("," if t.shape.ndims == 1 else "") + ")"
            attrs = [f"label={_quote(shape)}"] if shape else []
            if grad:
                attrs.append('style=dashed, color="#d9480f"')
            lines.append(f"  {_quote(t.op.name)} -> {_quote(o.name)} [{', '.join(attrs)}];")
        for c in o.control_inputs:
            if c in drawn:
                lines.append(f"  {_quote(c.name)} -> {_quote(o.name)} [style=dotted];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, path: str) -> str:
    """Writes ``dot_text`` to ``path``: .dot/.gv as text, .svg/.png/.pdf through ``dot``."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in ("dot", "gv", ""):
        with open(path, "w", encoding="utf-8") as f:
            f.write(dot_text)
        return path
    if ext not in ("svg", "png", "pdf"):
        raise ValueError(f"cannot draw to '{path}': use a .dot, .svg, .png or .pdf file name")
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizNotFound(
            f"cannot write {path}: Graphviz's `dot` program is not installed (install "
            "graphviz, e.g. `apt install graphviz` or `brew install graphviz`), or write DOT "
            "text with a .dot file name and render it elsewhere")
    proc = subprocess.run([exe, f"-T{ext}", "-o", path], input=dot_text.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"Graphviz failed on {path}: {proc.stderr.decode(errors='replace')}")
    return path


def draw(graph_or_tensor=None, values: dict | None = None, backward: bool | None = None,
         path: str | None = None, session=None, title: str | None = None) -> str:
    """DOT text of a graph or of what a tensor depends on; also written to ``path`` if given.

    Args:
      graph_or_tensor: a ``Graph``, a Tensor/Operation or a list of them (default: the
        default graph).
      values: a feed dict; when given, every drawn tensor is evaluated and annotated.
      backward: include gradient nodes (default True); False draws the forward pass only.
      path: ``.dot``, ``.svg``, ``.png`` or ``.pdf`` file to write (the last three need
        Graphviz's ``dot``).
      session: the session to evaluate in (needed when variables hold trained values).
    """
    target = get_default_graph() if graph_or_tensor is None else graph_or_tensor
    text = to_dot(target, values=values, backward=backward, session=session, title=title)
    if path is not None:
        render(text, path)
    return text
