"""Printing a Jacobian chain (``chain_steps``): Unicode, ASCII text, LaTeX, Markdown, JSON, MathJax.

``chain_content`` turns the chain's nodes into printed strings in one style (in the vec form a
matrix ``M`` on the way is labelled ``vec(M)``, ``vec(M)ᵀ`` below the fraction bar, and each
local derivative that involves a matrix may be shown entry by entry); the renderers lay that
content out as the gradient steps are laid out: the forward graph, one block per node
(upstream, local, entries, Jacobian), the result ending at the printed derivative.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from matcalc.core.graph import Node
from matcalc.core.rules import RULES
from matcalc.output.chain_steps import JacobianChain, vectorlike
from matcalc.output.latexsteps import Block, Row, document_body, mathjax
from matcalc.output.render import Printer

# ---------------------------------------------------------------------- printing
EntryPrinter = Callable[[Node, Node, object, str, dict], "tuple[str, str] | None"]   # (of, by, form, style, names)


def _vec_words(style: str, name: str, transposed: bool = False) -> str:
    """vec(name) (``transposed``: vec(name)ᵀ) in one style."""
    if style == "latex":
        return rf"\operatorname{{vec}}({name})" + (r"^\top" if transposed else "")
    return f"vec({name})" + (("'" if style == "text" else "ᵀ") if transposed else "")


def chain_content(ch: JacobianChain, style: str, entries: EntryPrinter | None = None) -> dict:
    """The chain as nested data of printed strings in one style; in the vec form a matrix ``M``
    is labelled ``vec(M)`` (``vec(M)ᵀ`` below the bar), and ``entries`` prints what an input
    receives entry by entry (``∂(z₁)ᵢ/∂Wⱼₖ = δᵢⱼ xₖ``), as (label, right side) or None."""
    names = ch.names_for(style)
    pr = Printer(style, names)

    def lab(n: Node) -> str:
        return pr.var_name(names[id(n)]) if id(n) in names else pr.p(n, 3)

    def num(n: Node) -> str:
        return _vec_words(style, lab(n)) if ch.vec and not vectorlike(n) else lab(n)

    def den(n: Node) -> str:
        return _vec_words(style, lab(n), True) if ch.vec and not vectorlike(n) else lab(n)

    def definition(n: Node) -> str:
        return Printer(style, {k: v for k, v in names.items() if k != id(n)})(n)

    def grad(of: str, by: str) -> str:
        if style == "latex":
            return rf"\frac{{\partial {of}}}{{\partial {by}}}"
        return f"d{of}/d{by}" if style == "text" else f"∂{of}/∂{by}"

    o = pr.var_name(ch.output) if style == "latex" else ch.output
    out_node = next((n for _, n, _ in ch.graph if names.get(id(n)) == ch.output), None)
    out_num = num(out_node) if out_node is not None else o
    graph = [{"name": lab(n), "op": op, "definition": definition(n)} for _, n, op in ch.graph]
    links = []
    for link in ch.links:
        head = lab(link.node)
        item = {"node": head, "op": link.node.op,
                "definition": definition(link.node) if id(link.node) in names else head,
                "gate": _rule_words(link.node.op),
                "upstream_label": grad(out_num, den(link.node)), "upstream": pr(link.upstream),
                "fork": [{"from": lab(f), "product": pr(p)} for f, p in link.fork], "inputs": []}
        for i in link.inputs:
            prod, simple = pr(i.product), pr(i.simplified)
            shown = entries(link.node, i.input, i.entries, style, names) if entries and i.entries is not None else None
            item["inputs"].append({"input": lab(i.input), "local_label": grad(num(link.node), den(i.input)),
                                   "local": pr(i.local), "downstream_label": grad(out_num, den(i.input)),
                                   "product": prod, "simplified": simple,
                                   "entries": None if shown is None else {"label": shown[0], "form": shown[1]}})
        links.append(item)
    finals = []
    for f in ch.finals:
        by = pr.var_name(f.var)
        label_out = _vec_words(style, o) if ch.vec_result else out_num
        label_by = (_vec_words(style, by, True) if ch.vec_result and not (f.by is not None and f.by.is_scalar)
                    else den(f.by) if f.by is not None else by)
        same = {grad(label_out, label_by), grad(out_num, den(f.by) if f.by is not None else by)}
        item = {"var": f.var, "label": grad(label_out, label_by), "same": sorted(same), "result": pr(f.result), "chain": None,
                "fork": [pr(p) for p in f.parts],
                "reshaped": None if f.reshaped is None else {"label": grad(o, by), "result": pr(f.reshaped)},
                "entries": None}
        if entries and f.entries is not None and out_node is not None and f.by is not None:
            shown = entries(out_node, f.by, f.entries, style, names)
            item["entries"] = None if shown is None else {"label": shown[0], "form": shown[1]}
        if f.path:
            labels = [grad(num(a), den(b)) for a, b in zip(f.path, f.path[1:])]
            item["chain"] = {"labels": labels, "product": pr(f.product)}
        finals.append(item)
    return {"expr": ch.expr, "output": o, "graph": graph, "steps": links, "jacobians": finals, "vec": ch.vec}


def _rule_words(op: str) -> str:
    """What a node's local Jacobian is: the lecture's gate sentence where it speaks of Jacobians
    (elementwise: diagonal), else the rule's differential (``d(AB) = dA B + A dB``), not the words
    about gradients flowing back."""
    rule = RULES[op]
    return rule.gate if "Jacobian" in (rule.gate or "") else rule.doc.split(";")[0].split(": ")[0]


def _eq(*parts: str) -> str:
    """a = b = c with repeated neighbours dropped."""
    out: list[str] = []
    for p in parts:
        if not out or out[-1] != p:
            out.append(p)
    return " = ".join(out)


def _head(st: dict) -> str:
    return st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"


def _intro(c: dict, style: str) -> str:
    """What the chain carries, said once before the nodes."""
    o = c["output"]
    if not c["vec"]:
        return f"from {o} back; numerator layout: a row per entry of {o}"
    d = "d" if style == "text" else "∂"
    label = f"{d}{_vec_words(style, o)}/{d}{_vec_words(style, 'M', True)}"
    return (f"in vec form, from {o} back; numerator layout: vec(M) stacks the columns of a matrix M "
            f"(a vector is its own vec), and {label} has a row per entry of {o} and a column per entry of M")


def _result_rows(f: dict, join: str) -> list[tuple[str, str]]:
    """(left side, right side) of a variable's result lines: the chain (or the fork's sum) ending at
    the printed result; by a scalar in the vec form, the result in the output's shape after it."""
    if f["chain"]:
        chain = join.join(f["chain"]["labels"])
        rhs = _eq(*([] if chain in f["same"] else [chain]), f["chain"]["product"], f["result"])   # ∂f/∂x = ∂f/∂x: once
        rows = [(f["label"], rhs, "")]
    else:
        rows = [(f["label"], _eq(" + ".join(f["fork"]), f["result"]), "fork")]
    if f["reshaped"]:
        rows.append((f["reshaped"]["label"], f["reshaped"]["result"], "reshaped"))
    if f["entries"]:
        rows.append((f["entries"]["label"], f["entries"]["form"], "entries"))
    return rows


