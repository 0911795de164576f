"""The chain rule over the graph: reverse mode for gradients, forward mode for Jacobians.

``gradients`` seeds a scalar output with 1 and walks the DAG in reverse topological order,
passing upstream × local down every edge (the rule table's VJPs) and adding the contributions
that meet at a fork.  The result is the gradient in shape convention, one node per variable;
each visited node can be recorded as a ``Step`` (upstream, and what each input received), so
explanations are data, not reconstructions.  ``jvp`` pushes tangents forward; ``linear_coefficient``
reads the matrix ``M`` off an expression that is linear in a tangent ``T`` (``expr = M T``), which
turns a JVP into a Jacobian and a gradient's JVP into a Hessian.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.errors import InternalError, UnsupportedError
from matcalc.core.graph import ONE, Node, depends_on, topo_order
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
    if not (expr.is_column or expr.is_scalar):
        raise UnsupportedError("a Jacobian of a matrix-valued expression by a vector")
    n = T.rows
    memo: dict[Node, Node] = {}                 # keyed by the node: temporaries made below stay alive

    def coef(e: Node) -> Node:
        if e in memo:
            return memo[e]
        memo[e] = r = _coef(e)
        if r.shape != (e.rows * e.cols, n):
            raise InternalError(f"coefficient of {e.op} has shape {r.shape}")
        return r

    def _coef(e: Node) -> Node:
        if e is T:
            return A.eye(n)
        if not depends_on(e, T):
            return A.zero((e.rows * e.cols, n))
        op = e.op
        if op == "add":
            return A.add(*(coef(t) for t in e.args))
        if op == "scale":
            c, fs, body = A.split(e)
            factors = e.args if body is None else e.args[:-1]
            hit = [i for i, f in enumerate(factors) if depends_on(f, T)]
            if body is not None and depends_on(body, T):
                if hit:
                    raise UnsupportedError("not linear in the tangent")
                return A.product(c, fs, coef(body))
            if len(hit) != 1:
                raise UnsupportedError("not linear in the tangent")
            i = hit[0]
            rest = [(g, 1) for j, g in enumerate(factors) if j != i]
            lin = coef(factors[i])                                    # 1 × n
            if body is None:
                return A.product(c, rest, lin)
            return A.product(c, rest, A.matmul(_as_column(body), lin))
        if op == "matmul":
            p, q = e.args
            if not depends_on(p, T):
                if q.is_column or q.is_scalar:
                    return A.matmul(p, coef(q))
                return chain(e)
            if not depends_on(q, T):
                if e.is_scalar and p.is_row:                         # (row · q) = qᵀ rowᵀ
                    return A.matmul(A.transpose(q), coef(A.transpose(p)))
                if p.op == "diag":                                   # diag(L) q = q ∘ L
                    return A.matmul(A.diag(q), coef(p.args[0]))
                return chain(e)
            raise UnsupportedError("not linear in the tangent")
        if op == "hadamard":
            hit = [i for i, f in enumerate(e.args) if depends_on(f, T)]
            if len(hit) != 1:
                raise UnsupportedError("not linear in the tangent")
            i = hit[0]
            others = A.hadamard(*(f for j, f in enumerate(e.args) if j != i))
            inner = e.args[i]
            if inner.op == "add":
                return A.add(*(A.matmul(A.diag(others), coef(t)) for t in inner.args))
            return A.matmul(A.diag(others), coef(inner))
        if op == "sum" and e.args[0].is_column or op == "sum" and e.attrs[0] is None and e.args[0].is_column:
            return A.matmul(A.ones((ONE, e.args[0].rows)), coef(e.args[0]))
        if op == "transpose" and e.args[0].is_scalar:
            return coef(e.args[0])
        return _unsupported(e)

    def chain(e: Node) -> Node:
        """vec(L G R) = (Rᵀ ⊗ L) vec(G) (Cookbook 520), G the one factor of the flattened product
        that holds the tangent, whatever the association (``(a xᵀ) x``, ``(x xᵀ) x``)."""
        factors = _flatten_matmul(e)
        hit = [i for i, f in enumerate(factors) if depends_on(f, T)]
        if len(hit) != 1:
            raise UnsupportedError("not linear in the tangent")
        i = hit[0]
        left, G, right = factors[:i], factors[i], factors[i + 1:]
        if G.op == "add":                                            # L (A + B) R = L A R + L B R
            return A.add(*(coef(_product(left + [t] + right)) for t in G.args))
        L = _product(left) if left else None
        R = _product(right) if right else None
        g = coef(A.transpose(G)) if G.is_row else coef(G)           # vec of a row is its transpose
        if R is None and L is not None and G.is_column:
            return A.matmul(L, g)
        if R is not None and R.is_scalar:
            return A.scale(R, g if L is None else A.matmul(L, g))
        if G.is_row and R is not None and R.is_column:              # L gᵀ R = L Rᵀ g, L a column
            return A.matmul(A.transpose(R), g) if L is None else A.matmul(A.matmul(L, A.transpose(R)), g)
        Rt = A.eye(G.cols) if R is None else A.transpose(R)
        Lm = A.eye(G.rows) if L is None else L
        return A.matmul(A.kron(Rt, Lm), g)

    return coef(expr)


def _flatten_matmul(e: Node) -> list[Node]:
    """The factors of a product chain, left to right (1×1 products stay whole: they are scalars)."""
    out, stack = [], [e]
    while stack:
        node = stack.pop()
        if node.op == "matmul" and not (node is not e and node.is_scalar):
            stack.extend(reversed(node.args))
        else:
            out.append(node)
    return out


def _product(factors: list[Node]) -> Node:
    out = factors[0]
    for f in factors[1:]:
        out = A.matmul(out, f)
    return out


def _as_column(body: Node) -> Node:
    if body.is_column:
        return body
    raise UnsupportedError("a Jacobian of a matrix-valued expression by a vector")


def _unsupported(e: Node) -> Node:
    raise UnsupportedError(f"cannot write the Jacobian through {e.op} in closed form")
