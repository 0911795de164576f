"""Explain a derivation: the computational graph and every chain-rule step, as data and as text.

``explanation(derivation)`` reads the steps that ``diff.gradients`` recorded (``derive(...,
steps=True)``) and builds an ``Explanation``: the forward graph in topological order (the
program's own names, fresh ``z₁, z₂, …`` for the other operations), then for each node from the
output back the upstream gradient (with the contributions that meet at a fork added), the local
gradient in Jacobian form where one exists (``diag(f'(z))`` for an elementwise function), the
downstream gradient in Jacobian form (upstream × local, then simplified) and in shape convention
(what code computes: a Hadamard product, never a diagonal matrix), and finally each gradient
with the error signal ``δ`` named as in the lectures (``δ = uᵀ diag(f'(z))``, ``∂s/∂W = δᵀ xᵀ``).

Every expression is kept as a graph node, so tests evaluate each printed intermediate
numerically.  ``render(explanation, style)`` prints it as unicode, text, LaTeX (``align*``),
Markdown or JSON.  Nothing here changes the derivation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.diff import linear_coefficient
from matcalc.core.errors import MatcalcError
from matcalc.core.graph import ONE, Node, topo_order
from matcalc.core.rules import RULES
from matcalc.numeric.evaluate import evaluate, to_external, to_internal
from matcalc.output.render import Printer
from matcalc.simplify.rewrite import simplify_all

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
STYLES = ("unicode", "text", "latex", "markdown", "json")

GATES = {op: r.gate for op, r in RULES.items() if r.gate}   # the lecture's sentence per gate, from the table


def _leafish(n: Node) -> bool:
    return n.op in ("var", "ones", "zero", "eye") or (n.op == "scale" and not n.args) or (
        n.op in ("transpose", "scale") and len(n.args) == 1 and n.args[0].op == "var")


# ---------------------------------------------------------------------- the data
@dataclass
class Local:
    """What one input of a node receives: local gradient, downstream in both forms."""

    input: Node
    input_name: str
    contribution: Node                 # shape convention, exactly what diff sent (simplified)
    jacobian: Node | None = None       # local Jacobian ∂node/∂input (vectors and scalars)
    template: Node | None = None       # the VJP with a symbolic upstream G (shape convention)
    chain: Node | None = None          # upstream (Jacobian form) × local Jacobian, unsimplified
    chain_simplified: Node | None = None


@dataclass
class StepInfo:
    node: Node
    name: str
    definition: Node
    op: str
    rule: str
    upstream: Node                     # shape convention, simplified
    upstream_jacobian: Node | None     # Gᵀ for a column, G for a scalar
    fork: list[tuple[Node | None, Node]] = field(default_factory=list)  # (from which node, contribution)
    inputs: list[Local] = field(default_factory=list)


@dataclass
class Final:
    var: str
    result: Node
    delta: Node | None = None          # the error signal, as a chain (unsimplified)
    delta_simplified: Node | None = None
    delta_at: Node | None = None
    formula: Node | None = None        # ∂s/∂W written with δ
    parts: list[Node] = field(default_factory=list)  # contributions added at a fork (several paths)


@dataclass
class Explanation:
    expr: str
    output: str
    graph: list[tuple[str, Node, str]]          # (name, definition, op)
    steps: list[StepInfo]
    finals: list[Final]
    names: dict[int, str]                       # ASCII names (z1, delta, G)
    fresh: set[int]                             # ids whose names get unicode subscripts
    definitions: dict[int, Node]
    G: Node
    delta_var: Node | None = None

    def names_for(self, style: str) -> dict[int, str]:
        if style != "unicode":
            return dict(self.names)
        out = {}
        for k, v in self.names.items():
            if k in self.fresh:
                v = v.rstrip("0123456789") + v[len(v.rstrip("0123456789")):].translate(_SUB)
            out[k] = "δ" if v == "delta" else v
        return out


# ---------------------------------------------------------------------- building it
def explanation(d) -> Explanation:
    """The structured explanation of a Derivation made with ``steps=True``."""
    if d.kind != "gradient":
        raise MatcalcError("steps are shown for a scalar output (a gradient); this derivation is a "
                           f"{d.kind}")
    if not d.steps:
        raise MatcalcError("no steps were recorded: derive with steps=True")
    typed = d.typed
    out = typed.output
    taken = set(typed.variables) | set(typed.intermediates)
    generic = {n.attrs[0] for n in topo_order([out]) if n.op == "ew"}
    last = typed.statements[-1][0]
    output = last or ("s" if "f" in generic or "f" in taken else "f")
    names: dict[int, str] = {}
    fresh: set[int] = set()
    for name, node in typed.intermediates.items():
        if not _leafish(node):
            names.setdefault(id(node), name)
    if not _leafish(out):
        names[id(out)] = output
    counter = 0
    order = topo_order([out])
    for node in order:
        if _leafish(node) or id(node) in names:
            continue
        counter += 1
        while f"z{counter}" in taken:
            counter += 1
        names[id(node)] = f"z{counter}"
        fresh.add(id(node))
    definitions = {id(n): n for n in order if id(n) in names}
    # simplified twins of named nodes print with the same name
    named_nodes = [n for n in order if id(n) in names]
    for n, s in zip(named_nodes, simplify_all(named_nodes)):
        if id(s) not in names:
            names[id(s)] = names[id(n)]
            if id(n) in fresh:
                fresh.add(id(s))
    gname = "G" if "G" not in taken else "G_up"
    G = A.var(gname, out.shape, 0)                     # the upstream placeholder (its name)
    graph = [(names[id(n)], n, n.op) for n in named_nodes]

    def label(n: Node) -> str:
        if id(n) in names:
            return names[id(n)]
        return Printer("text", names)(n)

    parents: dict[int, int] = {}
    for n in order:
        for a in set(map(id, n.args)):
            parents[a] = parents.get(a, 0) + 1

    steps: list[StepInfo] = []
    jac_chain: dict[int, Node] = {}      # id(node) -> Jacobian-form chain that reached it (single parent)
    senders: dict[int, list[tuple[Node, Node]]] = {}
    for st in d.steps:
        node = st.node
        (up,) = simplify_all([st.upstream])
        upj = _row(up)
        info = StepInfo(node, label(node), node, node.op, RULES[node.op].doc, up, upj)
        for part in st.fork:
            frm = next((s.node for s in d.steps for (i, c) in s.sent if i is node and c is part), None)
            info.fork.append((frm, simplify_all([part])[0]))
        for inp, contribution in st.sent:
            (c,) = simplify_all([contribution])
            senders.setdefault(id(inp), []).append((node, up, c))
            loc = Local(inp, label(inp), c)
            Gs = A.var(gname, node.shape, 2 if not (node.is_column or node.is_scalar) else int(node.is_column))
            k = list(node.args).index(inp)
            tpl = RULES[node.op].vjp(node, Gs)[k]
            loc.template = simplify_all([tpl])[0] if tpl is not None else None
            if (inp.is_column or inp.is_scalar) and (node.is_column or node.is_scalar) and upj is not None:
                try:
                    T = A.var("∂" + label(inp), inp.shape, int(inp.is_column))
                    ts = tuple(T if j == k else None for j in range(len(node.args)))
                    (J,) = simplify_all([linear_coefficient(RULES[node.op].jvp(node, ts), T)])
                except MatcalcError:
                    J = None
                if J is not None:
                    loc.jacobian = J
                    if J.op == "eye" and id(node) in jac_chain:
                        chain = jac_chain[id(node)]
                    elif A.is_const(up, 1):
                        chain = J
                    else:
                        chain = A.matmul(upj, J) if not node.is_scalar or not J.is_scalar else A.scale(upj, J)
                    loc.chain = chain
                    loc.chain_simplified = simplify_all([A.transpose(c) if not c.is_scalar else c])[0]
                    if parents.get(id(inp), 0) == 1:
                        jac_chain[id(inp)] = chain
            info.inputs.append(loc)
        steps.append(info)

    finals = []
    delta_var = None
    for w in d.wrt:
        v = d.variables[w]
        fin = Final(w, d.results[w])
        snd = senders.get(id(v), [])
        if len(snd) > 1:
            fin.parts = [c for _, _, c in snd]
        if len(snd) == 1 and snd[0][0].op == "matmul" and snd[0][1] is not None:
            node, up, _ = snd[0]
            a, b = node.args
            if up.is_column or up.is_row or not up.is_scalar:
                row = up.is_column
                dshape = (ONE, up.rows) if row else up.shape
                delta_var = A.var("delta", dshape, 2)
                names[id(delta_var)] = "delta"
                dsh = A.transpose(delta_var) if row else delta_var     # δ in shape convention
                fin.delta = jac_chain.get(id(node), _row(up) if row else up)
                fin.delta_simplified = simplify_all([_row(up) if row else up])[0]
                fin.delta_at = node
                if v is a and v is not b:
                    fin.formula = A.matmul(dsh, A.transpose(b))
                elif v is b and v is not a:
                    fin.formula = A.matmul(A.transpose(a), dsh)
                if fin.formula is None:
                    fin.delta = None
        finals.append(fin)
    return Explanation(d.expr, output, graph, steps, finals, names, fresh, definitions, G, delta_var)


def _row(g: Node) -> Node | None:
    """The Jacobian (numerator-layout) form of an upstream gradient: a row for a column."""
    if g.is_scalar:
        return g
    if g.is_column:
        return A.transpose(g)
    return None


# ---------------------------------------------------------------------- printing
class _Out:
    """Prints nodes and labels of one explanation in one style."""

    def __init__(self, ex: Explanation, style: str):
        self.ex = ex
        self.style = "latex" if style == "latex" else "text" if style == "text" else "unicode"
        self.names = ex.names_for(self.style)
        self.printer = Printer(self.style, self.names)

    def node(self, n: Node) -> str:
        return self.printer(n)

    def definition(self, n: Node) -> str:
        inner = {k: v for k, v in self.names.items() if k != id(n)}
        return Printer(self.style, inner)(n)

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
            for k, v in self.ex.names.items():
                if v == s and k in self.ex.fresh:
                    return self.names[k]
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

    def delta(self) -> str:
        return {"latex": r"\delta", "text": "delta"}.get(self.style, "δ")


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
                         "formula": o.node(f.formula), "delta_symbol": o.delta()})
        finals.append(item)
    return {"expr": ex.expr, "output": o.name(s), "graph": graph, "steps": steps, "gradients": finals,
            "G": ex.G.attrs[0]}


def _plus(parts: list[str]) -> str:
    """Terms joined by + (a term printed with a leading minus is subtracted)."""
    out = parts[0] if parts else "0"
    for p in parts[1:]:
        out += f" − {p[1:]}" if p.startswith("−") else f" - {p[1:]}" if p.startswith("-") else f" + {p}"
    return out


def _text_lines(c: dict, style: str) -> list[str]:
    arrow = "->" if style == "text" else "→"
    lines = ["Computational graph (forward, in topological order):"]
    for g in c["graph"]:
        lines.append(f"  {g['name']} = {g['definition']}")
    lines += ["", f"Backward pass (from {c['output']} back, G is the upstream gradient):"]
    for st in c["steps"]:
        head = st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"
        lines.append(f"- node {head}   [{st['gate'] or st['rule']}]")
        if st["fork"]:
            parts = _plus([f["contribution"] for f in st["fork"]])
            lines.append(f"    fork: {st['upstream_label']} = {parts}   (from "
                         + ", ".join(f["from"] for f in st["fork"]) + ", added)")
        lines.append(f"    upstream  {st['upstream_label']} = {st['upstream']}")
        for i in st["inputs"]:
            lines.append(f"    {arrow} to {i['input']}:")
            if i["local_jacobian"] is not None:
                lines.append(f"        local     {i['local_label']} = {i['local_jacobian']}")
            if i["local_rule"] is not None:
                lines.append(f"        rule      G {'|->' if style == 'text' else '↦'} {i['local_rule']}")
            if i["jacobian_form"] is not None:
                jf = i["jacobian_form"]
                if i["jacobian_form_simplified"] != jf:
                    jf += " = " + i["jacobian_form_simplified"]
                lines.append(f"        Jacobian  {i['downstream_label']} = {jf}")
            lines.append(f"        gradient  {i['downstream_label']} = {i['shape_convention']}   (shape convention)")
    lines += ["", "Result:"]
    for f in c["gradients"]:
        if "delta" in f:
            dl = f"{f['delta_symbol']} = {f['delta_label']} = {f['delta']}"
            if f["delta_simplified"] != f["delta"]:
                dl += " = " + f["delta_simplified"]
            if not f['delta_repeat']:
                lines.append(f"  {dl}")
            lines.append(f"  {f['label']} = {f['formula']} = {f['gradient']}")
        elif f["fork"]:
            lines.append(f"  {f['label']} = " + _plus(f["fork"]) + f" = {f['gradient']}   (fork: paths added)")
        else:
            lines.append(f"  {f['label']} = {f['gradient']}")
    return lines


def _latex(c: dict) -> str:
    def t(s):
        return r"\text{" + s.replace("_", r"\_").replace("&", r"\&").replace("%", r"\%") + "}"

    rows = [r"&" + t("Computational graph (forward):")]
    for g in c["graph"]:
        rows.append(f"{g['name']} &= {g['definition']}")
    rows.append(r"&" + t("Backward pass (G is the upstream gradient):"))
    for st in c["steps"]:
        head = st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"
        rows.append(rf"&{t('node ')} {head}")
        if st["fork"]:
            rows.append(f"{st['upstream_label']} &= " + _plus([f["contribution"] for f in st["fork"]])
                        + r" \quad " + t("(fork: contributions added)"))
        rows.append(f"{st['upstream_label']} &= {st['upstream']}")
        for i in st["inputs"]:
            if i["local_jacobian"] is not None:
                rows.append(f"{i['local_label']} &= {i['local_jacobian']}")
            elif i["local_rule"] is not None:
                rows.append(rf"G &\mapsto {i['local_rule']} \quad \text{{(local rule, to }} {i['input']}\text{{)}}")
            if i["jacobian_form"] is not None:
                jf = i["jacobian_form"]
                if i["jacobian_form_simplified"] != jf:
                    jf += " = " + i["jacobian_form_simplified"]
                rows.append(f"{i['downstream_label']} &= {jf}")
            rows.append(f"{i['downstream_label']} &= {i['shape_convention']}")
    rows.append(r"&" + t("Result:"))
    for f in c["gradients"]:
        if "delta" in f:
            dl = f"{f['delta_symbol']} = {f['delta_label']} &= {f['delta']}"
            if f["delta_simplified"] != f["delta"]:
                dl += " = " + f["delta_simplified"]
            if not f['delta_repeat']:
                rows.append(dl)
            rows.append(f"{f['label']} &= {f['formula']} = {f['gradient']}")
        elif f["fork"]:
            rows.append(f"{f['label']} &= " + _plus(f["fork"]) + f" = {f['gradient']}")
        else:
            rows.append(f"{f['label']} &= {f['gradient']}")
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def render(ex: Explanation, style: str = "unicode") -> str:
    """The explanation printed: unicode, text, latex (an align* environment), markdown or json."""
    if style not in STYLES:
        raise MatcalcError(f"unknown style {style!r}: one of {', '.join(STYLES)}")
    if style == "json":
        payload = {"expr": ex.expr, "unicode": _content(ex, "unicode"), "latex": _content(ex, "latex"),
                   "text": _content(ex, "text")}
        return json.dumps(payload, ensure_ascii=False, indent=2)
    if style == "latex":
        return _latex(_content(ex, "latex"))
    if style == "markdown":
        return _markdown(_content(ex, "unicode"))
    return "\n".join(_text_lines(_content(ex, style), style))


def _markdown(c: dict) -> str:
    def code(s):
        return f"`{s}`"

    lines = [f"### Steps for {code(c['expr'])}", "", "**Computational graph** (forward, topological order):", ""]
    lines += [f"- {code(g['name'] + ' = ' + g['definition'])}" for g in c["graph"]]
    lines += ["", f"**Backward pass** from {code(c['output'])} (G is the upstream gradient):", ""]
    for st in c["steps"]:
        head = st["node"] if st["definition"] == st["node"] else f"{st['node']} = {st['definition']}"
        lines.append(f"- node {code(head)}: {st['gate'] or st['rule']}")
        if st["fork"]:
            lines.append("  - fork, contributions added: "
                         + code(st["upstream_label"] + " = " + _plus([f["contribution"] for f in st["fork"]])))
        lines.append(f"  - upstream {code(st['upstream_label'] + ' = ' + st['upstream'])}")
        for i in st["inputs"]:
            parts = []
            if i["local_jacobian"] is not None:
                parts.append("local " + code(i["local_label"] + " = " + i["local_jacobian"]))
            elif i["local_rule"] is not None:
                parts.append("local rule " + code("G ↦ " + i["local_rule"]))
            if i["jacobian_form"] is not None:
                jf = i["jacobian_form"]
                if i["jacobian_form_simplified"] != jf:
                    jf += " = " + i["jacobian_form_simplified"]
                parts.append("Jacobian form " + code(i["downstream_label"] + " = " + jf))
            parts.append("shape convention " + code(i["downstream_label"] + " = " + i["shape_convention"]))
            lines.append(f"  - to {code(i['input'])}: " + "; ".join(parts))
    lines += ["", "**Result:**", ""]
    for f in c["gradients"]:
        if "delta" in f:
            dl = f"{f['delta_symbol']} = {f['delta_label']} = {f['delta']}"
            if f["delta_simplified"] != f["delta"]:
                dl += " = " + f["delta_simplified"]
            if not f['delta_repeat']:
                lines.append(f"- {code(dl)}")
            lines.append(f"- {code(f['label'] + ' = ' + f['formula'] + ' = ' + f['gradient'])}")
        elif f["fork"]:
            lines.append(f"- {code(f['label'] + ' = ' + _plus(f['fork']) + ' = ' + f['gradient'])}"
                         " (fork: the paths' contributions are added)")
        else:
            lines.append(f"- {code(f['label'] + ' = ' + f['gradient'])}")
    return "\n".join(lines)


def explain(derivation, style: str = "unicode") -> str:
    """The chain-rule steps of ``derivation`` (made with ``steps=True``) printed in ``style``."""
    return render(explanation(derivation), style)


# ---------------------------------------------------------------------- numbers at a point (--at)
def parse_at(text: str) -> dict[str, list]:
    """``x=-2,y=5,z=-4`` or ``w=[2,-3,-3],x=[-1,-2]`` → {name: value}; numbers only, never eval."""
    import re
    out: dict[str, object] = {}
    pos = 0
    text = text.strip()
    item = re.compile(r"\s*([^\W\d]\w*)\s*=\s*(\[[^\]]*\]|[^,\[\]]+)\s*(,|$)")
    while pos < len(text):
        m = item.match(text, pos)
        if not m:
            raise MatcalcError(f"--at {text!r}: write NAME=NUMBER or NAME=[n1,n2,...], separated by commas "
                               "(e.g. x=-2,y=5,z=-4)")
        name, raw = m.group(1), m.group(2).strip()
        try:
            if raw.startswith("["):
                rows = [r for r in raw[1:-1].split(";")]
                vals = [[float(v) for v in r.replace(",", " ").split()] for r in rows]
                out[name] = vals[0] if len(vals) == 1 else vals
            else:
                out[name] = float(raw)
        except ValueError:
            raise MatcalcError(f"--at: {name}={raw} is not a number or a list of numbers") from None
        pos = m.end()
    return out


def format_value(v) -> str:
    """A value as the steps and pictures print it: 6 significant digits, 0 for −0."""
    a = np.asarray(v, dtype=float)
    if a.ndim == 0 or a.size == 1:
        x = float(a.reshape(-1)[0])
        return format(0.0 if x == 0 else x, ".6g")
    return np.array2string(a, precision=6, suppress_small=True, separator=", ",
                           formatter={"float_kind": lambda x: format(0.0 if x == 0 else x, ".6g")})


def values_at(d, point: dict, functions: dict | None = None) -> dict:
    """Forward value, value of every named node, and each gradient at ``point`` (external values)."""
    if d.kind != "gradient":
        raise MatcalcError("--at evaluates a scalar output and its gradients; this derivation is a " + d.kind)
    env = {}
    for name, var in {**d.typed.variables, **d.variables}.items():
        if name not in point:
            raise MatcalcError(f"--at gives no value for {name}")
        value = point[name]
        if var.attrs[2] == "index":            # a user's point counts an index from 1, NumPy from 0
            value = float(value) - 1
        env[name] = to_internal(value, var.attrs[1])
    out = d.typed.output
    cache: dict = {}
    (val,) = evaluate([out], env, functions, cache)
    grads = {}
    for w in d.wrt:
        g = evaluate([d.results[w]], env, functions)[0]
        grads[w] = to_external(g if g.shape == env[w].shape else __import__("numpy").broadcast_to(g, env[w].shape),
                               d.variables[w].attrs[1])
    return {"value": to_external(val, 0 if out.is_scalar else 2), "gradients": grads, "cache": cache, "env": env}


def values_text(d, point: dict, style: str = "unicode") -> str:
    """``f = -12`` then ``∂f/∂x = -4``, … at the point (value-only evaluation)."""
    vals = values_at(d, point)
    ex_name = d.typed.statements[-1][0] or d.output_name
    lines = [f"at {', '.join(f'{k} = {format_value(v)}' for k, v in point.items())}:", f"{ex_name} = {format_value(vals['value'])}"]
    for w, g in vals["gradients"].items():
        lab = f"d{ex_name}/d{w}" if style == "text" else f"∂{ex_name}/∂{w}"
        lines.append(f"{lab} = {format_value(g)}")
    if style == "json":
        return json.dumps({"value": _jsonable(vals["value"]),
                           "gradients": {w: _jsonable(g) for w, g in vals["gradients"].items()}}, indent=2)
    return "\n".join(lines)


def _jsonable(v):
    a = np.asarray(v, dtype=float)
    return float(a) if a.ndim == 0 else a.tolist()

