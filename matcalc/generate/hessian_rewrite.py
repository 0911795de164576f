"""Evaluation order for generated second-order code: the Hessian and H v graphs rewritten to compute.

``Rewriter(keep).rewrite(roots)`` rebuilds the derived graph bottom-up (memoised, so shared parts
stay shared) without touching the values the forward pass already holds (``keep``):

- a product chain is re-associated by the matrix-chain dynamic programme, symbolic dimensions
  priced as large, ``diag(d)`` as a row or column scaling (``Aᵀ diag(d) A`` costs one product);
- a product with a vector is pushed right to left and distributed over sums, ``diag(d) u`` is
  ``d ∘ u``: ``(A + Aᵀ) v`` → ``A v + Aᵀ v``, never an n×n sum;
- an identity or diagonal term of a sum in a product is split off: ``P (B + I)`` → ``P B + P``;
- Kronecker products are multiplied out by the mixed-product rule, never formed:
  ``(P ⊗ Q)(R ⊗ S) = PR ⊗ QS``, ``(p ⊗ Q) M = p ⊗ QM`` for a column ``p``;
- sums of diagonals merge, and a minus sign goes into a sum (``-(a - b)`` is ``b - a``).

Values are unchanged: only the order of exact operations.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.graph import ONE, Node
from matcalc.core.linear import fold
from matcalc.core.rebuild import rebuild
from matcalc.generate.plan import cheapest, matmul
from matcalc.second_order.kronecker import kron
from matcalc.simplify.rewrite import REBUILD, merge_diagonals


class Rewriter:
    """Chains re-associated by cost, sums times vectors distributed, diagonals merged; the
    forward's named values (``keep``) stay as they are, so their cached locals are reused."""

    def __init__(self, keep: set[int]):
        self.keep = keep
        self.new: dict[int, Node] = {}

    def rewrite(self, roots: list[Node]) -> list[Node]:
        return rebuild(roots, self._step, memo=self.new)

    def _step(self, node: Node, args: list[Node]) -> Node:
        if id(node) in self.keep:
            return node
        if node.op == "matmul":
            factors = [self.new[id(f)] for f in self._flatten(node)]
            return self._chain([g for f in factors for g in self._flatten(f)])
        out = REBUILD[node.op](node, args)
        if out.op == "add":
            return merge_diagonals(out)
        if out.op == "scale":
            return _scaled(*A.split(out))
        return out

    def _flatten(self, node: Node) -> list[Node]:
        if node.op != "matmul" or id(node) in self.keep:
            return [node]
        return self._flatten(node.args[0]) + self._flatten(node.args[1])

    def _chain(self, fs: list[Node]) -> Node:
        """The cheapest association of f₁ f₂ … fₖ (``plan.cheapest``; diag(d) costs a scaling)."""
        if any(_kronecker_like(f) for f in fs):
            return self._kron_chain(fs)
        return cheapest(fs, self._mul)

    def _kron_chain(self, fs: list[Node]) -> Node:
        """A chain with a Kronecker factor, multiplied out by the mixed-product rule."""
        return fold(fs, self._kmul)

    def _kmul(self, a: Node, b: Node) -> Node:
        """a b with (P ⊗ Q)(R ⊗ S) = PR ⊗ QS, (p ⊗ Q) M = p ⊗ QM for a column p, M (pᵀ ⊗ Q) = pᵀ ⊗ MQ,
        distributing over sums next to a Kronecker product, so that none is ever formed."""
        if a.is_scalar or b.is_scalar:
            return matmul(a, b)
        ca, fa, ba = (1, (), a) if id(a) in self.keep else A.split(a)
        cb, fb, bb = (1, (), b) if id(b) in self.keep else A.split(b)
        out = None
        if ba.op == "add" and id(ba) not in self.keep:
            out = A.add(*(self._kmul(t, bb) for t in ba.args))
        elif bb.op == "add" and id(bb) not in self.keep:
            out = A.add(*(self._kmul(ba, t) for t in bb.args))
        elif bb.op == "matmul" and id(bb) not in self.keep:
            out = ba
            for f in self._flatten(bb):
                out = self._kmul(out, f)
        elif ba.op == "kron" and bb.op == "kron":
            (P, Q), (R, S) = ba.args, bb.args
            if P.cols == R.rows and Q.cols == S.rows:
                out = kron(self._kmul(P, R), self._kmul(Q, S))
        elif ba.op == "kron" and ba.args[0].cols == ONE:
            out = kron(ba.args[0], self._kmul(ba.args[1], bb))
        elif bb.op == "kron" and bb.args[0].rows == ONE:
            out = kron(bb.args[0], self._kmul(ba, bb.args[1]))
        if out is None:
            out = self._mul(ba, bb)
        return _scaled(ca * cb, tuple(fa) + tuple(fb), out)

    def _mul(self, a: Node, b: Node) -> Node:
        if b.is_column and not a.is_scalar:
            return self._mv(a, b)
        if a.is_row and not b.is_scalar:
            return A.transpose(self._mv(A.transpose(b), A.transpose(a)))
        for s, other, left in ((b, a, True), (a, b, False)):     # P (B + I) = P B + P: no identity formed
            c, fs, body = (1, (), s) if id(s) in self.keep else A.split(s)
            if body is None or body.op != "add" or id(body) in self.keep:
                continue
            light = [t for t in body.args if _identity_like(t)]
            if light and len(light) < len(body.args):
                dense = [t for t in body.args if not _identity_like(t)]
                rest = A.add(*dense) if len(dense) > 1 else dense[0]
                terms = [rest] + light
                return _scaled(c, fs, A.add(*(self._mul(other, t) if left else self._mul(t, other) for t in terms)))
        return matmul(a, b)

    def _mv(self, P: Node, u: Node) -> Node:
        """P u with P distributed: (B + C) u = B u + C u, diag(d) u = d ∘ u, chains right to left."""
        if id(P) in self.keep:
            return matmul(P, u)
        if P.op == "add":
            return A.add(*(self._mv(t, u) for t in P.args))
        if P.op == "scale":
            c, fs, body = A.split(P)
            if body is not None:
                return _scaled(c, fs, self._mv(body, u))
        if P.op == "diag" and P.args[0].is_column:
            return A.hadamard(P.args[0], u)
        if P.op == "matmul":
            for f in reversed(self._flatten(P)):
                u = self._mv(f, u)
            return u
        return matmul(P, u)


def _scaled(c, fs, body: Node | None) -> Node:
    """c · Π fs · body, with a minus sign taken into a sum (-(a - b) is b - a)."""
    if c == -1 and body is not None and not fs and body.op == "add":
        return A.add(*(A.neg(t) for t in body.args))
    if c == -1 and body is None and len(fs) == 1 and fs[0][1] == 1 and fs[0][0].op == "add":
        return A.add(*(A.neg(t) for t in fs[0][0].args))
    return A.product(c, fs, body)


def _identity_like(node: Node) -> bool:
    """c I or c diag(v): a product with it is free or a scaling."""
    body = A.split(node)[2]
    return body is not None and (body.op == "eye" or body.op == "diag" and body.args[0].is_column)


def _kronecker_like(node: Node) -> bool:
    """P ⊗ Q, a commutation matrix, or a sum with a Kronecker term (multiplied out term by term)."""
    body = A.split(node)[2]
    if body is None:
        return False
    if body.op == "add":
        return any(_kronecker_like(t) for t in body.args)
    return body.op in ("kron", "commutation")
