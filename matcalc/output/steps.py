"""A derivation's chain-rule steps as data: the ``Explanation`` that ``explain`` prints.

``explanation(derivation)`` reads the steps that ``diff.gradients`` recorded (``derive(...,
steps=True)``) and builds it in three passes:

1. naming: the forward graph in topological order, the program's own names, fresh ``z₁, z₂, …``
   for the other operations (a simplified twin of a named node prints with its name);
2. steps: for each node from the output back, the upstream gradient (with the contributions
   that meet at a fork added) written once over the names of the upstreams before it and then
   named itself (``dz₂ = ∂s/∂z₂ = u ∘ f'(z₂)``; ``step_world``), the local gradient in Jacobian form where one exists
   (``diag(f'(z))`` for an elementwise function), the downstream gradient in Jacobian form
   (upstream × local, then simplified) and in shape convention (what code computes: a Hadamard
   product, never a diagonal matrix);
3. final: each gradient, with the error signal ``δ`` named as in the lectures
   (``δ = uᵀ diag(f'(z))``, ``∂s/∂W = δᵀ xᵀ``).

Every expression is kept as a graph node over the program's variables and the placeholders
(``Explanation.forward``: each forward name and its node; ``Explanation.grads``: each upstream's
name and its node, in step order), so tests bind each name to its value in turn and evaluate
every printed intermediate numerically.  Nothing here changes the derivation.
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
from matcalc.output.step_world import StepWorld
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
    grad: Node | None = None           # what later lines write for the upstream: its name, or itself
    grad_name: str | None = None       # the upstream's name (dz3), None where it is written out


@dataclass
class Final:
    var: str
    result: Node
    delta: Node | None = None          # the error signal, as a chain (unsimplified)
    delta_simplified: Node | None = None
    delta_at: Node | None = None
    formula: Node | None = None        # ∂s/∂W written with δ
    delta_named: Node | None = None    # δ as the δ node's upstream, by its name (dz₁ᵀ)
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
    forward: list[tuple[Node, Node]] = field(default_factory=list)  # (placeholder, the forward node it names)
    grads: list[tuple[Node, Node]] = field(default_factory=list)    # (upstream's placeholder, its node), in step order

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
def explanation(d, named: bool = True) -> Explanation:
    """The structured explanation of a Derivation made with ``steps=True``: in the named world
    (``step_world``: each upstream named once, every line local, linear in the program) or,
    ``named=False``, with every upstream written out in full (the index-notation steps)."""
    if d.kind == "jacobian":
        raise MatcalcError("index-notation steps are shown for a scalar output; for this output, "
                           "--steps shows the Jacobian chain")
    if d.kind != "gradient":
        raise MatcalcError("index-notation steps (--index) pass a scalar output's gradient back entry by entry; "
                           "this derivative is a 4-D array (a matrix on either side): --steps shows its chain in "
                           "vec form, each local derivative also entry by entry")
    if not d.steps:
        raise MatcalcError("no steps were recorded: derive with steps=True")
    naming = _name_graph(d.typed)
    gname = "G" if "G" not in naming.taken else "G_up"
    G = A.var(gname, d.typed.output.shape, 0)                     # the upstream placeholder (its name)
    graph = [(naming.names[id(n)], n, n.op) for n in naming.named]
    world = StepWorld(naming.names, naming.fresh, naming.named, naming.taken | {gname}, named)
    steps, senders, jac_chain = _backward_steps(d, naming, gname, world)
    grads = {id(st.node): st.grad for st in steps}
    finals, delta_var = _finals(d, naming.names, senders, jac_chain, naming.order, grads)
    definitions = {id(n): n for n in naming.named}
    return Explanation(d.expr, naming.output, graph, steps, finals, naming.names, naming.fresh, definitions,
                       G, delta_var, naming.order + naming.twins + world.alive, world.forward, world.grads)


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


def _name_graph(typed) -> _Naming:
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


def _backward_steps(d, naming: _Naming, gname: str, world: StepWorld):
    """Pass 2: one ``StepInfo`` per recorded step; who sent what to each node (for the finals);
    and the Jacobian-form chain (as written and simplified) that reached each node with a single
    parent.  In the named world each node's contributions are its rule applied to its local copy
    with the upstream's name, so no line repeats what an earlier line named."""
    parents: dict[int, int] = {}
    for n in naming.order:
        for a in set(map(id, n.args)):
            parents[a] = parents.get(a, 0) + 1
    steps: list[StepInfo] = []
    jac_chain: dict[int, tuple[Node, Node | None]] = {}   # id(node) -> Jacobian-form chain that reached it, simplified
    senders: dict[int, list[tuple[Node, Node, Node]]] = {}
    incoming: dict[int, list[tuple[Node | None, Node]]] = {}   # named world: (sender, contribution) per node
    sender_of = {(id(i), id(c)): s.node for s in d.steps for i, c in s.sent} if not world.named else {}
    for st in d.steps:
        node = st.node
        if world.named:
            parts = incoming.pop(id(node), [])
            up = world.localize(st.upstream) if not parts else simplify_all([A.add(*(c for _, c in parts))])[0]
            fork = parts if len(parts) > 1 else []
        else:
            (up,) = simplify_all([st.upstream])
            fork = [(sender_of.get((id(node), id(part))), simplify_all([part])[0]) for part in st.fork]
        grad, grad_name = world.grad(node, up)
        info = StepInfo(node, naming.label(node), node, node.op, RULES[node.op].doc, up, _row(up),
                        fork=list(fork), grad=grad, grad_name=grad_name)
        local = world.local(node)
        for k, inp, c in _contributions(st, local, grad, world):
            senders.setdefault(id(inp), []).append((node, up, c))
            if world.named:
                incoming.setdefault(id(inp), []).append((node, c))
            loc = _local(node, local, k, inp, c, up, _row(grad), naming, gname, jac_chain, world)
            if loc.chain is not None and parents.get(id(inp), 0) == 1:
                jac_chain[id(inp)] = (loc.chain, loc.chain_simplified)
            info.inputs.append(loc)
        steps.append(info)
    return steps, senders, jac_chain


