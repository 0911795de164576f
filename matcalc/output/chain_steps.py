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

How the locals are read is a ``ChainForm``: the Jacobian form here (``JACOBIAN_FORM``: the output
and the intermediates vectors or scalars; a matrix on the way has a tensor as its Jacobian, and
a clear error says so), or ``second_order.tensor_steps``' vec form, which reads a matrix ``M`` as
``vec(M)`` and so walks a 4-D derivative the same way.  Every printed expression is a graph
node, so the tests evaluate each one against finite differences; ``chain_print`` prints the
chain.  Nothing here changes the derivation.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from matcalc.core import algebra as A
from matcalc.core.diff import linear_coefficient
from matcalc.core.errors import MatcalcError, UnsupportedError
from matcalc.core.graph import Node, depends_on
from matcalc.core.naming import subscripted
from matcalc.core.rules import RULES
from matcalc.output.render import Printer
from matcalc.output.steps import name_graph
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
    entries: object | None = None                              # vec form: the result entry by entry (an IndexForm)


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


def vectorlike(n: Node) -> bool:
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
        if not vectorlike(out):
            raise UnsupportedError("Jacobian-chain steps are shown for a vector output; this one is a matrix")
    naming = name_graph(d.typed)
    targets = [d.variables[w] for w in d.wrt]
    up: dict[int, list[tuple[Node | None, Node]]] = {id(out): [(None, A.eye(out.rows * out.cols))]}
    links: list[ChainLink] = []
    reached: dict[int, Node] = {}
    parents: dict[int, list[Node]] = {}
    for node in reversed(naming.order):
        if id(node) not in up or not node.args or any(node is v for v in targets):
            continue
        if not vectorlike(node) and not form.matrices:
            raise UnsupportedError(_MATRIX_STEP.format(Printer("unicode")(node)))
        parts = up[id(node)]
        (upstream,) = simplify_all([A.add(*(p for _, p in parts))])
        link = ChainLink(node, upstream, [(f, simplify_all([p])[0]) for f, p in parts] if len(parts) > 1 else [])
        for k, inp in enumerate(node.args):
            if any(inp is a for a in node.args[:k]) or not any(depends_on(inp, v) or inp is v for v in targets):
                continue
            if not vectorlike(inp) and not form.matrices:
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
