"""A derivation's chain-rule steps as data: the ``Explanation`` that ``explain`` prints.

``explanation(derivation)`` reads the steps that ``diff.gradients`` recorded (``derive(...,
steps=True)``) and builds it in three passes:

1. naming: the forward graph in topological order, the program's own names, fresh ``z₁, z₂, …``
   for the other operations (a simplified twin of a named node prints with its name);
2. steps: for each node from the output back, the upstream gradient (with the contributions
   that meet at a fork added), the local gradient in Jacobian form where one exists
   (``diag(f'(z))`` for an elementwise function), the downstream gradient in Jacobian form
   (upstream × local, then simplified) and in shape convention (what code computes: a Hadamard
   product, never a diagonal matrix);
3. final: each gradient, with the error signal ``δ`` named as in the lectures
   (``δ = uᵀ diag(f'(z))``, ``∂s/∂W = δᵀ xᵀ``).

Every expression is kept as a graph node, so tests evaluate each printed intermediate
numerically.  Nothing here changes the derivation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from matcalc.core import algebra as A
from matcalc.core.diff import linear_coefficient
from matcalc.core.errors import MatcalcError
from matcalc.core.graph import ONE, Node, topo_order
from matcalc.core.kinds import function_name, is_leaf, is_variable
from matcalc.core.naming import numbered, subscripted
from matcalc.core.rules import RULES
from matcalc.output.render import Printer
from matcalc.simplify.rewrite import simplify_all


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
    delta_name: str = "delta"          # ASCII: delta, or delta1, delta2, … for several error signals
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
    alive: list[Node] = field(default_factory=list)   # every node ``names`` keys by id, kept alive

    def names_for(self, style: str) -> dict[int, str]:
        if style != "unicode":
            return dict(self.names)
        out = {}
        for k, v in self.names.items():
            if k in self.fresh:
                v = subscripted(v)
            out[k] = "δ" + subscripted(v[5:]) if _is_delta(v) else v
        return out


def _is_delta(name: str) -> bool:
    return name == "delta" or (name.startswith("delta") and name[5:].isdigit())


@dataclass
class _Naming:
    """The names of the forward graph (pass 1)."""

    output: str                        # the output's name (the program's, else f, else s)
    names: dict[int, str]              # id(node) -> ASCII name
    fresh: set[int]                    # ids named z1, z2, … here
    order: list[Node]                  # the forward graph in topological order
    named: list[Node]                  # the named nodes, in that order
    taken: set[str]                    # the program's own names
    twins: list[Node]                  # the simplified twins named too (kept alive: names are by id)

    def label(self, n: Node) -> str:
        if id(n) in self.names:
            return self.names[id(n)]
        return Printer("text", self.names)(n)


# ---------------------------------------------------------------------- building it
def explanation(d) -> Explanation:
    """The structured explanation of a Derivation made with ``steps=True``."""
    if d.kind == "jacobian":
        raise MatcalcError("index-notation steps are shown for a scalar output; for this output, "
                           "--steps shows the Jacobian chain")
    if d.kind != "gradient":
        raise MatcalcError("index-notation steps (--index) pass a scalar output's gradient back entry by entry; "
                           "this derivative is a 4-D array (a matrix on either side): --steps shows its chain in "
                           "vec form, each local derivative also entry by entry")
    if not d.steps:
        raise MatcalcError("no steps were recorded: derive with steps=True")
    naming = name_graph(d.typed)
    gname = "G" if "G" not in naming.taken else "G_up"
    G = A.var(gname, d.typed.output.shape, 0)                     # the upstream placeholder (its name)
    graph = [(naming.names[id(n)], n, n.op) for n in naming.named]
    steps, senders, jac_chain = _backward_steps(d, naming, gname)
    finals, delta_var = _finals(d, naming.names, senders, jac_chain, naming.order)
    definitions = {id(n): n for n in naming.named}
    return Explanation(d.expr, naming.output, graph, steps, finals, naming.names, naming.fresh, definitions,
                       G, delta_var, naming.order + naming.twins)


def _leafish(n: Node) -> bool:
    return is_leaf(n) or A.is_const(n) or (
        n.op in ("transpose", "scale") and len(n.args) == 1 and is_variable(n.args[0]))


def output_name(typed) -> str:
    """The output's name in results and steps alike: the program's own, else ``f``, else ``s`` where
    ``f`` is already a function or a variable (``u'*f(W*x + b)``: ∂s/∂W, not ∂f/∂W)."""
    last = typed.statements[-1][0]
    if last:
        return last
    taken = set(typed.variables) | set(typed.intermediates)
    generic = {function_name(n) for n in topo_order([typed.output])}
    return "s" if "f" in generic or "f" in taken else "f"


def name_graph(typed) -> _Naming:
    """Pass 1: the program's names for its intermediates and output, z1, z2, … for the rest."""
    out = typed.output
    taken = set(typed.variables) | set(typed.intermediates)
    output = output_name(typed)
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
        names[id(node)], counter = numbered("z", counter, taken)
        fresh.add(id(node))
    # simplified twins of named nodes print with the same name
    named_nodes = [n for n in order if id(n) in names]
    twins = simplify_all(named_nodes)
    for n, s in zip(named_nodes, twins):
        if id(s) not in names:
            names[id(s)] = names[id(n)]
            if id(n) in fresh:
                fresh.add(id(s))
    return _Naming(output, names, fresh, order, named_nodes, taken, twins)


def _backward_steps(d, naming: _Naming, gname: str):
    """Pass 2: one ``StepInfo`` per recorded step; who sent what to each node (for the finals);
    and the Jacobian-form chain that reached each node with a single parent."""
    parents: dict[int, int] = {}
    for n in naming.order:
        for a in set(map(id, n.args)):
            parents[a] = parents.get(a, 0) + 1
    steps: list[StepInfo] = []
    jac_chain: dict[int, Node] = {}      # id(node) -> Jacobian-form chain that reached it (single parent)
    senders: dict[int, list[tuple[Node, Node, Node]]] = {}
    for st in d.steps:
        node = st.node
        (up,) = simplify_all([st.upstream])
        upj = _row(up)
        info = StepInfo(node, naming.label(node), node, node.op, RULES[node.op].doc, up, upj)
        for part in st.fork:
            frm = next((s.node for s in d.steps for (i, c) in s.sent if i is node and c is part), None)
            info.fork.append((frm, simplify_all([part])[0]))
        for inp, contribution in st.sent:
            (c,) = simplify_all([contribution])
            senders.setdefault(id(inp), []).append((node, up, c))
            loc = _local(node, inp, c, up, upj, naming, gname, jac_chain)
            if loc.chain is not None and parents.get(id(inp), 0) == 1:
                jac_chain[id(inp)] = loc.chain
            info.inputs.append(loc)
        steps.append(info)
    return steps, senders, jac_chain


def _local(node: Node, inp: Node, c: Node, up: Node, upj: Node | None, naming: _Naming, gname: str,
           jac_chain: dict[int, Node]) -> Local:
    """What ``inp`` receives from ``node``: the VJP template, and for vectors and scalars the local
    Jacobian and the chain upstream × local in Jacobian form."""
    loc = Local(inp, naming.label(inp), c)
    Gs = A.var(gname, node.shape, 2 if not (node.is_column or node.is_scalar) else int(node.is_column))
    k = list(node.args).index(inp)
    tpl = RULES[node.op].vjp(node, Gs)[k]
    loc.template = simplify_all([tpl])[0] if tpl is not None else None
    if not ((inp.is_column or inp.is_scalar) and (node.is_column or node.is_scalar) and upj is not None):
        return loc
    try:
        T = A.var("∂" + naming.label(inp), inp.shape, int(inp.is_column))
        ts = tuple(T if j == k else None for j in range(len(node.args)))
        (J,) = simplify_all([linear_coefficient(RULES[node.op].jvp(node, ts), T)])
    except MatcalcError:
        J = None
    if J is None:
        return loc
    loc.jacobian = J
    if J.op == "eye" and id(node) in jac_chain:
        chain = jac_chain[id(node)]
    elif A.is_const(up, 1):
        chain = J
    else:
        chain = A.matmul(upj, J) if not node.is_scalar or not J.is_scalar else A.scale(upj, J)
    loc.chain = chain
    loc.chain_simplified = simplify_all([A.transpose(c) if not c.is_scalar else c])[0]
    return loc


def _finals(d, names: dict[int, str], senders, jac_chain, order: list[Node]) -> tuple[list[Final], Node | None]:
    """Pass 3: each gradient, the paths added at a fork, and δ where a product sends it (two
    different error signals are δ₁, δ₂, … numbered by layer from the input, as CS224n does)."""
    finals = []
    delta_var = None
    symbols = _delta_names(d, senders, order)
    for w in d.wrt:
        v = d.variables[w]
        fin = Final(w, d.results[w])
        snd = senders.get(id(v), [])
        if len(snd) > 1:
            fin.parts = [c for _, _, c in snd]
        if len(snd) == 1 and id(snd[0][0]) in symbols:
            node, up, _ = snd[0]
            a, b = node.args
            row = up.is_column
            dshape = (ONE, up.rows) if row else up.shape
            fin.delta_name = symbols[id(node)]
            delta_var = A.var(fin.delta_name, dshape, 2)
            names[id(delta_var)] = fin.delta_name
            dsh = A.transpose(delta_var) if row else delta_var     # δ in shape convention
            fin.delta = jac_chain.get(id(node), _row(up) if row else up)
            fin.delta_simplified = simplify_all([_row(up) if row else up])[0]
            fin.delta_at = node
            fin.formula = A.matmul(dsh, A.transpose(b)) if v is a else A.matmul(A.transpose(a), dsh)
        finals.append(fin)
    return finals, delta_var


def _delta_names(d, senders, order: list[Node]) -> dict[int, str]:
    """id(product node) -> the name of the error signal it sends (``delta``; ``delta1``,
    ``delta2``, … in forward order when there are several different ones)."""
    at: dict[int, Node] = {}
    for w in d.wrt:
        v = d.variables[w]
        snd = senders.get(id(v), [])
        if len(snd) != 1 or snd[0][0].op != "matmul" or snd[0][1] is None:
            continue
        node, up, _ = snd[0]
        a, b = node.args
        if (up.is_column or up.is_row or not up.is_scalar) and (v is a) != (v is b):
            at[id(node)] = node
    if len(at) < 2:
        return {k: "delta" for k in at}
    position = {id(n): k for k, n in enumerate(order)}
    ranked = sorted(at, key=lambda k: position.get(k, len(position)))
    return {k: f"delta{r + 1}" for r, k in enumerate(ranked)}


def _row(g: Node) -> Node | None:
    """The Jacobian (numerator-layout) form of an upstream gradient: a row for a column."""
    if g.is_scalar:
        return g
    if g.is_column:
        return A.transpose(g)
    return None
