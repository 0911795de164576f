"""Steps for a vector output: the Jacobian chain ``∂h/∂x = ∂h/∂z ∂z/∂x = diag(f'(z)) W``.

A gradient's steps pass a gradient back (``steps``); a vector output ``h`` by a vector or a
scalar has a Jacobian, and the lecture writes it as a product of local Jacobians (numerator
layout: ``∂h/∂z`` has a row per entry of ``h`` and a column per entry of ``z``; a row vector is
read as the column of its entries).
``jacobian_chain(derivation)`` walks the forward graph from the output back, as reverse mode
does, but carries the whole Jacobian ``∂h/∂node`` instead of a gradient:

- the seed is ``∂h/∂h = I``;
- at each node, the local Jacobian of each input that leads to a variable, read off the rule
  table's JVP (``linear_coefficient``: ``diag(f'(z))`` for an elementwise function, ``W`` for
  ``W x``, ``I`` for ``z + b``);
- downstream ``∂h/∂input = ∂h/∂node ∂node/∂input`` (the product, then simplified), the products
  of the paths added where they meet at a fork;
- for each variable, the chain of labels and the product of the non-identity local Jacobians
  on its one path (the lecture's line), and the verified result of the derivation.

Every printed expression is a graph node, so the tests evaluate each one against finite
differences.  The output and the intermediates must be vectors (columns or rows) or scalars (a
matrix intermediate has a tensor as its Jacobian: a clear error says so).  Nothing here changes the derivation.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from matcalc.core import algebra as A
from matcalc.core.diff import linear_coefficient
from matcalc.core.errors import MatcalcError, UnsupportedError
from matcalc.core.graph import Node, depends_on
from matcalc.core.naming import subscripted
from matcalc.core.rules import RULES
from matcalc.output.latexsteps import Block, Row, document_body, mathjax
from matcalc.output.render import Printer
from matcalc.output.steps import _name_graph
from matcalc.simplify.rewrite import simplify_all


@dataclass
class ChainInput:
    """What one input of a node receives: the local Jacobian and the downstream Jacobian."""

    input: Node
    local: Node                        # ∂node/∂input (numerator layout)
    product: Node                      # ∂h/∂node ∂node/∂input, as written
    simplified: Node                   # the same, simplified
    entries: object | None = None      # vec form: the local derivative entry by entry (an IndexForm)


@dataclass
class ChainLink:
    """One node on the way back: its upstream Jacobian ∂h/∂node and what each input receives."""

    node: Node
    upstream: Node                                             # ∂h/∂node, simplified
    fork: list[tuple[Node, Node]] = field(default_factory=list)  # (from which node, its product)
    inputs: list[ChainInput] = field(default_factory=list)


@dataclass
class ChainFinal:
    """∂h/∂var: the nodes of its path (output first), their local Jacobians, their product."""

    var: str
    result: Node                                               # the derivation's (verified) result
    path: list[Node] = field(default_factory=list)             # h, z, x: one path (identity links merged), or empty at a fork
    locals: list[Node] = field(default_factory=list)           # the Jacobian of each segment of the path
    product: Node | None = None                                # their product, as written
    reached: Node | None = None                                # ∂h/∂var as the walk reached it
    parts: list[Node] = field(default_factory=list)            # the paths' products, at a fork
    reshaped: Node | None = None                               # vec form by a scalar: the result in the output's shape
    by: Node | None = None                                     # the variable's node


@dataclass
class JacobianChain:
    expr: str
    output: str
    graph: list[tuple[str, Node, str]]
    links: list[ChainLink]
    finals: list[ChainFinal]
    names: dict[int, str]
    fresh: set[int]
    alive: list[Node] = field(default_factory=list)            # nodes ``names`` keys by id, kept alive
    vec: bool = False                                          # vec form: a matrix ``M`` is read as vec(M)
    vec_result: bool = False                                   # the result is labelled ∂vec(F)/∂vec(X)ᵀ (a 4-D one)

    def names_for(self, style: str) -> dict[int, str]:
        if style != "unicode":
            return dict(self.names)
        return {k: (subscripted(v) if k in self.fresh else v) for k, v in self.names.items()}


_MATRIX_STEP = ("Jacobian-chain steps need vector or scalar intermediates: {} is a matrix, whose "
                "Jacobian is a tensor")


def _vectorlike(n: Node) -> bool:
    """A column, a row or a scalar: its Jacobian has a row (or column) per entry."""
    return n.is_column or n.is_row or n.is_scalar


def _times(up: Node, J: Node) -> Node:
    """upstream × local, a scalar local Jacobian scaling."""
    return A.scale(J, up) if J.is_scalar else A.matmul(up, J)


def jacobian_local(node: Node, inp: Node, naming) -> Node:
    """∂node/∂inp from the rule table's JVP (the same reading as the gradient steps)."""
    if inp.is_row and not inp.is_scalar:         # a row moves along the column of its entries
        T = A.var("∂" + naming.label(inp), (inp.cols, inp.rows), 1)
        tangent = A.transpose(T)
    else:
        T = tangent = A.var("∂" + naming.label(inp), inp.shape, int(inp.is_column))
    ts = tuple(tangent if a is inp else None for a in node.args)
    (J,) = simplify_all([linear_coefficient(RULES[node.op].jvp(node, ts), T)])
    return J


