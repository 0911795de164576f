"""Cheaper evaluation order for generated code: re-associated product chains, folded sums.

The typed graph keeps the product order the user wrote (``A*B*x`` parses as ``(A B) x``), which
is right for printing and wrong for computing: ``A @ (B @ x)`` costs two matrix-vector products
where ``(A @ B) @ x`` costs a matrix-matrix one.  Before code generation, every chain of
products whose inner links nobody else reads (not shared, not named by the program) is
flattened and re-parenthesised by the classic matrix-chain dynamic programme, with symbolic
dimensions priced as large (``_LARGE``) and declared ones at their value.  ``sum(A B)`` becomes
``(𝟏ᵀ A)(B 𝟏)``: two reductions and a dot product instead of a matrix product, which also turns
the adjoint of the sum into broadcasts rather than matrix products by a ones matrix.  ``‖x‖²``
is ``Σ x∘x``, whose gradient ``2 x`` has no ``x/‖x‖`` to divide by zero.  Every node takes its
stable form (``core.stable``): ``log σ(z)`` is ``-softplus(-z)``, ``log(1 - σ(z))`` is
``-softplus(z)``, ``1 - σ(z)`` is ``σ(-z)``, ``log exp(z)`` is ``z``: finite and accurate where σ
rounds to 0 or 1.

Values are unchanged (only the order of exact operations); the backward program is derived
from the rewritten graph, so it inherits the cheaper order.
"""
from __future__ import annotations

from collections.abc import Callable

from matcalc.core import algebra as A
from matcalc.core.graph import ONE, Node, dim, topo_order
from matcalc.core.rebuild import rebuild
from matcalc.core.stable import stable_form
from matcalc.language.shapes import Typed
from matcalc.simplify.rewrite import REBUILD

_LARGE = 1000            # the price of a dimension nobody declared


def plan(typed: Typed) -> Typed:
    """``typed`` with its graph rewritten for evaluation; names follow their nodes."""
    keep = {id(n) for n in typed.intermediates.values()} | {id(v) for v in typed.variables.values()}
    roots = [typed.output] + list(typed.intermediates.values())
    uses: dict[int, int] = {}
    for node in topo_order(roots):
        for a in node.args:
            uses[id(a)] = uses.get(id(a), 0) + 1
    new: dict[int, Node] = {}

    def step(node: Node, args: list[Node]) -> Node:
        if node.op == "matmul":
            chain = _links(node, new, uses, keep)
            return _best(chain) if len(chain) > 2 else matmul(*args)
        if node.op == "sum" and node.attrs[0] is None and args[0].op == "matmul" \
                and uses.get(id(node.args[0]), 0) == 1 and id(node.args[0]) not in keep:
            a, b = args[0].args
            return matmul(matmul(A.ones((ONE, a.rows)), a), matmul(b, A.ones((b.cols, ONE))))
        if node.op == "pow" and node.attrs[0] == 2 and args[0].op == "norm":
            x = args[0].args[0]                         # ‖x‖² = Σ x∘x: no square root, no 0/0 at x = 0
            return A.sum_(A.hadamard(x, x))
        out = REBUILD[node.op](node, args)
        stable = stable_form(out)                       # log σ(z) = -softplus(-z), 1 - σ(z) = σ(-z), ...
        return out if stable is None else stable.form
    rebuild(roots, step, memo=new)
    return Typed(new[id(typed.output)], typed.variables,
                 {k: new[id(v)] for k, v in typed.intermediates.items()},
                 [(k, new[id(v)]) for k, v in typed.statements], typed.source, typed.notes)


def _links(node: Node, new: dict, uses: dict, keep: set) -> list[Node]:
    """The factors of the product chain rooted at ``node`` (rewritten), splitting at shared or
    named links."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n is node or (n.op == "matmul" and uses.get(id(n), 0) == 1 and id(n) not in keep):
            stack.extend(reversed(n.args))
        else:
            out.append(new[id(n)])
    return out


def _size(d) -> int:
    """A dimension's price: its value when declared, ``_LARGE`` per unknown symbol."""
    d = dim(d)
    return int(d.subs({s: _LARGE for s in d.free_symbols}))


def _best(chain: list[Node]) -> Node:
    return cheapest(chain, matmul)


def matmul(a: Node, b: Node) -> Node:
    """``a b``, where a product of two (scaled) ones matrices keeps its inner size:
    ``𝟏ₘₖ 𝟏ₖₙ = k 𝟏ₘₙ`` (k as the scalar ``𝟏ᵀ𝟏``, symbolic or not), never ``𝟏ₘₙ``.  Every product
    the rewriting of generated code builds goes through here, so re-association can never drop
    an inner dimension of ones products."""
    if a.is_scalar or b.is_scalar or a.cols == ONE:
        return A.matmul(a, b)
    ca, fa, ba = A.split(a)
    cb, fb, bb = A.split(b)
    if ba is None or bb is None or ba.op != "ones" or bb.op != "ones" or (a.rows == ONE and b.cols == ONE):
        return A.matmul(a, b)
    inner = A.matmul(A.ones((ONE, a.cols)), A.ones((a.cols, ONE)))      # the scalar k = 𝟏ᵀ𝟏
    return A.scale(inner, A.product(ca * cb, tuple(fa) + tuple(fb), A.ones((a.rows, b.cols))))


def cheapest(chain: list[Node], mul: Callable[[Node, Node], Node]) -> Node:
    """The cheapest parenthesisation of the product ``chain`` (the classic O(k³) dynamic
    programme), built with ``mul``.  A ones factor on either side is a reduction or a broadcast
    and a diagonal a row or column scaling, each priced as its output."""
    k = len(chain)
    dims = [_size(chain[0].rows)] + [_size(f.cols) for f in chain]
    diag = {(i, i): chain[i].op == "diag" for i in range(k)}
    cost = {(i, i): 0 for i in range(k)}
    split: dict[tuple[int, int], int] = {}
    for length in range(2, k + 1):
        for i in range(k - length + 1):
            j = i + length - 1
            best = None
            for s in range(i, j):
                c = cost[(i, s)] + cost[(s + 1, j)] + _price(chain, i, s, j, dims, diag)
                if best is None or c < best[0]:
                    best = (c, s)
            cost[(i, j)], split[(i, j)] = best
            diag[(i, j)] = diag[(i, i)] and diag[(i + 1, j)]
    memo: dict[tuple[int, int], Node] = {}

    def build(i: int, j: int) -> Node:
        if i == j:
            return chain[i]
        if (i, j) not in memo:
            s = split[(i, j)]
            memo[(i, j)] = mul(build(i, s), build(s + 1, j))
        return memo[(i, j)]
    return build(0, k - 1)


def _price(chain: list[Node], i: int, s: int, j: int, dims: list[int], diag: dict) -> int:
    """The cost of multiplying the (i..s) by the (s+1..j) partial products."""
    rows, inner, cols = dims[i], dims[s + 1], dims[j + 1]
    left, right = diag[(i, s)], diag[(s + 1, j)]
    if left and right:
        return inner
    if left:
        return inner * cols
    if right:
        return rows * inner
    if (i == s and chain[i].op == "ones") or (s + 1 == j and chain[j].op == "ones"):
        return rows * inner + rows * cols
    return rows * inner * cols
