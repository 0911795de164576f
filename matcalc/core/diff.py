"""The chain rule over the graph: reverse mode for gradients, forward mode for Jacobians.

``gradients`` seeds a scalar output with 1 and runs the one reverse loop (``core.reverse``,
shared with generated code): upstream × local down every edge (the rule table's VJPs), one
contribution per input, added where they meet at a fork.  The result is the gradient in shape
convention, one node per variable; each visited node can be recorded as a ``Step`` (upstream, and
what each input received), so explanations are data, not reconstructions.  ``jvp`` pushes
tangents forward; ``linear_coefficient`` reads the matrix ``M`` off an expression that is linear
in a tangent ``T`` (``expr = M T``; the matrix target of the one linear-map walker,
``core.linear``), which turns a JVP into a Jacobian and a gradient's JVP into a Hessian.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.errors import InternalError, UnsupportedError
from matcalc.core.graph import ONE, Node, depends_on, topo_order
from matcalc.core.kinds import is_sum
from matcalc.core.linear import NOT_LINEAR, MatrixTarget, factors, fold
from matcalc.core.reverse import Step, backpropagate
from matcalc.core.rules import RULES


def gradients(output: Node, wrt: list[Node], steps: list[Step] | None = None) -> dict[Node, Node]:
    """∂output/∂v for each v in ``wrt`` (shape convention); ``output`` must be a scalar."""
    if not output.is_scalar:
        raise InternalError("reverse mode needs a scalar output")
    reached = backpropagate(output, wrt, A.const(1), steps=steps)
    return {v: A.add(*reached[id(v)]) if id(v) in reached else A.zero(v.shape) for v in wrt}


def jvp(expr: Node, tangents: dict[Node, Node]) -> Node:
    """The directional derivative of ``expr`` when each key moves along its tangent."""
    keys = list(tangents)
    done: dict[int, Node | None] = {id(k): t for k, t in tangents.items()}
    for node in topo_order([expr]):
        if id(node) in done:
            continue
        if not node.args or not any(depends_on(node, k) for k in keys):
            done[id(node)] = None
            continue
        ts = tuple(done[id(a)] for a in node.args)
        if all(t is None for t in ts):
            done[id(node)] = None
            continue
        t = RULES[node.op].jvp(node, ts)
        done[id(node)] = t
    result = done[id(expr)]
    return A.zero(expr.shape) if result is None else result


def linear_coefficient(expr: Node, T: Node) -> Node:
    """The matrix M with expr = M T, for a column vector ``T`` and expr linear in it."""
    if not (expr.is_column or expr.is_scalar or expr.is_row):
        raise UnsupportedError(_MATRIX_BY_VECTOR)
    return MatrixCoefficient(T, T.rows)(expr)


_MATRIX_BY_VECTOR = "a Jacobian of a matrix-valued expression by a vector"


class MatrixCoefficient(MatrixTarget):
    """The target ``M`` with e = M T (``rows·cols(e) × n`` for a column ``T`` of n entries)."""

    missing = "cannot write the Jacobian through {} in closed form"

    def scalar(self, c, rest, factor: Node, body: Node | None) -> Node:
        lin = self(factor)                                           # 1 × n
        if body is None:
            return A.product(c, rest, lin)
        if not (body.is_column or body.is_row):
            raise UnsupportedError(_MATRIX_BY_VECTOR)
        return A.product(c, rest, A.matmul(_entries(body), lin))

    def hadamard(self, others: Node, inner: Node) -> Node:
        # a vector factor (a row read as its entries) is diag of it; a matrix factor acts on
        # vec(inner): diag(vec(others)) (a broadcast bias's Hessian)
        vector = others.is_column or others.is_row or others.is_scalar
        d = A.diag(_entries(others)) if vector else A.diag(A.vec(others))
        if is_sum(inner):
            return A.add(*(A.matmul(d, self(t)) for t in inner.args))
        return A.matmul(d, self(inner))

    def op_matmul(self, e: Node) -> Node:
        p, q = e.args
        if not depends_on(p, self.T):
            if q.is_column or q.is_scalar:
                return A.matmul(p, self(q))
            return self.chain(e)
        if not depends_on(q, self.T):
            if (e.is_scalar or e.is_row) and p.is_row:               # (row · q) = qᵀ rowᵀ
                return A.matmul(A.transpose(q), self(A.transpose(p)))
            if p.op == "diag":                                       # diag(L) q = q ∘ L
                return A.matmul(A.diag(q), self(p.args[0]))
            return self.chain(e)
        raise UnsupportedError(NOT_LINEAR)

    def chain(self, e: Node) -> Node:
        """vec(L G R) = (Rᵀ ⊗ L) vec(G) (Cookbook 520), G the one factor of the flattened product
        that holds the tangent, whatever the association (``(a xᵀ) x``, ``(x xᵀ) x``)."""
        left, G, right = self.split_chain(factors(e, keep_scalars=True))
        if is_sum(G):                                            # L (A + B) R = L A R + L B R
            return A.add(*(self(fold(left + [t] + right)) for t in G.args))
        L = fold(left) if left else None
        R = fold(right) if right else None
        if G.op == "diag" and R is not None and R.is_column:        # L diag(v) R = L diag(R) v
            d = A.matmul(A.diag(R), self(G.args[0]))
            return d if L is None else A.matmul(L, d)
        g = self(A.transpose(G)) if G.is_row else self(G)           # vec of a row is its transpose
        if R is None and L is not None and G.is_column:
            return A.matmul(L, g)
        if R is not None and R.is_scalar:
            return A.scale(R, g if L is None else A.matmul(L, g))
        if G.is_row and R is not None and R.is_column:              # L gᵀ R = L Rᵀ g, L a column
            return A.matmul(A.transpose(R), g) if L is None else A.matmul(A.matmul(L, A.transpose(R)), g)
        Rt = A.eye(G.cols) if R is None else A.transpose(R)
        Lm = A.eye(G.rows) if L is None else L
        return A.matmul(A.kron(Rt, Lm), g)

    def op_sum(self, e: Node) -> Node:
        a = e.args[0]
        if not (a.is_column or (a.is_row and e.is_scalar)):
            raise UnsupportedError(self.missing.format(e.op))
        return A.matmul(A.ones((ONE, a.rows * a.cols)), self(a))

    def op_transpose(self, e: Node) -> Node:                         # a vector's entries stay in order
        a = e.args[0]
        if not (a.is_scalar or a.is_column or a.is_row):
            raise UnsupportedError(self.missing.format(e.op))
        return self(e.args[0])


def _entries(v: Node) -> Node:
    """A vector as the column of its entries (a row output is differentiated as that column)."""
    return A.transpose(v) if v.is_row and not v.is_scalar else v


ENTRYWISE = ("add", "scale", "hadamard")     # with the table's elementwise entries: a transpose moves inside


def column_of(row: Node) -> Node:
    """A row output as the column of its entries, the transpose taken inside entrywise operations
    (σ(wᵀX)ᵀ = σ(Xᵀw)) so that its Jacobian reads like a column's; a column stays as it is."""
    memo: dict[int, Node] = {}

    def col(n: Node) -> Node:
        if n.is_scalar or not n.is_row:
            return n
        if id(n) not in memo:
            rule = RULES[n.op]
            entrywise = n.op in ENTRYWISE or rule.structure == "elementwise"
            memo[id(n)] = rule.rebuild(n, [col(a) for a in n.args]) if entrywise else A.transpose(n)
        return memo[id(n)]
    return col(row)
