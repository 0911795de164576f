"""Explain a derivation: the computational graph and every chain-rule step, printed.

``explain(derivation, style)`` prints the ``Explanation`` that ``steps.explanation`` builds from
the steps ``diff.gradients`` recorded (``derive(..., steps=True)``): as unicode, text, LaTeX
(``align*``), Markdown or JSON.  Each step names its gate (``GATES``: what the node does to the
gradient flowing back, in the words of the lectures).  Nothing here changes the derivation.
``explanation``, ``parse_at``, ``values_at``, ``values_text`` and ``format_value`` are
re-exported from ``steps`` and ``values``.
"""
from __future__ import annotations

import json

from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node
from matcalc.core.naming import subscripted
from matcalc.core.rules import RULES
from matcalc.output.chain_print import render_chain
from matcalc.output.chain_steps import jacobian_chain
from matcalc.output.latexsteps import Block, Row, document_body, mathjax
from matcalc.output.render import Printer
from matcalc.output.steps import Explanation, Final, Local, StepInfo, explanation
from matcalc.output.values import format_value, parse_at, values_at, values_text

__all__ = ["GATES", "STYLES", "Explanation", "Final", "Local", "StepInfo", "explain", "explanation",
           "format_value", "parse_at", "render", "values_at", "values_text"]

STYLES = ("unicode", "text", "latex", "markdown", "json", "mathjax")   # mathjax: Markdown with displays (Jupyter)

GATES = {op: r.gate for op, r in RULES.items() if r.gate}   # the lecture's sentence per gate, from the table


# ---------------------------------------------------------------------- printing
class _Out:
    """Prints nodes and labels of one explanation in one style."""

    def __init__(self, ex: Explanation, style: str):
        self.ex = ex
        self.style = "latex" if style == "latex" else "text" if style == "text" else "unicode"
        self.names = ex.names_for(self.style)
        self.printer = Printer(self.style, self.names)
        self.fresh_names: dict[str, str] = {}  # an ASCII fresh name -> its unicode spelling
        for k, v in ex.names.items():
            if k in ex.fresh:
                self.fresh_names.setdefault(v, self.names[k])

    def node(self, n: Node) -> str:
        return self.printer(n)

    def definition(self, n: Node) -> str:
        return self.printer.definition(n)(n)

    def lab(self, n: Node | None) -> str:
        """A node's name, or the node itself printed (a leaf such as ``uᵀ``)."""
        if n is None:
            return "?"
        if id(n) in self.names:
            return self.printer.var_name(self.names[id(n)])
        return self.printer.p(n, 3)

    def name(self, s: str) -> str:
        if self.style == "latex":
            return Printer("latex").var_name(s)
        if self.style == "unicode":
            return self.fresh_names.get(s, s)
        return s

    def grad(self, of: str, by: str) -> str:
        """∂of/∂by for printed labels (the output's name is printed here)."""
        if of == self.ex.output:
            of = self.name(of)
        if self.style == "latex":
            return rf"\frac{{\partial {of}}}{{\partial {by}}}"
        if self.style == "text":
            return f"d{of}/d{by}"
        return f"∂{of}/∂{by}"

    def delta(self, name: str = "delta") -> str:
        """The error signal's symbol: δ, or δ₁, δ₂, … (``delta1``, ``\\delta_{1}``) for several."""
        if self.style == "latex":
            return Printer("latex").var_name(name)
        if self.style == "text":
            return name
        return "δ" + subscripted(name[5:])


def _content(ex: Explanation, style: str) -> dict:
    """The explanation as nested data of printed strings in one expression style."""
    o = _Out(ex, style)
    s = ex.output
    graph = [{"name": o.name(n), "op": op, "definition": o.definition(node)} for n, node, op in ex.graph]
    steps = []
    for st in ex.steps:
        item = {"node": o.lab(st.node), "op": st.op, "rule": st.rule, "gate": GATES.get(st.op, ""),
                "definition": o.definition(st.definition) if id(st.node) in ex.names else o.node(st.node),
                "upstream_label": o.grad(s, o.lab(st.node)), "upstream": o.node(st.upstream),
                "upstream_name": o.lab(st.grad) if st.grad_name else None,
                "upstream_jacobian": None if st.upstream_jacobian is None else o.node(st.upstream_jacobian),
                "fork": [{"from": o.lab(f), "contribution": o.node(c)} for f, c in st.fork], "inputs": []}
        for loc in st.inputs:
            item["inputs"].append({
                "input": o.lab(loc.input),
                "local_label": o.grad(o.lab(st.node), o.lab(loc.input)),
                "local_jacobian": None if loc.jacobian is None else o.node(loc.jacobian),
                "local_rule": None if loc.template is None else o.node(loc.template),
                "downstream_label": o.grad(s, o.lab(loc.input)),
                "jacobian_form": None if loc.chain is None else o.node(loc.chain),
                "jacobian_form_simplified": None if loc.chain_simplified is None else o.node(loc.chain_simplified),
                "shape_convention": o.node(loc.contribution)})
        steps.append(item)
    finals = []
    seen_delta: set[str] = set()
    for f in ex.finals:
        item = {"var": f.var, "label": o.grad(s, o.name(f.var)), "gradient": o.node(f.result),
                "fork": [o.node(p) for p in f.parts]}
        if f.delta is not None:
            item["delta_repeat"] = id(f.delta_at) in seen_delta
            seen_delta.add(id(f.delta_at))
            item.update({"delta_at": o.lab(f.delta_at), "delta_label": o.grad(s, o.lab(f.delta_at)),
                         "delta": o.node(f.delta), "delta_simplified": o.node(f.delta_simplified),
                         "delta_named": None if f.delta_named is None else o.node(f.delta_named),
                         "formula": o.node(f.formula), "delta_symbol": o.delta(f.delta_name)})
        finals.append(item)
    return {"expr": ex.expr, "output": o.name(s), "graph": graph, "steps": steps, "gradients": finals,
            "G": ex.G.attrs[0]}