@dataclass(frozen=True)
class ChainForm:
    """How a chain reads its local derivatives: ``local(node, input, naming)`` (numerator layout),
    ``times(upstream, local)``, and whether matrices may appear (read as vec(M), ``second_order``'s
    vec form) or are an error (the Jacobian form here)."""

    local: Callable[[Node, Node, object], Node]
    times: Callable[[Node, Node], Node]
    matrices: bool = False
    entries: Callable[[Node, Node, object], object | None] | None = None   # the local entry by entry


JACOBIAN_FORM = ChainForm(jacobian_local, _times)


def jacobian_chain(d, form: ChainForm = JACOBIAN_FORM) -> JacobianChain:
    """The Jacobian chain of a Derivation of a vector output (``kind == "jacobian"``); with a form
    that allows matrices, of any derivation whose every local derivative that form reads."""
    out = d.typed.output
    if not form.matrices:
        if d.kind != "jacobian":
            raise MatcalcError(f"a Jacobian chain is shown for a vector output; this derivation is a {d.kind}")
        if not _vectorlike(out):
            raise UnsupportedError("Jacobian-chain steps are shown for a vector output; this one is a matrix")
    naming = _name_graph(d.typed)
    targets = [d.variables[w] for w in d.wrt]
    up: dict[int, list[tuple[Node | None, Node]]] = {id(out): [(None, A.eye(out.rows * out.cols))]}
    links: list[ChainLink] = []
    reached: dict[int, Node] = {}
    parents: dict[int, list[Node]] = {}
    for node in reversed(naming.order):
        if id(node) not in up or not node.args or any(node is v for v in targets):
            continue
        if not _vectorlike(node) and not form.matrices:
            raise UnsupportedError(_MATRIX_STEP.format(Printer("unicode")(node)))
        parts = up[id(node)]
        (upstream,) = simplify_all([A.add(*(p for _, p in parts))])
        link = ChainLink(node, upstream, [(f, simplify_all([p])[0]) for f, p in parts] if len(parts) > 1 else [])
        for k, inp in enumerate(node.args):
            if any(inp is a for a in node.args[:k]) or not any(depends_on(inp, v) or inp is v for v in targets):
                continue
            if not _vectorlike(inp) and not form.matrices:
                raise UnsupportedError(_MATRIX_STEP.format(Printer("unicode")(inp)))
            J = form.local(node, inp, naming)
            product = form.times(upstream, J)
            (simple,) = simplify_all([product])
            entries = form.entries(node, inp, naming) if form.entries else None
            link.inputs.append(ChainInput(inp, J, product, simple, entries))
            up.setdefault(id(inp), []).append((node, simple))
            parents.setdefault(id(inp), []).append(node)
        links.append(link)
    for v in targets:
        parts = up.get(id(v), [])
        if parts:
            reached[id(v)] = simplify_all([A.add(*(p for _, p in parts))])[0]
    finals = [_final(w, d, out, reached, parents, links, form.times) for w in d.wrt]
    for fin in finals:
        fin.by = d.variables[fin.var]
        parts = up.get(id(fin.by), [])
        fin.parts = [p for _, p in parts] if len(parts) > 1 else []
    graph = [(naming.names[id(n)], n, n.op) for n in naming.named]
    return JacobianChain(d.expr, naming.output, graph, links, finals, naming.names, naming.fresh,
                         naming.order + naming.twins, form.matrices)


def _final(w: str, d, out: Node, reached, parents, links, times=_times) -> ChainFinal:
    """The lecture's line for one variable: its single path back to the output, if it has one."""
    v = d.variables[w]
    fin = ChainFinal(w, d.results[w], reached=reached.get(id(v)))
    local_of = {(id(l.node), id(i.input)): i.local for l in links for i in l.inputs}
    path, n = [v], v
    while n is not out:
        ps = parents.get(id(n), [])
        if len(ps) != 1:
            return fin                                       # a fork (or unreached): no single chain
        p = ps[0]
        fin.locals.insert(0, local_of[(id(p), id(n))])
        n = p
        path.insert(0, n)
    # an identity link (z = z₁ + b) is merged into the next one: ∂z/∂z₁ ∂z₁/∂x = ∂z/∂x = W
    kept, segments, seg = [path[0]], [], None
    for k, J in enumerate(fin.locals):
        seg = J if seg is None else times(seg, J)
        if J.op == "eye" and k + 1 < len(fin.locals):
            continue
        kept.append(path[k + 1])
        segments.append(simplify_all([seg])[0])
        seg = None
    if len(segments) > 1 and kept[-2].op == "transpose" and kept[-2].args[0] is v:   # xᵀ of the variable: ∂z/∂x
        segments[-2:] = [simplify_all([times(segments[-2], segments[-1])])[0]]
        del kept[-2]
    fin.path, fin.locals = kept, segments
    shown = [J for J in segments if J.op != "eye"] or segments[-1:]
    prod = shown[0]
    for J in shown[1:]:
        prod = times(prod, J)
    fin.product = prod
    return fin


# ---------------------------------------------------------------------- printing
EntryPrinter = Callable[[Node, ChainInput, str, dict], "tuple[str, str] | None"]   # (node, its input, style, names)


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
        return _vec_words(style, lab(n)) if ch.vec and not _vectorlike(n) else lab(n)

    def den(n: Node) -> str:
        return _vec_words(style, lab(n), True) if ch.vec and not _vectorlike(n) else lab(n)

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
            shown = entries(link.node, i, style, names) if entries and i.entries is not None else None
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
                "reshaped": None if f.reshaped is None else {"label": grad(o, by), "result": pr(f.reshaped)}}
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
    return rows


_RESULT_NOTES = {"fork": "(fork: the paths' products added)", "reshaped": "(the same entries in the output's shape)"}


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
