"""Where the printed steps' expressions live: every line local, so the steps grow linearly.

Printed in full, the upstream gradient at a node of a deep chain is the whole chain above it,
and so is everything built from it: N nodes gave N lines of length up to N (quadratic text),
and simplifying each of them walked the whole graph below (quadratic time).  In the *named*
world each named node of the forward graph (``z₁``, ``h2``) is a placeholder variable of its
name, and each node's upstream gradient, once its expression is written down, is a
placeholder too: ``dz₃ = ∂s/∂z₃ = …``, and every later line says ``dz₃`` (CS231n's ``dz``).
A node's rules are applied to its *local copy* (the same operation over its arguments'
placeholders), so every expression of a step is a few nodes over placeholders: building,
simplifying and printing it costs the same at every depth.

Each placeholder stands for a value the tests compute in order (the forward values, then each
upstream from its printed expression), so every printed line is still checked numerically.
The *full* world (``named=False``) keeps the whole expressions, as the index-notation steps
need them.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.graph import Node, make, topo_order
from matcalc.core.kinds import is_leaf
from matcalc.core.rebuild import postorder


def _ndim(n: Node) -> int:
    """How NumPy sees a placeholder of ``n``'s shape (0 scalar, 1 column, 2 otherwise)."""
    return 0 if n.is_scalar else 1 if n.is_column else 2


def _varying(nodes: list[Node]) -> set[int]:
    """The ids of ``nodes`` (and of the nodes below them) that hold a variable: one walk of the
    graph, children first.  A node of sizes and numbers alone (``n⁻¹``) gets no placeholder."""
    out: set[int] = set()
    for n in topo_order(nodes):
        if n.op == "var" or any(id(a) in out for a in n.args):
            out.add(id(n))
    return out


def _sizes_only(n: Node, at_most: int = 8) -> bool:
    """A few nodes of numbers and sizes alone (``1/n``, ``2/(m n)``): no variable, no placeholder."""
    seen = 0
    stack = [n]
    while stack:
        m = stack.pop()
        seen += 1
        if m.op == "var" or seen > at_most:
            return False
        stack.extend(m.args)
    return True


class StepWorld:
    """Placeholders for one explanation: ``local`` copies of nodes, ``localize`` of expressions
    built from them, and ``grad`` naming each node's upstream gradient."""

    def __init__(self, names: dict[int, str], fresh: set[int], named_nodes: list[Node], taken: set[str],
                 named: bool = True):
        self.named = named
        self.names = names                            # shared with the naming: placeholders are added
        self.fresh = fresh
        self.placeholder: dict[int, Node] = {}        # id(real node or its local copy) -> placeholder
        self.forward: list[tuple[Node, Node]] = []    # (placeholder, the forward node it stands for)
        self.grads: list[tuple[Node, Node]] = []      # (gradient placeholder, the node whose upstream it is)
        self._grad_ids: set[int] = set()
        self.alive: list[Node] = []                   # every node keyed by id here, kept alive
        self.used = set(taken) | set(names.values())
        if not named:
            return
        varying = _varying(named_nodes)
        for n in named_nodes:
            if id(n) not in varying:             # n⁻¹ of a mean: printed as itself, so 𝟏/n still reads so
                continue
            p = A.var(names[id(n)], n.shape, _ndim(n))
            self._name(p, names[id(n)], id(n) in fresh)
            self.placeholder[id(n)] = p
            self.forward.append((p, n))
            self.alive.append(n)

    def _name(self, p: Node, name: str, fresh: bool) -> None:
        self.names[id(p)] = name
        if fresh:
            self.fresh.add(id(p))
        self.alive.append(p)

    def local(self, node: Node) -> Node:
        """``node``'s operation over its arguments' placeholders (``node`` itself in the full
        world): what a rule sees, so its derivative is written in the arguments' names."""
        if not self.named or not node.args:
            return node
        args = [self.placeholder.get(id(a), a) for a in node.args]
        copy = make(node.op, args, node.shape, node.attrs)
        if id(node) in self.placeholder and copy is not node:
            self.placeholder[id(copy)] = self.placeholder[id(node)]
            self.alive.append(copy)
        return copy

    def localize(self, expr: Node) -> Node:
        """``expr`` with each named node (and local copy) replaced by its placeholder; the walk
        stops at them, so it costs the size of the expression above them."""
        if not self.named:
            return expr
        sub = self.placeholder
        new: dict[int, Node] = {}
        for n in postorder(expr, lambda m: () if id(m) in sub else m.args):
            if id(n) in sub:
                new[id(n)] = sub[id(n)]
            elif not n.args:
                new[id(n)] = n
            else:
                args = [new[id(a)] for a in n.args]
                new[id(n)] = n if all(a is b for a, b in zip(args, n.args)) else make(n.op, args, n.shape, n.attrs)
        return new[id(expr)]

    def grad(self, node: Node, upstream: Node) -> tuple[Node, str | None]:
        """What later lines write for ``node``'s upstream gradient, and its name: the named
        world names it ``d`` + the node's name (``dz3``, ``dh2``) unless it is as short as a name
        already (a variable, a constant, 𝟏, their transposes); the full world writes it out."""
        if not self.named or id(node) not in self.placeholder or self._short(upstream):
            return upstream, None
        base = self.names[id(self.placeholder[id(node)])]
        name = "d" + base
        while name in self.used or name == "delta" or (name.startswith("delta") and name[5:].isdigit()):
            name = "d_" + name[1:] if not name.startswith("d_") else name + "_"
        self.used.add(name)
        p = A.var(name, node.shape, _ndim(node))
        self._name(p, name, id(node) in self.fresh or id(self.placeholder[id(node)]) in self.fresh)
        self.grads.append((p, node))
        self._grad_ids.add(id(p))
        return p, name

    def _short(self, n: Node) -> bool:
        """A variable, a forward name, a constant or 𝟏 (or one transposed or scaled): printed as
        short as a name, so it is written where the name would be.  Another node's gradient is
        named again (``dz₁ = ∂s/∂z₁ = dz₂``), so that each node's gradient has its own name."""
        if n.op in ("transpose", "scale") and len(n.args) == 1:
            n = n.args[0]
        if id(n) in self._grad_ids:
            return False
        return is_leaf(n) or A.is_const(n) or _sizes_only(n)
