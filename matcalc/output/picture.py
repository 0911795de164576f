"""The computational graph as a picture: DOT text, SVG and PNG, as on the lecture slides.

``graph_model`` turns a typed program (and its derivation, for values) into nodes (leaves and gates, labelled with their operation)
and edges (input → gate).  With a point (``--at x=-2,y=5,z=-4``) every edge carries the forward
value of its input (green) and the gradient that flowed back along it (red); the output gets an
extra edge with its value and the seed gradient 1.  ``to_dot`` needs nothing; SVG and PNG use
Graphviz's ``dot`` when it is installed, else SVG is written here (a layered layout by
topological generation) and PNG falls back to matplotlib if that is installed.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from html import escape

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node, topo_order
from matcalc.core.kinds import is_variable
from matcalc.core.optional import optional_module
from matcalc.core.rules import RULES
from matcalc.numeric.evaluate import evaluate
from matcalc.output.explain import explanation, format_value, values_at

GREEN = "#1a7f37"
RED = "#cf222e"


@dataclass
class PNode:
    key: int
    label: str
    leaf: bool
    name: str = ""


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


def graph_model(typed, d=None, at: dict | None = None) -> Model:
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
    for n in order:
        for a in dict.fromkeys(n.args):
            e = PEdge(key[id(a)], key[id(n)])
            if at is not None:
                e.value = format_value(values.get(key[id(a)], ""))
                g = sent.get((key[id(a)], key[id(n)]))
                e.grad = format_value(g) if g is not None else ""
            model.edges.append(e)
    e = PEdge(key[id(out)], None)
    if at is not None:
        e.value, e.grad = format_value(values[key[id(out)]]), "1"
    model.edges.append(e)
    return model


# ---------------------------------------------------------------------- DOT
def to_dot(model: Model) -> str:
    lines = ["digraph matcalc {", "  rankdir=LR;", '  node [fontname="Helvetica"];', '  edge [fontname="Helvetica"];']
    for n in model.nodes:
        shape = "plaintext" if n.leaf else "circle"
        label = escape(n.label) + (f'<br/><font point-size="9">{escape(n.name)}</font>' if n.name else "")
        lines.append(f"  n{n.key} [shape={shape}, label=<{label}>];")
    lines.append('  out [shape=point, style=invis];')
    for e in model.edges:
        dst = f"n{e.dst}" if e.dst is not None else "out"
        parts = []
        if e.value:
            parts.append(f'<font color="{GREEN}">{escape(e.value)}</font>')
        if e.grad:
            parts.append(f'<font color="{RED}">{escape(e.grad)}</font>')
        label = f" [label=<{'<br/>'.join(parts)}>]" if parts else ""
        lines.append(f"  n{e.src} -> {dst}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- layout and SVG
def layout(model: Model) -> tuple[dict[int | None, tuple[float, float]], float, float]:
    """Positions by topological generation (columns), ordered in each column by barycentre."""
    level: dict[int, int] = {}
    inputs: dict[int, list[int]] = {n.key: [] for n in model.nodes}
    for e in model.edges:
        if e.dst is not None:
            inputs[e.dst].append(e.src)
    for n in model.nodes:                                    # nodes come in topological order
        level[n.key] = 1 + max((level[s] for s in inputs[n.key]), default=-1)
    for n in model.nodes:                                    # a leaf sits just before its first use
        if n.leaf:
            uses = [level[e.dst] for e in model.edges if e.src == n.key and e.dst is not None]
            if uses:
                level[n.key] = min(uses) - 1
    columns: dict[int, list[int]] = {}
    for n in model.nodes:
        columns.setdefault(level[n.key], []).append(n.key)
    # rows, column by column: a gate sits at the mean height of its inputs, leaves below the gates,
    # then pushed apart to one row at least
    row: dict[int, float] = {}
    for lv in sorted(columns):
        col = columns[lv]
        gates = [k for k in col if inputs[k]]
        wish = {k: sum(row[s] for s in inputs[k]) / len(inputs[k]) for k in gates}
        below = max(wish.values(), default=-1.0)
        for k in col:
            if not inputs[k]:
                below += 1.0
                wish[k] = below
        last_row = None
        for k in sorted(col, key=lambda k: wish[k]):
            r = wish[k] if last_row is None else max(wish[k], last_row + 1.0)
            row[k] = last_row = r
    dx, dy, pad = 170.0, 95.0, 60.0
    pos: dict[int | None, tuple[float, float]] = {}
    for k, r in row.items():
        pos[k] = (pad + level[k] * dx, pad + r * dy)
    last = max(columns)
    out_key = next(e.src for e in model.edges if e.dst is None)
    pos[None] = (pad + (last + 1) * dx - 40, pos[out_key][1])
    return pos, pad * 2 + (last + 1) * dx - 40, pad * 2 + max(row.values()) * dy


def to_svg(model: Model) -> str:
    """A self-contained SVG of the graph (no dependencies)."""
    pos, width, height = layout(model)
    r = 22
    leaf = {n.key for n in model.nodes if n.leaf}
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="14">'),
           ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>'),
           '<rect width="100%" height="100%" fill="white"/>']
    for e in model.edges:
        x1, y1 = pos[e.src]
        x2, y2 = pos[e.dst]
        x1 += 14 if e.src in leaf else r
        x2 -= r if e.dst is not None else 0
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#444" '
                   'stroke-width="1.5" marker-end="url(#arrow)"/>')
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        if e.value:
            out.append(f'<text x="{mx:.1f}" y="{my - 6:.1f}" text-anchor="middle" fill="{GREEN}" '
                       f'class="value">{escape(e.value)}</text>')
        if e.grad:
            out.append(f'<text x="{mx:.1f}" y="{my + 17:.1f}" text-anchor="middle" fill="{RED}" '
                       f'class="grad">{escape(e.grad)}</text>')
    for n in model.nodes:
        x, y = pos[n.key]
        if n.leaf:
            out.append(f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="end" font-weight="bold">{escape(n.label)}</text>')
            continue
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="#f6f8fa" stroke="#444" stroke-width="1.5"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle">{escape(n.label)}</text>')
        if n.name:
            out.append(f'<text x="{x:.1f}" y="{y + r + 14:.1f}" text-anchor="middle" font-size="11" '
                       f'fill="#555">{escape(n.name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _png_matplotlib(model: Model, path: str) -> None:
    matplotlib = optional_module("matplotlib", "writing .png without Graphviz",
                                 "apt-get install graphviz, or pip install matplotlib (.svg and .dot need neither)")
    matplotlib.use("Agg")
    plt = optional_module("matplotlib.pyplot", "writing .png", "pip install matplotlib")
    pos, width, height = layout(model)
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    leaf = {n.key for n in model.nodes if n.leaf}
    for e in model.edges:
        (x1, y1), (x2, y2) = pos[e.src], pos[e.dst]
        x1 += 14 if e.src in leaf else 22
        x2 -= 22 if e.dst is not None else 0
        ax.annotate("", (x2, y2), (x1, y1), arrowprops={"arrowstyle": "->", "color": "#444"})
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        ax.text(mx, my - 6, e.value, color=GREEN, ha="center", va="bottom")
        ax.text(mx, my + 6, e.grad, color=RED, ha="center", va="top")
    for n in model.nodes:
        x, y = pos[n.key]
        if n.leaf:
            ax.text(x, y, n.label, ha="right", va="center", weight="bold")
        else:
            ax.add_patch(plt.Circle((x, y), 22, fc="#f6f8fa", ec="#444"))
            ax.text(x, y, n.label, ha="center", va="center")
    fig.savefig(path)
    plt.close(fig)


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
    _png_matplotlib(model, path)
    return "matplotlib"