_RESULT_NOTES = {"fork": "(fork: the paths' products added)", "reshaped": "(the same entries in the output's shape)",
                 "entries": "(entry by entry)"}


def chain_text(c: dict, style: str) -> str:
    """The chain content as Unicode (or ASCII ``text``) lines."""
    arrow = "->" if style == "text" else "→"
    lines = ["Computational graph (forward, in topological order):"]
    lines += [f"  {g['name']} = {g['definition']}" for g in c["graph"]]
    lines += ["", f"Jacobian chain ({_intro(c, style)}):"]
    for st in c["steps"]:
        lines.append(f"- node {_head(st)}   [{st['gate']}]")
        if st["fork"]:
            lines.append(f"    fork: {st['upstream_label']} = " + " + ".join(f["product"] for f in st["fork"])
                         + "   (from " + ", ".join(f["from"] for f in st["fork"]) + ", added)")
        lines.append(f"    upstream  {st['upstream_label']} = {st['upstream']}")
        for i in st["inputs"]:
            lines.append(f"    {arrow} to {i['input']}:")
            lines.append(f"        local     {i['local_label']} = {i['local']}")
            if i["entries"]:
                lines.append(f"        entries   {i['entries']['label']} = {i['entries']['form']}")
            lines.append(f"        Jacobian  {i['downstream_label']} = {st['upstream_label']} {i['local_label']} = "
                         + _eq(i["product"], i["simplified"]))
    lines += ["", "Result:"]
    for f in c["jacobians"]:
        for lhs, rhs, note in _result_rows(f, " "):
            lines.append(f"  {lhs} = {rhs}" + (f"   {_RESULT_NOTES[note]}" if note else ""))
    return "\n".join(lines)