def _plus(parts: list[str]) -> str:
    """Terms joined by + (a term printed with a leading minus is subtracted)."""
    out = parts[0] if parts else "0"
    for p in parts[1:]:
        out += f" − {p[1:]}" if p.startswith("−") else f" - {p[1:]}" if p.startswith("-") else f" + {p}"
    return out


def _upstream(st: dict) -> str:
    """A step's upstream line: ``dz₂ = ∂s/∂z₂ = …`` where it is named, else ``∂s/∂z₂ = …``."""
    line = f"{st['upstream_label']} = {st['upstream']}"
    return f"{st['upstream_name']} = {line}" if st["upstream_name"] else line


def _head(st: dict) -> str:
    """A step's node, with its definition where it has a name."""
    return st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"


def _input_rows(i: dict, with_rule: bool) -> list[tuple[str, str, str]]:
    """(kind, left side, right side) of what one input receives: the local Jacobian, the local
    rule (``with_rule``: also where there is a Jacobian), the Jacobian form, the gradient."""
    rows = []
    if i["local_jacobian"] is not None:
        rows.append(("local", i["local_label"], i["local_jacobian"]))
    if i["local_rule"] is not None and (with_rule or i["local_jacobian"] is None):
        rows.append(("rule", "G", i["local_rule"]))
    if i["jacobian_form"] is not None:
        jf = i["jacobian_form"]
        if i["jacobian_form_simplified"] != jf:
            jf += " = " + i["jacobian_form_simplified"]
        rows.append(("jacobian", i["downstream_label"], jf))
    rows.append(("gradient", i["downstream_label"], i["shape_convention"]))
    return rows


def _result_rows(c: dict) -> list[tuple[str, str, bool]]:
    """(left side, right side, whether paths were added at a fork) of each result equation: δ
    where a product sends it (once), then each gradient."""
    rows = []
    for f in c["gradients"]:
        if "delta" in f:
            forms = [f["delta"], f["delta_simplified"], f["delta_named"]]
            rhs = " = ".join(dict.fromkeys(x for x in forms if x is not None))
            if not f["delta_repeat"]:
                rows.append((f"{f['delta_symbol']} = {f['delta_label']}", rhs, False))
            rows.append((f["label"], f"{f['formula']} = {f['gradient']}", False))
        elif f["fork"]:
            rows.append((f["label"], _plus(f["fork"]) + f" = {f['gradient']}", True))
        else:
            rows.append((f["label"], f["gradient"], False))
    return rows


def _text_lines(c: dict, style: str) -> list[str]:
    arrow = "->" if style == "text" else "→"
    maps_to = "|->" if style == "text" else "↦"
    lines = ["Computational graph (forward, in topological order):"]
    for g in c["graph"]:
        lines.append(f"  {g['name']} = {g['definition']}")
    lines += ["", f"Backward pass (from {c['output']} back, G is the upstream gradient):"]
    for st in c["steps"]:
        lines.append(f"- node {_head(st)}   [{st['gate'] or st['rule']}]")
        if st["fork"]:
            parts = _plus([f["contribution"] for f in st["fork"]])
            lines.append(f"    fork: {st['upstream_label']} = {parts}   (from "
                         + ", ".join(f["from"] for f in st["fork"]) + ", added)")
        lines.append(f"    upstream  {_upstream(st)}")
        for i in st["inputs"]:
            lines.append(f"    {arrow} to {i['input']}:")
            for kind, lhs, rhs in _input_rows(i, with_rule=True):
                if kind == "rule":
                    lines.append(f"        rule      G {maps_to} {rhs}")
                elif kind == "gradient":
                    lines.append(f"        gradient  {lhs} = {rhs}   (shape convention)")
                else:
                    lines.append(f"        {'local    ' if kind == 'local' else 'Jacobian '} {lhs} = {rhs}")
    lines += ["", "Result:"]
    for lhs, rhs, fork in _result_rows(c):
        lines.append(f"  {lhs} = {rhs}" + ("   (fork: paths added)" if fork else ""))
    return lines


_LATEX_LABELS = {"local": "local", "rule": "local rule", "jacobian": "Jacobian", "gradient": "gradient"}


