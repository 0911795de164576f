"""The one walker over a linear map, with pluggable targets; product chains flattened and folded.

A JVP ``dY`` is linear in its tangent ``T``.  Reading a closed form off it is one walk over its
graph whatever the form: ``LinearMap`` finds where ``T`` sits and checks linearity (exactly one
argument of a scaling, a Hadamard product or a product chain may hold ``T``), memoises per node
and checks each result's shape; a target says what each structure gives:

- the matrix coefficient ``M`` with ``dY = M T`` (``diff.linear_coefficient``: Jacobians, Hessians
  of vectors),
- the Kronecker/vec form ``vec(dY) = M vec(T)`` (``second_order.kronecker.vec_coefficient``),
- the index form ``∂dYᵢⱼ/∂Tₖₗ`` (``second_order.indexform.index_form``).

A target subclasses ``LinearMap`` and defines ``tangent``, ``constant``, ``sum``, ``scaled``
(``T`` in the body of a scaling), ``scalar`` (``T`` in one scalar factor), ``hadamard`` and an
``op_<name>`` method for each other operation it reads; an operation it has no method for raises
``UnsupportedError`` with the target's ``missing`` message.  Targets may pass a context (the
index form passes the entry's indices) through every call.

``factors`` and ``fold`` flatten a product chain into its factors and multiply factors back.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.errors import InternalError, UnsupportedError
from matcalc.core.graph import Node, depends_on
from matcalc.core.rebuild import postorder

NOT_LINEAR = "not linear in the tangent"


def factors(node: Node, keep_scalars: bool = False) -> list[Node]:
    """The factors of a matrix-product chain, left to right; ``keep_scalars``: a 1×1 product
    inside the chain stays one factor (it is a scalar)."""
    out, stack = [], [node]
    while stack:
        x = stack.pop()
        if x.op == "matmul" and not (keep_scalars and x is not node and x.is_scalar):
            stack += [x.args[1], x.args[0]]
        else:
            out.append(x)
    return out


def fold(chain: list[Node], mul: Callable[[Node, Node], Node] = A.matmul) -> Node:
    """f₁ f₂ … fₖ multiplied left to right with ``mul``."""
    out = chain[0]
    for f in chain[1:]:
        out = mul(out, f)
    return out


class LinearMap:
    """A walk over an expression linear in ``T``; subclasses are the targets (see the module)."""

    memoise = True                      # results keyed by (node, context)
    missing = "no closed form through {}"

    def __init__(self, T: Node):
        self.T = T
        self.depth = 0                          # calls in progress (warm only from the outermost)
        self.memo: dict[tuple, object] = {}     # keyed by the node: temporaries made below stay alive

    def __call__(self, e: Node, *at):
        key = (e, *at)
        if self.memoise and key in self.memo:
            return self.memo[key]
        if self.memoise and not at and not self.depth:
            self.warm(e)
        self.depth += 1
        try:
            r = self.walk(e, *at)
        finally:
            self.depth -= 1
        self.check(e, r)
        if self.memoise:
            self.memo[key] = r
        return r

    def warm(self, root: Node) -> None:
        """Fill the memo children first for the part of ``root`` that holds ``T`` (the factors of
        a product chain, not its inner products), so that the walk from ``root`` recurses only
        into what is already answered, however deep the expression (a 600-layer network's
        Hessian).  A node whose form cannot be read on its own is left to the walk, which may
        reach it in a context that can (or raise its error there)."""
        def children(n: Node) -> list:
            if n is self.T or ((n,) in self.memo) or not depends_on(n, self.T):
                return []
            return factors(n) if n.op == "matmul" else list(n.args)
        self.depth += 1
        try:
            for n in postorder(root, children):
                if n is root or (n,) in self.memo or n is self.T or not depends_on(n, self.T):
                    continue
                try:
                    self(n)
                except (UnsupportedError, InternalError):
                    continue
        finally:
            self.depth -= 1

    def walk(self, e: Node, *at):
        if e is self.T:
            return self.tangent(e, *at)
        if not depends_on(e, self.T):
            return self.constant(e, *at)
        method = getattr(self, "op_" + e.op, None)
        if method is None:
            raise UnsupportedError(self.missing.format(e.op))
        return method(e, *at)

    def check(self, e: Node, r) -> None:
        """Raise ``InternalError`` when ``r`` cannot be the form of ``e`` (its shape)."""

    def moving(self, nodes) -> int:
        """The position of the one node of ``nodes`` that holds ``T`` (else: not linear)."""
        hit = [i for i, f in enumerate(nodes) if depends_on(f, self.T)]
        if len(hit) != 1:
            raise UnsupportedError(NOT_LINEAR)
        return hit[0]

    def split_chain(self, chain: list[Node]) -> tuple[list[Node], Node, list[Node]]:
        """(left factors, the factor holding ``T``, right factors) of a product chain."""
        i = self.moving(chain)
        return chain[:i], chain[i], chain[i + 1:]

    # ------------------------------------------------------------ shared structure
    def op_add(self, e: Node, *at):
        return self.sum([self(t, *at) for t in e.args], *at)

    def op_scale(self, e: Node, *at):
        """c · Π fs · body with ``T`` in exactly one of the factors or in the body."""
        c, fs, body = A.split(e)
        scalars = e.args if body is None else e.args[:-1]
        i = self.moving(list(scalars) + ([body] if body is not None else []))
        if i == len(scalars):
            return self.scaled(c, fs, body, *at)
        rest = [(g, Fraction(1)) for j, g in enumerate(scalars) if j != i]
        return self.scalar(c, rest, scalars[i], body, *at)

    def op_hadamard(self, e: Node, *at):
        i = self.moving(e.args)
        others = A.hadamard(*(f for j, f in enumerate(e.args) if j != i))
        return self.hadamard(others, e.args[i], *at)


class MatrixTarget(LinearMap):
    """A target whose form of ``e`` is a matrix with one row per entry of ``e`` and ``columns``
    columns (one per entry of ``T`` the map reads): the matrix coefficient and the vec form."""

    label = "coefficient"

    def __init__(self, T: Node, columns):
        super().__init__(T)
        self.columns = columns

    def check(self, e: Node, r: Node) -> None:
        if r.shape != (e.rows * e.cols, self.columns):
            raise InternalError(f"{self.label} of {e.op} has shape {r.shape}")

    def tangent(self, e: Node) -> Node:
        return A.eye(self.columns)

    def constant(self, e: Node) -> Node:
        return A.zero((e.rows * e.cols, self.columns))

    def sum(self, coefs: list[Node]) -> Node:
        return A.add(*coefs)

    def scaled(self, c, fs, body: Node) -> Node:
        return A.product(c, fs, self(body))
