"""Steps for a derivative printed entry by entry: the chain of local derivatives in index notation.

derive prints a derivative in index form where its vec form would need a selection matrix with
no standard name (``diag(x) A`` by x: ``∂fᵢⱼ/∂xₖ = Aᵢⱼ δᵢₖ``), and then the vec-form chain of
``tensor_steps`` has no Kronecker factor to show for ``diag``.  The same chain is written entry by
entry instead, from the output back, node by node:

    upstream  ∂fᵢⱼ/∂(z₁)ᵣₛ = δᵢᵣ Aₛⱼ                    the output's entries by the node's
    local     ∂(z₁)ᵣₛ/∂xₖ = δᵣₛ δᵣₖ                      the node's entries by its input's
    chain     ∂fᵢⱼ/∂xₖ = Σᵣₛ ∂fᵢⱼ/∂(z₁)ᵣₛ ∂(z₁)ᵣₛ/∂xₖ = Σᵣₛ δᵢᵣ Aₛⱼ δᵣₛ δᵣₖ = Aᵢⱼ δᵢₖ

(i, j index the output's entries, r, s the node's, k, l its input's, as derive's result
``∂fᵢⱼ/∂xₖ`` does).  Each form is read off the rule table's JVPs by the index-form walker
(``indexform``): the upstream from the JVP of the output with the node moving
(``core.diff.jvp`` seeded at the node: every path from the node on, added), the local from the
node's own JVP, the product summed over r, s with the deltas contracted, and what the input
receives along this edge from the output's JVP seeded with the node's local JVP.  Every printed
form is an ``IndexForm``, so the tests evaluate each one against central differences; the content
has the shape of the index steps (``index_steps``: its printers, JSON kind and web panel).
Nothing here changes the derivation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.diff import jvp
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import ONE, Node, depends_on
from matcalc.core.naming import subscripted
from matcalc.core.rules import RULES
from matcalc.output.render import Printer
from matcalc.output.steps import name_graph
from matcalc.second_order.index_steps import _eq, _Printer, _sum_sign, graph_definition, render_content
from matcalc.second_order.indexform import _POOL, Entry, IndexForm, Term, _collect, _contract, index_form, render_index

OUTPUT_INDICES = ("i", "j")        # the output's entries
NODE_INDICES = ("r", "s")          # a node's entries (summed over in the chain)
INPUT_INDICES = ("k", "l")         # its input's entries, as derive's ∂fᵢⱼ/∂xₖ
LEGEND = "i, j index the output's entries, r, s a node's, k, l its input's"


@dataclass
class ChainEntryInput:
    """What one input receives, entry by entry."""

    input: Node
    local: IndexForm                   # ∂node[r,s]/∂input[k,l]
    summed: IndexForm                  # Σ_rs ∂F[i,j]/∂node[r,s] ∂node[r,s]/∂input[k,l], as written
    contracted: IndexForm              # the same, Kronecker deltas contracted
    entry: IndexForm                   # ∂F[i,j]/∂input[k,l] along this edge, read off the JVP


@dataclass
class ChainEntryLink:
    node: Node
    upstream: IndexForm                # ∂F[i,j]/∂node[r,s] (every path from the node on)
    inputs: list[ChainEntryInput] = field(default_factory=list)


@dataclass
class IndexChain:
    expr: str
    output: str
    graph: list[tuple[str, Node, str]]
    links: list[ChainEntryLink]
    finals: list[tuple[str, IndexForm, Node | None]]   # (variable, ∂F[i,j]/∂var[k,l], a Jacobian's matrix)
    names: dict[int, str]
    fresh: set[int]
    alive: list[Node] = field(default_factory=list)   # the nodes ``names`` keys by id, kept alive

    def names_for(self, style: str) -> dict[int, str]:
        if style != "unicode":
            return dict(self.names)
        return {k: (subscripted(v) if k in self.fresh else v) for k, v in self.names.items()}


def _free(n: Node, names: tuple[str, str]) -> tuple[str | None, str | None]:
    return (names[0] if n.rows != ONE else None, names[1] if n.cols != ONE else None)


def _tangent(n: Node, label: str) -> Node:
    return A.var("∂" + label, n.shape, 0 if n.is_scalar else 1 if n.is_column else 2)


def _read(dY: Node, T: Node, free, what: str) -> IndexForm:
    try:
        return index_form(dY, T, free)
    except UnsupportedError as e:
        raise UnsupportedError(f"steps entry by entry: {what} has no index form ({e.message})") from None


def _apart(t: Term, taken: set[str], dims: dict) -> Term:
    """``t`` with its summation indices renamed away from ``taken`` (the upstream's indices), so
    that the product of two forms sums each index once."""
    for old in t.sums:
        if old not in taken:
            continue
        new = next(x for x in _POOL + "bcdfgwyz" if x not in taken and x not in t.sums)
        taken.add(new)
        dims[new] = dims[old]

        def ren(ix, old=old, new=new):
            return new if ix == old else ix
        t = Term(t.coef, t.scalars, tuple(Entry(e.node, ren(e.row), ren(e.col)) for e in t.entries),
                 tuple((ren(a), ren(b)) for a, b in t.deltas), tuple(ren(s) for s in t.sums), t.counts)
    return t


def _indices(form: IndexForm) -> set[str]:
    found: list[str | None] = list(form.free)
    for t in form.terms:
        found += list(t.sums) + [ix for e in t.entries for ix in (e.row, e.col)] + [ix for d in t.deltas for ix in d]
    return {ix for ix in found if ix is not None}


def _product(up: IndexForm, local: IndexForm, free) -> tuple[IndexForm, IndexForm]:
    """(Σ_rs up[i,j,r,s] local[r,s,k,l] as written, the same contracted) over the node's indices."""
    dims = {**up.dims, **local.dims}
    taken = _indices(up) | {ix for ix in free if ix is not None}
    sums = tuple(ix for ix in up.free[2:] if ix is not None)
    summed = [u.times(_apart(t, set(taken), dims)).times(Term(Fraction(1), sums=sums))
              for u in up.terms for t in local.terms]
    contracted = _collect([_contract(t, dims) for t in summed])
    return IndexForm(summed, free, dims), IndexForm(contracted, free, dict(dims))


def index_chain(d) -> IndexChain:
    """The chain of ``d`` (a derivative with a matrix on either side or on the way) entry by entry."""
    out = d.typed.output
    naming = name_graph(d.typed)
    targets = [d.variables[w] for w in d.wrt]
    i, j = _free(out, OUTPUT_INDICES)
    reached = {id(out)}
    links: list[ChainEntryLink] = []
    for node in reversed(naming.order):
        if id(node) not in reached or not node.args or any(node is v for v in targets):
            continue
        r, s = _free(node, NODE_INDICES)
        T = _tangent(node, naming.label(node))
        moved = T if node is out else jvp(out, {node: T})
        link = ChainEntryLink(node, _read(moved, T, (i, j, r, s), f"the output by {naming.label(node)}"))
        for n, inp in enumerate(node.args):
            if any(inp is a for a in node.args[:n]) or not any(inp is v or depends_on(inp, v) for v in targets):
                continue
            k, l_ = _free(inp, INPUT_INDICES)
            Ti = _tangent(inp, naming.label(inp))
            dnode = RULES[node.op].jvp(node, tuple(Ti if a is inp else None for a in node.args))
            if dnode is None:
                continue
            what = f"{naming.label(node)} by {naming.label(inp)}"
            local = _read(dnode, Ti, (r, s, k, l_), what)
            summed, contracted = _product(link.upstream, local, (i, j, k, l_))
            along = dnode if node is out else jvp(out, {node: dnode})
            entry = _read(along, Ti, (i, j, k, l_), f"the output by {naming.label(inp)} through {naming.label(node)}")
            link.inputs.append(ChainEntryInput(inp, local, summed, contracted, entry))
            reached.add(id(inp))
        links.append(link)
    finals = []
    for w in d.wrt:
        closed = d.closed.get(w)
        if isinstance(closed, IndexForm):                    # as derive prints it
            form = closed
        else:                                                # a vec form or a Jacobian: its entries
            T = d.tangents.get(w) or _tangent(d.variables[w], w)
            dY = d.results[w] if w in d.tangents else jvp(out, {d.variables[w]: T})
            form = _read(dY, T, ("i", "j", "k", "l"), f"the result by {w}")
        finals.append((w, form, d.results[w] if d.kind == "jacobian" else None))
    graph = [(naming.names[id(n)], n, n.op) for n in naming.named]
    return IndexChain(d.expr, naming.output, graph, links, finals, naming.names, naming.fresh,
                      naming.order + naming.twins)


# ---------------------------------------------------------------------- printing
def _content(ch: IndexChain, style: str) -> dict:
    """The chain as strings in ``style``, in the index steps' shape (``index_steps._content``)."""
    p = _Printer(ch, style)
    o = p.printer.var_name(ch.output) if style == "latex" else ch.output

    def form(f: IndexForm) -> str:
        return render_index(f, p.printer, style)

    out_ix = p.indexed_name(o, ch.links[0].upstream.free[:2]) if ch.links else o
    graph = [{"name": p.lab(n), "definition": Printer(style, {k: v for k, v in p.names.items() if k != id(n)})(n)}
             for _, n, _ in ch.graph]
    steps = []
    for link in ch.links:
        node_ix = p.indexed(link.node, link.upstream.free[2:])
        inputs: list[dict] = []
        item = {"node": p.lab(link.node), "definition": graph_definition(graph, p.lab(link.node)),
                "upstream_label": p.grad(out_ix, node_ix), "upstream": form(link.upstream), "inputs": inputs}
        for inp in link.inputs:
            in_ix = p.indexed(inp.input, inp.local.free[2:])
            sep = " " if style != "latex" else r" \, "
            chain = p.grad(out_ix, node_ix) + sep + p.grad(node_ix, in_ix)
            sums = [x for x in link.upstream.free[2:] if x is not None]
            if sums:
                chain = _sum_sign(sums, style) + chain
            inputs.append({
                "input": p.lab(inp.input), "local_label": p.grad(node_ix, in_ix), "local": form(inp.local),
                "missing": "", "downstream_label": p.grad(out_ix, in_ix), "chain": chain,
                "summed": form(inp.summed), "contracted": form(inp.contracted), "entry": form(inp.entry),
                "matrix_label": p.grad(o, p.lab(inp.input)), "matrix": None, "scalar": False,
                "entry_simple": True})
        steps.append(item)
    plain = Printer(style)
    gradients = []
    for w, f, matrix in ch.finals:
        name = p.printer.var_name(w) if style == "latex" else w
        label = p.grad(p.indexed_name(o, f.free[:2]), p.indexed_name(name, f.free[2:]))
        gradients.append({"label": label, "gradient": _eq(form(f), render_index(f, plain, style))})
        if matrix is not None:                               # a vector's Jacobian: the matrix derive prints
            gradients.append({"label": p.grad(o, name), "gradient": _eq(p.printer(matrix), plain(matrix))})
    return {"expr": ch.expr, "output": o, "graph": graph, "steps": steps, "gradients": gradients,
            "legend": LEGEND}


def explain_index_chain(d, style: str = "unicode") -> str:
    """``matcalc derive --steps`` for a derivative printed in index form: the chain entry by entry."""
    ch = index_chain(d)
    return render_content(lambda st: _content(ch, st), d.expr, style)