def latex_blocks(c: dict) -> list[Block]:
    """The explanation (content in the latex style) as titled blocks of labelled rows, the
    labels those of the Unicode steps: the forward graph, one block per node, the result."""
    graph = Block("Computational graph", text="(forward, in topological order):",
                  rows=[Row("", g["name"], [g["definition"]]) for g in c["graph"]])
    blocks = [graph, Block("Backward pass", text=f"from ${c['output']}$ back, node by node; $G$ is the upstream "
                           "gradient, Jacobians are in numerator layout, gradients in the shape convention.")]
    for st in c["steps"]:
        rows = []
        if st["fork"]:
            rows.append(Row("fork", st["upstream_label"], [_plus([f["contribution"] for f in st["fork"]])],
                            note="(contributions added)"))
        if st["upstream_name"]:
            rows.append(Row("upstream", st["upstream_name"], [st["upstream_label"], st["upstream"]]))
        else:
            rows.append(Row("upstream", st["upstream_label"], [st["upstream"]]))
        for i in st["inputs"]:
            rows.append(Row("to", "", [i["input"]]))
            for kind, lhs, rhs in _input_rows(i, with_rule=True):
                rows.append(Row(_LATEX_LABELS.get(kind, kind), lhs, rhs.split(" = "),
                                relation=r"\mapsto" if kind == "rule" else "="))
        blocks.append(Block("Node", _head(st), st["gate"] or st["rule"], rows))
    result = Block("Result")
    for lhs, rhs, fork in _result_rows(c):
        label, _, lhs = lhs.rpartition(" = ")
        forms = rhs.split(" = ")
        if label:                                   # δ = ∂s/∂z₁ = …: δ names the first form
            forms = [lhs, *forms]
            lhs = label
        result.rows.append(Row("", lhs, forms, note="(paths added at the fork)" if fork else ""))
    blocks.append(result)
    return blocks


def _latex(c: dict) -> str:
    return document_body(latex_blocks(c))


def render(ex: Explanation, style: str = "unicode") -> str:
    """The explanation printed: unicode, text, latex (a paragraph and an alignat* per block),
    markdown, json, or mathjax (Markdown with MathJax displays, what Jupyter shows)."""
    if style not in STYLES:
        raise MatcalcError(f"unknown style {style!r}: one of {', '.join(STYLES)}")
    if style == "json":
        payload = {"expr": ex.expr, "unicode": _content(ex, "unicode"), "latex": _content(ex, "latex"),
                   "text": _content(ex, "text")}
        return json.dumps(payload, ensure_ascii=False, indent=2)
    if style == "latex":
        return _latex(_content(ex, "latex"))
    if style == "mathjax":
        return f"**Steps for** `{ex.expr}`\n\n" + mathjax(latex_blocks(_content(ex, "latex")))
    if style == "markdown":
        return _markdown(_content(ex, "unicode"))
    return "\n".join(_text_lines(_content(ex, style), style))


_MARKDOWN_WORDS = {"local": "local ", "rule": "local rule ", "jacobian": "Jacobian form ",
                   "gradient": "shape convention "}


def _markdown(c: dict) -> str:
    def code(s):
        return f"`{s}`"

    lines = [f"### Steps for {code(c['expr'])}", "", "**Computational graph** (forward, topological order):", ""]
    lines += [f"- {code(g['name'] + ' = ' + g['definition'])}" for g in c["graph"]]
    lines += ["", f"**Backward pass** from {code(c['output'])} (G is the upstream gradient):", ""]
    for st in c["steps"]:
        lines.append(f"- node {code(_head(st))}: {st['gate'] or st['rule']}")
        if st["fork"]:
            lines.append("  - fork, contributions added: "
                         + code(st["upstream_label"] + " = " + _plus([f["contribution"] for f in st["fork"]])))
        lines.append(f"  - upstream {code(_upstream(st))}")
        for i in st["inputs"]:
            parts = [_MARKDOWN_WORDS[kind] + code(f"{lhs} {'↦' if kind == 'rule' else '='} {rhs}")
                     for kind, lhs, rhs in _input_rows(i, with_rule=False)]
            lines.append(f"  - to {code(i['input'])}: " + "; ".join(parts))
    lines += ["", "**Result:**", ""]
    for lhs, rhs, fork in _result_rows(c):
        lines.append(f"- {code(lhs + ' = ' + rhs)}" + (" (fork: the paths' contributions are added)" if fork else ""))
    return "\n".join(lines)


def explain(derivation, style: str = "unicode") -> str:
    """The chain-rule steps of ``derivation`` (made with ``steps=True``) printed in ``style``: the
    gradient passed back for a scalar output, the Jacobian chain for a vector output."""
    if style not in STYLES:
        raise MatcalcError(f"unknown style {style!r}: one of {', '.join(STYLES)}")
    if derivation.kind == "jacobian":
        return render_chain(jacobian_chain(derivation), style)
    if derivation.kind == "tensor":
        raise MatcalcError("a 4-D derivative's steps are its chain in vec form (second_order.tensor_steps): "
                           "Derivation.steps_text() and --steps show them")
    return render(explanation(derivation), style)