def _contributions(st, local: Node, grad: Node, world: StepWorld) -> list[tuple[int, Node, Node]]:
    """(argument position, input, contribution simplified) for what the step sent: the recorded
    contributions in the full world; in the named world the rule's VJP of the local copy with
    the upstream's name, for the same inputs in the same order (``reverse.backpropagate``)."""
    args = st.node.args
    if not world.named:
        out, start = [], 0
        for inp, c in st.sent:
            k = next(j for j in range(start, len(args)) if args[j] is inp)
            start = k + 1
            out.append((k, inp, simplify_all([c])[0]))
        return out
    vjps = RULES[st.node.op].vjp(local, grad)
    picked, start = [], 0
    for inp, _ in st.sent:
        k = next(j for j in range(start, len(args)) if args[j] is inp and vjps[j] is not None)
        start = k + 1
        picked.append((k, inp, world.localize(vjps[k])))
    simple = simplify_all([c for _, _, c in picked]) if picked else []
    return [(k, inp, c) for (k, inp, _), c in zip(picked, simple)]


def _local(node: Node, local: Node, k: int, inp: Node, c: Node, up: Node, upj: Node | None, naming: _Naming,
           gname: str, jac_chain: dict[int, tuple[Node, Node | None]], world: StepWorld) -> Local:
    """What ``inp`` (argument ``k``) receives from ``node``: the VJP template, and for vectors and
    scalars the local Jacobian and the chain upstream × local in Jacobian form (``upj``: the
    upstream's row, by its name in the named world).  The rules see ``local``, the node's local
    copy."""
    loc = Local(inp, naming.label(inp), c)
    Gs = A.var(gname, node.shape, 2 if not (node.is_column or node.is_scalar) else int(node.is_column))
    tpl = RULES[node.op].vjp(local, Gs)[k]
    loc.template = simplify_all([world.localize(tpl)])[0] if tpl is not None else None
    if not ((inp.is_column or inp.is_scalar) and (node.is_column or node.is_scalar) and upj is not None):
        return loc
    try:
        T = A.var("∂" + naming.label(inp), inp.shape, int(inp.is_column))
        ts = tuple(T if j == k else None for j in range(len(node.args)))
        (J,) = simplify_all([world.localize(linear_coefficient(RULES[node.op].jvp(local, ts), T))])
    except MatcalcError:
        J = None
    if J is None:
        return loc
    loc.jacobian = J
    loc.chain_simplified = simplify_all([A.transpose(c) if not c.is_scalar else c])[0]
    if J.op == "eye" and id(node) in jac_chain:
        loc.chain, loc.chain_simplified = jac_chain[id(node)]
    elif A.is_const(up, 1):
        loc.chain = J
    else:
        loc.chain = A.matmul(upj, J) if not node.is_scalar or not J.is_scalar else A.scale(upj, J)
    return loc


def _finals(d, names: dict[int, str], senders, jac_chain, order: list[Node],
            grads: dict[int, Node]) -> tuple[list[Final], Node | None]:
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
            written = _row(up) if row else up
            fin.delta, fin.delta_simplified = jac_chain.get(id(node), (written, simplify_all([written])[0]))
            g = grads[id(node)]
            fin.delta_named = _row(g) if row else g
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
