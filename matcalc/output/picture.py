"""The computational graph as a picture: DOT text, SVG and PNG, as on the lecture slides.

``graph_model`` turns a typed program (and its derivation, for values) into nodes (leaves and gates, labelled with their operation)
and edges (input → gate).  With a point (``--at x=-2,y=5,z=-4``) every edge carries the forward
value of its input (green) and the gradient that flowed back along it (red); the output gets an
extra edge with its value and the seed gradient 1.  ``to_dot`` needs nothing; SVG and PNG use
Graphviz's ``dot`` when it is installed, else SVG is written by ``svgpicture`` (labels never
overlap edges or nodes) and PNG converted from it by cairosvg or ``rsvg-convert``.  Values are
short: a number to ``precision`` digits, a small vector or matrix as rounded entries, a larger
one as its shape; every vector or matrix node shows its shape under it.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from html import escape

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node, topo_order
from matcalc.core.kinds import is_variable
from matcalc.core.optional import optional_module
from matcalc.core.rules import RULES
from matcalc.numeric.evaluate import evaluate
from matcalc.output.explain import explanation, format_value, values_at
from matcalc.output.render import fmt_dim
from matcalc.output.svgpicture import to_svg as svg_of

GREEN = "#1a7f37"
RED = "#cf222e"
LINE = "#444444"


@dataclass
class PNode:
    key: int
    label: str
    leaf: bool
    name: str = ""
    shape: str = ""                      # "3×4" for a vector or matrix, "" for a scalar

    def caption(self) -> str:
        """The line under the node: its name and shape (``z₁ · 3×1``)."""
        return " · ".join(p for p in (self.name, self.shape) if p)


@dataclass
class PEdge:
    src: int
    dst: int | None                      # None: the output's own edge
    value: str = ""
    grad: str = ""


@dataclass
class Model:
    nodes: list[PNode] = field(default_factory=list)
    edges: list[PEdge] = field(default_factory=list)


def _label(n: Node) -> str:
    if is_variable(n):
        return n.attrs[0]
    if A.is_const(n):
        return format_value(float(n.attrs[0]))
    if n.op == "scale":
        c = n.attrs[0]
        return "*" if c == 1 else f"*{format_value(float(c))}" if c != -1 else "−" if len(n.args) == 1 else "*(−1)"
    if n.op == "pow":
        e = n.attrs[0]
        return "1/x" if e == -1 else f"^{e}" if isinstance(e, Fraction) and e.denominator == 1 else f"^({e})"
    if n.op == "matmul" and n.is_scalar and n.args[0].is_row:
        return "·"
    label = RULES[n.op].picture                      # the rule table's label (a function's own name)
    return (label(n) if callable(label) else label) or n.op


def short_value(v, precision: int = 3) -> str:
    """A value as the picture prints it: a number to ``precision`` significant digits; a vector or
    matrix of at most four entries as its rounded entries (``[1, -0.5]``), a larger one as its
    shape (``3×4``), so that a label stays short."""
    if isinstance(v, str):
        return v
    a = np.asarray(v, dtype=float)
    if a.size == 1:
        x = float(a.reshape(-1)[0])
        return format(0.0 if x == 0 else x, f".{precision}g")
    if a.size > 4:
        return "×".join(str(k) for k in (a.shape if a.ndim == 2 else (a.size, 1)))
    rows = a if a.ndim == 2 and min(a.shape) > 1 else [a.reshape(-1)]
    text = ["[" + ", ".join(format(0.0 if x == 0 else float(x), f".{precision}g") for x in r) + "]" for r in rows]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


def _shape_text(n: Node, value=None) -> str:
    """``3×4`` for a vector or matrix (the value's own sizes when there is one), "" for a scalar."""
    if n.is_scalar:
        return ""
    if value is not None:
        a = np.asarray(value)
        if a.ndim == 2:
            return f"{a.shape[0]}×{a.shape[1]}"
    return f"{fmt_dim(n.rows)}×{fmt_dim(n.cols)}"


def graph_model(typed, d=None, at: dict | None = None, precision: int = 3) -> Model:
    """The picture's nodes and edges of ``typed`` (a typed program); ``d``, its derivation with
    steps, names the intermediates, and with ``at`` every edge carries its value and gradient."""
    out = d.typed.output if d is not None else typed.output
    names = explanation(d).names_for("unicode") if d is not None and d.steps else {}
    model = Model()
    order = topo_order([out])
    key = {id(n): i + 1 for i, n in enumerate(order)}      # stable keys: the topological position
    for n in order:
        model.nodes.append(PNode(key[id(n)], _label(n), not n.args, "" if is_variable(n) else names.get(id(n), "")))
    values: dict[int, object] = {}
    sent: dict[tuple[int, int], object] = {}
    if at is not None:
        if d is None:
            raise MatcalcError("values on the picture need a scalar output")
        vals = values_at(d, at)
        cache = vals["cache"]
        values = {key[id(n)]: cache[id(n)] + (n.op == "var" and n.attrs[2] == "index")   # o counts from 1
                  for n in order if id(n) in cache}
        for st in d.steps:
            for inp, g in st.sent:
                (gv,) = evaluate([g], vals["env"], None, dict(cache), leaves=d.typed.variables.values())
                k = (key[id(inp)], key[id(st.node)])
                sent[k] = gv if k not in sent else sent[k] + gv
    for pn, n in zip(model.nodes, order):
        pn.shape = _shape_text(n, values.get(key[id(n)]))
    for n in order:
        for a in dict.fromkeys(n.args):
            e = PEdge(key[id(a)], key[id(n)])
            if at is not None:
                e.value = short_value(values.get(key[id(a)], ""), precision)
                g = sent.get((key[id(a)], key[id(n)]))
                e.grad = short_value(g, precision) if g is not None else ""
            model.edges.append(e)
    e = PEdge(key[id(out)], None)
    if at is not None:
        e.value, e.grad = short_value(values[key[id(out)]], precision), "1"
    model.edges.append(e)
    return model


# ---------------------------------------------------------------------- DOT
def to_dot(model: Model) -> str:
    """Graphviz text.  An edge with numbers passes through a small node of its own, a table whose
    middle row is the edge's line: the forward value above it (green), the gradient below it
    (red), as on the slides; being a node, Graphviz keeps it clear of the other nodes and labels
    (edge labels would sit beside the edge, both above it, and head/tail labels overlap)."""
    lines = ["digraph matcalc {", "  rankdir=LR;", "  nodesep=0.3; ranksep=0.35;", '  node [fontname="Helvetica"];',
             f'  edge [fontname="Helvetica", color="{LINE}", arrowsize=0.8];']
    for n in model.nodes:
        shape = "plaintext" if n.leaf else "circle"
        cap = n.caption()
        label = escape(n.label) + (f'<br/><font point-size="9">{escape(cap)}</font>' if cap else "")
        lines.append(f"  n{n.key} [shape={shape}, label=<{label}>];")
    lines.append('  out [shape=point, style=invis];')
    for i, e in enumerate(model.edges):
        dst = f"n{e.dst}" if e.dst is not None else "out"
        if not (e.value or e.grad):
            lines.append(f"  n{e.src} -> {dst};")
            continue
        table = ('<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
                 f"<tr>{_cell(GREEN, e.value)}</tr>"
                 f'<tr><td port="p" sides="b" border="1" height="1" width="28" color="{LINE}"></td></tr>'
                 f"<tr>{_cell(RED, e.grad)}</tr></table>")
        lines.append(f"  e{i} [shape=plaintext, margin=0, label=<{table}>];")
        lines.append(f"  n{e.src} -> e{i}:p:w [arrowhead=none];")
        lines.append(f"  e{i}:p:e -> {dst};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _cell(color: str, text: str | None) -> str:
    """One table cell of an edge label; an empty one without a font element, which Graphviz
    rejects as a syntax error (an edge with a value but no gradient, as under ``--wrt``)."""
    if not text:
        return "<td></td>"
    return f'<td><font point-size="11" color="{color}">{escape(text)}</font></td>'


def to_svg(model: Model) -> str:
    """A self-contained SVG of the graph (no dependencies; ``svgpicture`` lays it out)."""
    return svg_of(model)


def _png(svg: str, path: str) -> str:
    """An SVG turned into a PNG by a maintained converter: cairosvg (PyPI) or librsvg's
    ``rsvg-convert``; neither present is bad input with what to install (exit 2)."""
    rsvg = shutil.which("rsvg-convert")
    if rsvg:
        subprocess.run([rsvg, "-f", "png", "-o", path], input=svg.encode(), check=True)
        return "rsvg-convert"
    install = ('pip install "matcalc[picture]" (cairosvg), or apt-get install librsvg2-bin or graphviz '
               "(.svg and .dot need none of them)")
    try:
        cairosvg = optional_module("cairosvg", "writing .png without Graphviz", install)
    except OSError as e:                     # cairosvg is there but the cairo library is not
        raise MatcalcError(f"writing .png: cairosvg cannot load the cairo library ({e}); {install}") from None
    cairosvg.svg2png(bytestring=svg.encode(), write_to=path)
    return "cairosvg"


def write(model: Model, path: str, renderer: str = "auto") -> str:
    """Write ``path`` (.dot, .svg or .png); returns the renderer used."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if ext not in ("dot", "gv", "svg", "png"):
        raise MatcalcError(f"-o {path}: the picture is written as .svg, .png or .dot")
    dot_text = to_dot(model)
    if ext in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(dot_text)
        return "dot-text"
    dot = shutil.which("dot") if renderer in ("auto", "dot") else None
    if renderer == "dot" and not dot:
        raise MatcalcError("Graphviz's dot is not installed (apt-get install graphviz); use --renderer builtin")
    if dot:
        subprocess.run([dot, f"-T{ext}", "-o", path], input=dot_text.encode(), check=True)
        return "graphviz"
    if ext == "svg":
        with open(path, "w", encoding="utf-8") as f:
            f.write(to_svg(model))
        return "builtin"
    return _png(to_svg(model), path)