def latex_blocks(c: dict) -> list[Block]:
    """The chain (content in the latex style) as titled blocks of labelled rows (``latexsteps``):
    the forward graph, one block per node (upstream, local, entries, Jacobian), the result."""
    intro = (f"from ${c['output']}$ back, node by node, in numerator layout." if not c["vec"] else
             f"in vec form, from ${c['output']}$ back, node by node, in numerator layout; "
             r"$\operatorname{vec}(M)$ stacks the columns of a matrix $M$, a vector is its own vec.")
    blocks = [Block("Computational graph", text="(forward, in topological order):",
                    rows=[Row("", g["name"], [g["definition"]]) for g in c["graph"]]),
              Block("Jacobian chain", text=intro)]
    for st in c["steps"]:
        rows = [Row("upstream", st["upstream_label"], [st["upstream"]])]
        for i in st["inputs"]:
            rows.append(Row("to", "", [i["input"]]))
            rows.append(Row("local", i["local_label"], [i["local"]]))
            if i["entries"]:
                rows.append(Row("entries", i["entries"]["label"], [i["entries"]["form"]]))
            parts = _eq(st["upstream_label"] + r" \, " + i["local_label"], i["product"], i["simplified"]).split(" = ")
            rows.append(Row("Jacobian", i["downstream_label"], parts))
        blocks.append(Block("Node", _head(st), st["gate"], rows))
    result = Block("Result")
    for f in c["jacobians"]:
        for lhs, rhs, note in _result_rows(f, r" \, "):
            result.rows.append(Row("", lhs, rhs.split(" = "), note=_RESULT_NOTES[note] if note else ""))
    return [*blocks, result]


def chain_markdown(c: dict) -> str:
    """The chain content (unicode style) as Markdown: code spans, one bullet per node."""
    lines = [f"### Steps for `{c['expr']}`", "", "**Computational graph** (forward, topological order):", ""]
    lines += [f"- `{g['name']} = {g['definition']}`" for g in c["graph"]]
    lines += ["", f"**Jacobian chain** ({_intro(c, 'unicode')}):", ""]
    for st in c["steps"]:
        lines.append(f"- node `{_head(st)}`: {st['gate']}")
        lines.append(f"  - upstream `{st['upstream_label']} = {st['upstream']}`")
        for i in st["inputs"]:
            entries = f"; entries `{i['entries']['label']} = {i['entries']['form']}`" if i["entries"] else ""
            lines.append(f"  - to `{i['input']}`: local `{i['local_label']} = {i['local']}`{entries}; Jacobian "
                         f"`{i['downstream_label']} = " + _eq(i["product"], i["simplified"]) + "`")
    lines += ["", "**Result:**", ""]
    for f in c["jacobians"]:
        for lhs, rhs, note in _result_rows(f, " "):
            lines.append(f"- `{lhs} = {rhs}`" + (f" {_RESULT_NOTES[note]}" if note else ""))
    return "\n".join(lines)


def render_chain(ch: JacobianChain, style: str = "unicode", entries: EntryPrinter | None = None) -> str:
    """The Jacobian chain printed: unicode, text, latex (a paragraph and an alignat* per node),
    markdown, json or mathjax (Markdown with MathJax displays, for Jupyter); ``entries`` prints a
    local derivative entry by entry (the vec form's index reading)."""
    if style == "json":
        kind = "vec_chain" if ch.vec else "jacobian_chain"
        return json.dumps({"expr": ch.expr, "kind": kind, **{s: chain_content(ch, s, entries) for s in
                           ("unicode", "latex", "text")}}, ensure_ascii=False, indent=2)
    if style == "latex":
        return document_body(latex_blocks(chain_content(ch, "latex", entries)))
    if style == "markdown":
        return chain_markdown(chain_content(ch, "unicode", entries))
    if style == "mathjax":
        return f"**Steps for** `{ch.expr}`\n\n" + mathjax(latex_blocks(chain_content(ch, "latex", entries)))
    return chain_text(chain_content(ch, "text" if style == "text" else "unicode", entries), style)
