"""A right factor shared by every term of a sum comes out first, on right-nested chains, so a
deep network's Hessian reaches the simplifier already in nested (Horner) form.

The coefficient of a Hessian's linear map (``diff.linear_coefficient``) is a nest of sums whose
terms all end in the Jacobian of the layers below, ``J_k = W_k D_{k−1} J_{k−1}``:

    X_k = −D_k W_{k+1}ᵀ X_{k+1} − D_k E_k J_k

The walker builds each ``J_k`` as one shared node, nested to the right (``W_k (D_{k−1} J_{k−1})``).
The simplifier folds chains to the left, where ``J_k`` is no longer a node: pulling it out of
every sum meant peeling it one factor at a time and refolding the chain each time, quadratic in
depth.  Here, before that, every sum whose terms share a right-nested tail is written
``(Σ cᵢ Pᵢ) S`` with ``S`` the longest tail they share (a node), children first:

    X_k = (−D_k W_{k+1}ᵀ Y_{k+1} W_{k+1} D_k − D_k E_k) J_k

The tail is found by walking the chains' right spines, lengths memoised on the nodes, over the
factors the terms do not share only: linear in the size of the expression.  Only tails of at
least ``MIN_TAIL`` spine steps are pulled out (a count): short ones are the simplifier's own
business, so small Hessians print as they always have.  Every step is the distributive law.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.graph import Node
from matcalc.core.rebuild import rebuild
from matcalc.core.rules import RULES
from matcalc.simplify.rewrite import common_factors, transposes

MIN_TAIL = 6            # spine steps a shared tail must have to come out here

_SPINE = "right spine length"
_REBUILD = {op: r.rebuild for op, r in RULES.items() if r.rebuild is not None}


def pull_shared_tails(roots: list[Node]) -> list[Node]:
    """``roots`` with every sum whose terms share a long right-nested tail factored over it."""
    def step(node: Node, args: list[Node]) -> Node:
        same = all(a is b for a, b in zip(args, node.args))
        out = node if same else _REBUILD[node.op](node, args)
        return _factor_tail(out) if out.op == "add" else out
    return rebuild(roots, step)


def spine_length(node: Node) -> int:
    """How many right-nested products lead from ``node`` to the last factor of its chain
    (0 for anything that is no product), memoised on the nodes."""
    path, n = [], node
    while n.op == "matmul" and _SPINE not in n.memo:
        path.append(n)
        n = n.args[1]
    length = n.memo[_SPINE] if n.op == "matmul" else 0
    for p in reversed(path):
        length += 1
        p.memo[_SPINE] = length
    return length


def shared_tail(a: Node, b: Node) -> Node | None:
    """The longest node that ends both right-nested chains ``a`` and ``b`` (on both right
    spines), or None; the walk visits only the spine steps above it."""
    la, lb = spine_length(a), spine_length(b)
    while la > lb:
        a, la = a.args[1], la - 1
    while lb > la:
        b, lb = b.args[1], lb - 1
    while a is not b and la > 0:
        a, b, la = a.args[1], b.args[1], la - 1
    return a if a is b else None


def _factor_tail(total: Node) -> Node:
    """``total`` as (Σ cᵢ Pᵢ) S when its terms share a right-nested tail S of ``MIN_TAIL``
    factors or more (none of them S alone); the shared coefficient and scalar factors come out
    in front, and the heads are ordered, as ``rewrite._factor`` does it, so the simplifier
    finishes the job with the text it would have printed."""
    split = [A.split(t) for t in total.args]
    bodies = [body for _, _, body in split if body is not None and body.op == "matmul"]
    if len(bodies) < len(split):
        return total
    tail: Node | None = bodies[0]
    for body in bodies[1:]:
        tail = shared_tail(tail, body) if tail is not None else None
    if tail is None or spine_length(tail) + 1 < MIN_TAIL or any(body is tail for body in bodies):
        return total
    heads = sorted(((c, fs, _head(body, tail)) for (c, fs, _), body in zip(split, bodies)),
                   key=lambda t: transposes(t[2]))
    common = heads[0][0] if all(c == heads[0][0] for c, _, _ in heads) else Fraction(1)
    shared_fs = common_factors([fs for _, fs, _ in heads])     # as rewrite._factor: −2 W(…)J, not 2 W(−…)J
    inner = A.add(*(A.product(c / common, [f for f in fs if f not in shared_fs], h) for c, fs, h in heads))
    return A.product(common, shared_fs, A.matmul(inner, tail))


def _head(chain: Node, tail: Node) -> Node:
    """The product of the factors of ``chain`` before its right-spine tail ``tail``, nested to
    the right as the chain was."""
    lefts = []
    while chain is not tail:
        lefts.append(chain.args[0])
        chain = chain.args[1]
    head = lefts[-1]
    for f in reversed(lefts[:-1]):
        head = A.matmul(f, head)
    return head
