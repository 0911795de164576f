"""Steps in index notation (``--index``), as the lecture derives ‖W x‖² by W entry by entry:

    ∂f/∂qₖ = 2 qₖ                                   the upstream gradient, entry k
    ∂qₖ/∂Wᵢⱼ = 1{k=i} xⱼ                            the local partial, per entry
    ∂f/∂Wᵢⱼ = Σₖ ∂f/∂qₖ ∂qₖ/∂Wᵢⱼ = Σₖ 2 qₖ 1{k=i} xⱼ = 2 qᵢ xⱼ   the sum over k, the delta collapsing it
    ∂f/∂W = 2 q xᵀ                                  back to matrix form

``index_steps(derivation)`` reads the gradient steps (``output.steps.explanation``): for each
node from the output back and each input, the upstream gradient's entries (indices k, l of the
node), the local partials read off the rule table's JVP by the index-form walker
(``second_order.indexform``: indices i, j of the input, Kronecker deltas), their product summed
over k, l, the same with the deltas contracted, and the input's gradient in matrix form (the
step's shape-convention contribution, which diff computed).  Every printed form is an
``IndexForm`` or a graph node, so the tests evaluate each one against the contribution and
central differences.  Nothing here changes the derivation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError, UnsupportedError
from matcalc.core.graph import ONE, Node
from matcalc.core.kinds import is_leaf
from matcalc.core.rules import RULES
from matcalc.output.latexsteps import Block, Row, document_body, mathjax
from matcalc.output.render import Printer
from matcalc.output.steps import Explanation, explanation
from matcalc.second_order.indexform import IndexForm, Term, _contract, _entry, _subscripts, index_form, render_index

NODE_INDICES = ("k", "l")          # the node's entries (summed over)
INPUT_INDICES = ("i", "j")         # the input's entries (free)


@dataclass
class IndexInput:
    """What one input receives, in index notation."""

    input: Node
    contribution: Node                 # the step's shape-convention gradient (matrix form)
    local: IndexForm | None            # ∂node[k,l]/∂input[i,j]; None: no index form (``missing`` says why)
    summed: IndexForm | None           # Σ_kl G[k,l] ∂node[k,l]/∂input[i,j], as written
    contracted: IndexForm | None       # the same, Kronecker deltas contracted
    entry: IndexForm                   # the contribution's entry [i, j]
    missing: str = ""


@dataclass
class IndexStep:
    node: Node
    upstream: Node
    upstream_entry: IndexForm          # the upstream gradient's entry [k, l]
    inputs: list[IndexInput] = field(default_factory=list)


@dataclass
class IndexSteps:
    explanation: Explanation
    steps: list[IndexStep]


def _free(n: Node, names: tuple[str, str]):
    return (names[0] if n.rows != ONE else None, names[1] if n.cols != ONE else None)


def _form(terms: list[Term], free, dims) -> IndexForm:
    return IndexForm([t for t in terms if t.coef != 0], free, dict(dims))


def index_steps(d) -> IndexSteps:
    """The gradient steps of ``d`` (derived with ``steps=True``) in index notation."""
    ex = explanation(d, named=False)          # the index forms read each upstream written out
    out: list[IndexStep] = []
    for st in ex.steps:
        k, l_ = _free(st.node, NODE_INDICES)
        dims = {ix: dim for ix, dim in zip((k, l_), st.node.shape) if ix is not None}
        up_entry = _form([_entry(st.upstream, k, l_)], (None, None, k, l_), dims)
        step = IndexStep(st.node, st.upstream, up_entry)
        for loc in st.inputs:
            step.inputs.append(_input(st, loc, k, l_, dims))
        out.append(step)
    return IndexSteps(ex, out)


def _input(st, loc, k, l_, node_dims) -> IndexInput:
    inp = loc.input
    i, j = _free(inp, INPUT_INDICES)
    in_dims = {ix: dim for ix, dim in zip((i, j), inp.shape) if ix is not None}
    entry = _form([_entry(loc.contribution, i, j)], (None, None, i, j), in_dims)
    T = A.var("∂" + (inp.attrs[0] if inp.op == "var" else "t"), inp.shape, int(inp.is_column))
    ts = tuple(T if a is inp else None for a in st.node.args)
    try:
        local = index_form(RULES[st.node.op].jvp(st.node, ts), T, (k or "k", l_ or "l", i or "i", j or "j"))
    except (UnsupportedError, MatcalcError) as e:
        return IndexInput(inp, loc.contribution, None, None, None, entry, str(e).split("\n")[0])
    dims = {**node_dims, **in_dims, **local.dims}
    g = _entry(st.upstream, k, l_)
    sums = tuple(x for x in (k, l_) if x is not None)
    summed = [g.times(t).times(Term(Fraction(1), sums=sums)) for t in local.terms]
    contracted = [_contract(t, dims) for t in summed]
    return IndexInput(inp, loc.contribution, local, _form(summed, (None, None, i, j), dims),
                      _form(contracted, (None, None, i, j), dims), entry)


# ---------------------------------------------------------------------- printing
class _Printer:
    def __init__(self, ex: Explanation, style: str):
        self.style = style
        self.names = ex.names_for(style)
        self.printer = Printer(style, self.names)
        self.ex = ex

    def lab(self, n: Node) -> str:
        if id(n) in self.names:
            return self.printer.var_name(self.names[id(n)])
        return self.printer.p(n, 3)

    def indexed(self, n: Node, free) -> str:
        """A node's name with the entry's indices: qₖ, Wᵢⱼ, (z₁)ₖ."""
        base = self.lab(n)
        ixs = [x for x in free if x is not None]
        if not ixs:
            return base
        if any(c in base for c in "₀₁₂₃₄₅₆₇₈₉_ ") or len(base) > 1 and self.style != "text" and not base.isalpha():
            base = f"({base})"
        return base + _subscripts(ixs, self.style)

    def grad(self, of: str, by: str) -> str:
        if self.style == "latex":
            return rf"\frac{{\partial {of}}}{{\partial {by}}}"
        return f"d{of}/d{by}" if self.style == "text" else f"∂{of}/∂{by}"

    def form(self, f: IndexForm) -> str:
        return render_index(f, self.printer, self.style, indicator=True)


def _content(s: IndexSteps, style: str) -> dict:
    p = _Printer(s.explanation, style)
    ex = s.explanation
    o = p.printer.var_name(ex.output) if style == "latex" else ex.output
    graph = [{"name": p.lab(n), "definition": Printer(style, {k: v for k, v in p.names.items() if k != id(n)})(n)}
             for _, n, _ in ex.graph]
    steps = []
    for st in s.steps:
        kf = _free(st.node, NODE_INDICES)
        node_ix = p.indexed(st.node, kf)
        item = {"node": p.lab(st.node), "definition": graph_definition(graph, p.lab(st.node)),
                "upstream_label": p.grad(o, node_ix), "upstream": p.form(st.upstream_entry), "inputs": []}
        for inp in st.inputs:
            jf = _free(inp.input, INPUT_INDICES)
            in_ix = p.indexed(inp.input, jf)
            sums = [x for x in kf if x is not None]
            chain = p.grad(o, node_ix) + (" " if style != "latex" else r" \, ") + p.grad(node_ix, in_ix)
            if sums:
                chain = _sum_sign(sums, style) + chain
            item["inputs"].append({
                "input": p.lab(inp.input), "local_label": p.grad(node_ix, in_ix),
                "local": None if inp.local is None else p.form(inp.local), "missing": inp.missing,
                "downstream_label": p.grad(o, in_ix), "chain": chain,
                "summed": None if inp.summed is None else p.form(inp.summed),
                "contracted": None if inp.contracted is None else p.form(inp.contracted),
                "entry": p.form(inp.entry), "matrix_label": p.grad(o, p.lab(inp.input)),
                "matrix": p.printer(inp.contribution), "scalar": inp.input.is_scalar,
                "entry_simple": all(id(e.node) in p.names or is_leaf(e.node) for t in inp.entry.terms
                                    for e in t.entries)})
        steps.append(item)
    finals = [{"label": p.grad(o, p.printer.var_name(f.var) if style == "latex" else f.var),
               "gradient": _eq(p.printer(f.result), Printer(style)(f.result))} for f in ex.finals]
    return {"expr": ex.expr, "output": o, "graph": graph, "steps": steps, "gradients": finals}


def graph_definition(graph: list[dict], name: str) -> str:
    return next((g["definition"] for g in graph if g["name"] == name), name)


def _sum_sign(ixs: list[str], style: str) -> str:
    if style == "latex":
        return rf"\sum_{{{','.join(ixs)}}} "
    if style == "text":
        return f"sum[{','.join(ixs)}] "
    return "Σ" + _subscripts(ixs, "unicode") + " "


def _eq(*parts) -> str:
    out: list[str] = []
    for x in parts:
        if x is not None and (not out or out[-1] != x):
            out.append(x)
    return " = ".join(out)


def _rows(st: dict, i: dict) -> list[tuple[str, str]]:
    """(word, equation) lines of one input: local, chain (sum, collapsed, the entry), matrix."""
    rows = []
    if i["local"] is None:
        rows.append(("local", f"{i['local_label']}: {i['missing']}"))
    else:
        rows.append(("local", f"{i['local_label']} = {i['local']}"))
        simple = i["entry"] if i["entry_simple"] else None      # 2 qᵢ, not 2 (q xᵀ)ᵢⱼ
        rows.append(("chain", _eq(i["downstream_label"], i["chain"], i["summed"], i["contracted"], simple)))
    if not i["scalar"]:
        rows.append(("matrix", _eq(i["matrix_label"], i["entry"] if i["local"] is None else None, i["matrix"])))
    return rows


def _text(c: dict, style: str) -> str:
    arrow = "->" if style == "text" else "→"
    lines = ["Computational graph (forward, in topological order):"]
    lines += [f"  {g['name']} = {g['definition']}" for g in c["graph"]]
    lines += ["", (f"Backward pass in index notation (from {c['output']} back; k, l index a node's "
                   "entries, i, j its input's):")]
    for st in c["steps"]:
        head = st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"
        lines.append(f"- node {head}")
        lines.append(f"    upstream  {st['upstream_label']} = {st['upstream']}")
        for i in st["inputs"]:
            lines.append(f"    {arrow} to {i['input']}:")
            lines += [f"        {w:<9} {eq}" for w, eq in _rows(st, i)]
    lines += ["", "Result:"]
    lines += [f"  {f['label']} = {f['gradient']}" for f in c["gradients"]]
    return "\n".join(lines)


def latex_blocks(c: dict) -> list[Block]:
    """The index steps (content in the latex style) as titled blocks of labelled rows
    (``latexsteps``): one equality per line, so long sums fit the page."""
    blocks = [Block("Computational graph", text="(forward, in topological order):",
                    rows=[Row("", g["name"], [g["definition"]]) for g in c["graph"]]),
              Block("Backward pass in index notation", text=f"from ${c['output']}$ back, node by node.")]
    for st in c["steps"]:
        head = st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"
        rows = [Row("upstream", st["upstream_label"], [st["upstream"]])]
        for i in st["inputs"]:
            rows.append(Row("to", "", [i["input"]]))
            for w, eq in _rows(st, i):
                if ": " in eq and w == "local":          # no local derivative in index form: say why
                    label, why = eq.split(": ", 1)
                    rows.append(Row(w, label, [rf"\text{{{why}}}"], relation=":"))
                    continue
                lhs, *parts = eq.split(" = ")
                rows.append(Row(w, lhs, parts))
        blocks.append(Block("Node", head, "", rows))
    result = Block("Result")
    for f in c["gradients"]:
        result.rows.append(Row("", f["label"], f["gradient"].split(" = ")))
    return [*blocks, result]


def _latex(c: dict) -> str:
    return document_body(latex_blocks(c))


def _markdown(c: dict) -> str:
    lines = [f"### Steps in index notation for `{c['expr']}`", "", "**Computational graph**:", ""]
    lines += [f"- `{g['name']} = {g['definition']}`" for g in c["graph"]]
    lines += ["", f"**Backward pass** from `{c['output']}` (k, l index a node's entries, i, j its input's):", ""]
    for st in c["steps"]:
        head = st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"
        lines.append(f"- node `{head}`: upstream `{st['upstream_label']} = {st['upstream']}`")
        for i in st["inputs"]:
            lines.append(f"  - to `{i['input']}`: " + "; ".join(f"{w} `{eq}`" for w, eq in _rows(st, i)))
    lines += ["", "**Result:**", ""]
    lines += [f"- `{f['label']} = {f['gradient']}`" for f in c["gradients"]]
    return "\n".join(lines)


def render_index_steps(s: IndexSteps, style: str = "unicode") -> str:
    """The index-notation steps printed: unicode, text, latex (a paragraph and an alignat* per
    node), markdown, json or mathjax (Markdown with MathJax displays, for Jupyter)."""
    if style == "json":
        return json.dumps({"expr": s.explanation.expr, "kind": "index_steps",
                           **{k: _content(s, k) for k in ("unicode", "latex", "text")}}, ensure_ascii=False, indent=2)
    if style == "latex":
        return _latex(_content(s, "latex"))
    if style == "markdown":
        return _markdown(_content(s, "unicode"))
    if style == "mathjax":
        return (f"**Steps in index notation for** `{s.explanation.expr}`\n\n"
                + mathjax(latex_blocks(_content(s, "latex"))))
    if style not in ("unicode", "text"):
        raise MatcalcError(f"unknown style {style!r}: one of unicode, text, latex, markdown, json, mathjax")
    return _text(_content(s, style), style)


def explain_index(d, style: str = "unicode") -> str:
    """``matcalc derive --steps --index``: the steps of ``d`` in index notation, printed."""
    return render_index_steps(index_steps(d), style)
