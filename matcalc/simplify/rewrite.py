"""Global rewriting toward textbook form, on top of the constructors' local normal form.

Two things need a view wider than one constructor call: matrix-product chains (flattened so
that ``X⁻¹ X`` cancels, ``𝟏ᵀ diag(p)`` is ``pᵀ``, and ``X X`` is ``X²``) and sums (a factor
shared by several terms comes out: ``A x + Aᵀ x`` is ``(A + Aᵀ) x``, ``2 Aᵀ A X − 2 Aᵀ B`` is
``2 Aᵀ(A X − B)``).  Everything is rebuilt bottom-up through the constructors, memoised on the
DAG, so shared subexpressions stay shared.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.graph import ONE, Node, topo_order
from matcalc.core.linear import factors, fold
from matcalc.core.rebuild import memo_fold, rebuild
from matcalc.core.rules import RULES
from matcalc.simplify.chain_ends import drop_first, first_factor, last_factor
from matcalc.simplify.elementwise import region_roots, simplify_region
from matcalc.simplify.factor import factor_pass

# How each op is rebuilt over simplified arguments: the table's constructor, except that a
# product goes through the simplifier's chain fold (cancellations across the whole chain) and a
# sum is distributed over broadcast terms (``_sum``).
REBUILD = {op: r.rebuild for op, r in RULES.items() if r.rebuild is not None} | {
    "matmul": lambda n, a: _chain(a[0], a[1]),
    "sum": lambda n, a: _sum(a[0], n.attrs[0]),       # a centred vector sums to zero
}


def _sum(a: Node, axis: int | None) -> Node:
    """sum over a sum distributed where a term is broadcast (a scalar times 𝟏, a row or column
    copied): such a term counts its copies, so a centred vector sums to zero (``𝟏ᵀ(x − mean(x))
    = sum(x) − n sum(x)/n = 0``); kept whole otherwise.  Down the columns or across the rows, a
    broadcast factor of a product comes out first (``_column_total``), so the sums of ``c ∘ (X −
    mean(X, 2))`` across its rows vanish too (layer normalization)."""
    if axis in (1, 2) and not a.is_scalar and A.split(a)[2] is not None and A.split(a)[2].op in ("hadamard", "add"):
        total, cancelled = _column_total(a if axis == 1 else A.transpose(a))
        if cancelled:
            return total if axis == 1 else _flip(total)
    if a.op != "add" or a.is_scalar:
        return A.sum_(a, axis)
    parts, spread = [], False
    for t in a.args:
        c, fs, body = A.split(t)
        if t.shape != a.shape:
            spread = True
            parts.append(_spread_sum(t, a.shape, axis))
        elif body is not None and body.op == "ones":
            spread = True
            parts.append(A.sum_(t, axis))
        elif body is not None and body.op == "add":
            inner = _sum(body, axis)
            spread = spread or A.is_zero(inner)
            parts.append(A.product(c, fs, inner))
        else:
            parts.append(A.sum_(t, axis))
    total = A.add(*parts)
    return total if spread and _cancelled(parts, total) or A.is_zero(total) else A.sum_(a, axis)


def _spread_sum(t: Node, shape, axis: int | None) -> Node:
    """sum(·, axis) of ``t`` broadcast to ``shape``: each copy counted."""
    rows, cols = shape
    if t.is_scalar:
        return A.sum_(A.scale(t, A.ones(shape)), axis)
    if t.rows == rows:                           # a column copied across the columns
        return A.scale(A.size(cols), t) if axis == 2 else A.sum_(A.scale(A.size(cols), t), axis)
    return A.scale(A.size(rows), t) if axis == 1 else A.sum_(A.scale(A.size(rows), t), axis)


def simplify_all(roots: list[Node]) -> list[Node]:
    """Simplified versions of ``roots`` (one memo, so shared parts stay shared)."""
    out = rebuild(roots, _rebuild)
    for _ in range(3):                      # elementwise regions, until nothing changes
        again = _elementwise_pass(out)
        if all(a is b for a, b in zip(again, out)):
            break
        out = again
    return factor_pass(out)


def _rebuild(node: Node, args: list[Node]) -> Node:
    """``node`` over the rebuilt ``args``, through the constructors, diagonals merged and shared
    factors pulled out of sums."""
    out = REBUILD[node.op](node, args)
    if out.op == "add":
        out = merge_diagonals(out)
    if out.op == "add":
        out = _factor(out)
    if out.op == "add":
        out = _shared_scalars(out)
    return out


def _shared_scalars(total: Node) -> Node:
    """A scalar factor every term holds comes out of the sum: ``(P − Y)/N``, ``λ(A + B)``."""
    split = [A.split(t) for t in total.args]
    shared = common_factors([fs for _, fs, _ in split])
    if not shared:
        return total
    inner = A.add(*(A.product(c, [f for f in fs if f not in shared], body) for c, fs, body in split))
    return A.product(1, shared, inner)


def _elementwise_pass(roots: list[Node]) -> list[Node]:
    """Each maximal elementwise region simplified as a scalar function (``elementwise``)."""
    order = topo_order(roots)
    regions = region_roots(roots, order)
    if all(simplify_region(n) is n for n in regions):     # the usual case: nothing to do
        return roots
    starts = {id(n) for n in regions}

    def step(node: Node, args: list[Node]) -> Node:
        out = node if all(a is b for a, b in zip(args, node.args)) else _rebuild(node, args)
        return simplify_region(out) if id(node) in starts else out
    return rebuild(roots, step, order=order)


def simplify(node: Node) -> Node:
    return simplify_all([node])[0]


# ---------------------------------------------------------------------- product chains
def _expand_powers(chain: list[Node]) -> list[Node]:
    out = []
    for f in chain:
        if f.op == "matpow" and f.attrs[0] <= 8:
            out += [f.args[0]] * f.attrs[0]
        elif f.op == "transpose" and f.args[0].op == "matpow" and f.args[0].attrs[0] <= 8:
            out += [A.transpose(f.args[0].args[0])] * f.args[0].attrs[0]
        else:
            out.append(f)
    return out


def _cancels(p: Node, q: Node) -> bool:
    """Whether p q is the identity (X⁻¹ X, X X⁻¹, X⁻ᵀ Xᵀ, Xᵀ X⁻ᵀ)."""
    def inv_of(a, b):
        if a.op == "inv" and a.args[0] is b:
            return True
        return (a.op == "transpose" and b.op == "transpose" and a.args[0].op == "inv"
                and a.args[0].args[0] is b.args[0])
    return inv_of(p, q) or inv_of(q, p)


def _ones_chain(a: Node, b: Node) -> Node | None:
    """𝟏ᵀ M, M 𝟏 and 𝟏𝟏ᵀ M distributed where that cancels something (see ``_column_total``)."""
    if a.op == "ones" and not b.is_scalar:
        total, cancelled = _column_total(b)
        if not cancelled:
            return None
        return total if a.rows == 1 else A.matmul(A.ones((a.rows, ONE)), total)
    if b.op == "ones" and not a.is_scalar:                # M 𝟏, and M 𝟏𝟏ᵀ (the row sums spread)
        total, cancelled = _column_total(A.transpose(a))
        if not cancelled:
            return None
        return _flip(total) if b.cols == 1 else A.matmul(_flip(total), A.ones((ONE, b.cols)))
    return None


def _flip(x: Node) -> Node:
    """xᵀ with the transpose moved through Hadamard products, powers, sums and column sums
    (``sum(Bᵀ, 1)ᵀ = sum(B, 2)``), so that row sums computed as transposed column sums read as
    row sums again."""
    c, fs, body = A.split(x)
    if body is None:
        return x
    if body.op == "hadamard":
        return A.product(c, fs, A.hadamard(*(_flip(f) for f in body.args)))
    if body.op == "add":
        return A.product(c, fs, A.add(*(_flip(t) for t in body.args)))
    if body.op == "pow":
        return A.product(c, fs, A.pow_(_flip(body.args[0]), body.attrs[0]))
    if body.op == "sum" and body.attrs[0] == 1:
        return A.product(c, fs, A.sum_(_flip(body.args[0]), 2))
    return A.transpose(x)


def _broadcast_row(f: Node) -> Node | None:
    """r when ``f`` is a row copied down the rows (𝟏 r, or a power of it), else None."""
    if f.op == "matmul" and f.args[0].op == "ones" and f.args[0].cols == 1:
        return f.args[1]
    if f.op == "matmul" and f.args[0].op == "ones" and f.args[0].rows != 1:     # 𝟏𝟏ᵀ B = 𝟏 (𝟏ᵀ B)
        return A.matmul(A.ones((ONE, f.args[0].cols)), f.args[1])
    if f.op == "pow":
        r = _broadcast_row(f.args[0])
        return None if r is None else A.pow_(r, f.attrs[0])
    return None


def _cancelled(parts: list[Node], total: Node) -> bool:
    """Whether adding ``parts`` lost a term (equal terms cancelled)."""
    return A.is_zero(total) or len(total.args if total.op == "add" else (total,)) < len(parts)


def _column_total(m: Node) -> tuple[Node, bool]:
    """𝟏ᵀ M with what a broadcast makes of it: 𝟏ᵀ(𝟏 r) = n r, 𝟏ᵀ(𝟏 r ∘ B) = r ∘ 𝟏ᵀ B, over the
    terms of a sum, and whether that cancelled anything: the column sums of a column-centred
    matrix vanish (𝟏ᵀ(X − 𝟏 mean(X, 1)) = sum(X, 1) − n sum(X, 1)/n = 0).  The caller keeps
    the distributed form only then (``sum(X W + 𝟏 bᵀ − Y, 1)`` stays whole)."""
    c, fs, body = A.split(m)
    plain = (A.sum_(m, 1), False)
    if body is None:
        return plain
    if body.op == "transpose" and body.args[0].op == "hadamard":      # (A ∘ B)ᵀ = Aᵀ ∘ Bᵀ: M 𝟏 as (Mᵀ)ᵀ 𝟏
        body = A.hadamard(*(A.transpose(f) for f in body.args[0].args))
    elif body.op == "transpose":                                     # 𝟏ᵀ Bᵀ = sum(B, 2)ᵀ, one form
        return A.product(c, fs, A.transpose(A.sum_(body.args[0], 2))), False
    n = body.rows
    if body.op == "ones":
        return A.product(c, fs, A.scale(A.size(n), A.ones((ONE, body.cols)))), False
    row = _broadcast_row(body)
    if row is not None and body.op == "matmul":
        return A.product(c, fs, A.scale(A.size(n), row)), False
    if body.op == "add":
        results = [_column_total(t) for t in body.args]
        parts = [p for p, _ in results]
        total = A.add(*parts)
        return A.product(c, fs, total), any(k for _, k in results) or _cancelled(parts, total)
    if body.op == "hadamard":
        rows = [_broadcast_row(f) for f in body.args]
        if all(r is None for r in rows):
            return plain
        others = [f for f, r in zip(body.args, rows) if r is None]
        rest = A.hadamard(*others) if len(others) > 1 else others[0] if others else A.ones(body.shape)
        inner, cancelled = _column_total(rest)
        return A.product(c, fs, A.hadamard(*(r for r in rows if r is not None), inner)), cancelled
    return plain


def _chain(a: Node, b: Node) -> Node:
    spread = _ones_chain(a, b)
    if spread is not None:
        return spread
    product = A.matmul(a, b)
    c, fs, body = A.split(product)
    if body is None or body.op != "matmul":
        return product
    chain = _expand_powers(factors(body))
    out: list[Node] = []
    for f in chain:
        if out and _cancels(out[-1], f):
            out.pop()
            continue
        if out and out[-1].op == "ones" and out[-1].rows == 1 and f.op == "diag":
            out[-1] = A.transpose(f.args[0])                     # 𝟏ᵀ diag(p) = pᵀ
            continue
        if out and out[-1].op == "diag" and f.op == "diag":
            out[-1] = A.diag(A.hadamard(out[-1].args[0], f.args[0]))   # diag(a) diag(b) = diag(a ∘ b)
            continue
        if out and out[-1].op == "diag" and f.op == "ones" and f.cols == 1:
            out[-1] = out[-1].args[0]                            # diag(p) 𝟏 = p
            continue
        if len(out) >= 2 and _block_sum(out[-2], out[-1], f) is not None:
            out[-2:] = [_block_sum(out[-2], out[-1], f)]         # a broadcast bias's Hessian
            continue
        out.append(f)
    out = _compress(out)
    if not out:
        return A.product(c, fs, A.eye(body.rows))
    if len(out) == 2 and _column_sum_reads_better(out[0], out[1]):
        return A.product(c, fs, A.transpose(A.sum_(A.transpose(out[0]), 1)))
    return A.product(c, fs, fold(out))


def _block_sum(left: Node, middle: Node, right: Node) -> Node | None:
    """(Iₘ ⊗ 𝟏ᵀ) diag(vec M) (Iₘ ⊗ 𝟏) = diag(sum(M, 1)ᵀ) and (𝟏ᵀ ⊗ Iₙ) diag(vec M) (𝟏 ⊗ Iₙ) =
    diag(sum(M, 2)) for an n×m ``M`` (vec column-major): the sums of its columns, of its rows."""
    if not (middle.op == "diag" and middle.args[0].op == "vec" and left.op == "kron" and right.op == "kron"):
        return None
    M = middle.args[0].args[0]
    n, m = M.shape
    (la, lb), (ra, rb) = left.args, right.args
    if (la.op, lb.op, ra.op, rb.op) == ("eye", "ones", "eye", "ones") and la.rows == ra.rows == m \
            and lb.shape == (ONE, n) and rb.shape == (n, ONE):
        return A.diag(A.transpose(A.sum_(M, 1)))
    if (la.op, lb.op, ra.op, rb.op) == ("ones", "eye", "ones", "eye") and lb.rows == rb.rows == n \
            and la.shape == (ONE, m) and ra.shape == (m, ONE):
        return A.diag(A.sum_(M, 2))
    return None


def _column_sum_reads_better(m: Node, ones: Node) -> bool:
    """``(Aᵀ + 𝟏 bᵀ... )ᵀ``-shaped sums times 𝟏: the gradient by a broadcast bias is ``Gᵀ𝟏``, and
    with ``G`` a sum the transpose has been pushed onto every term (``(Wᵀ Xᵀ + b 𝟏ᵀ − Yᵀ) 𝟏``);
    ``sum(X W + 𝟏 bᵀ − Y, 1)ᵀ`` is how a course writes it (LANGUAGE.md v2)."""
    if not (ones.op == "ones" and ones.cols == 1 and m.op == "add"):
        return False
    return transposes(A.transpose(m)) < transposes(m)


def _compress(chain: list[Node]) -> list[Node]:
    """Runs of one square factor become a power: X X X is X³, Xᵀ Xᵀ is (X²)ᵀ."""
    out: list[list] = []
    for f in chain:
        if out and out[-1][0] is f and f.is_square and not f.is_scalar:
            out[-1][1] += 1
        else:
            out.append([f, 1])
    result = []
    for f, k in out:
        if k == 1:
            result.append(f)
        elif f.op == "transpose":
            result.append(A.transpose(A.matpow(f.args[0], k)))
        else:
            result.append(A.matpow(f, k))
    return result


# ---------------------------------------------------------------------- sums
def transposes(node: Node) -> int:
    """How many transposes ``node`` prints with (a shared one once per use), memoised on the
    nodes: the simplifier asks at every sum it factors, and a count over the whole subgraph
    each time made a deep network's Hessian quadratic."""
    return memo_fold(node, _TRANSPOSES, lambda n, counts: (n.op == "transpose") + sum(counts))


_TRANSPOSES = "transposes"


def _left_folded(node: Node) -> bool:
    """Whether a product is its factors folded from the left (``fold(factors(node))`` is
    ``node``, as every chain the simplifier rebuilds is): then all but its last factor is its
    first argument, with no refolding (memoised: a deep Hessian's sums share long chains)."""
    return memo_fold(node, _LEFT_FOLDED, lambda n, flags: n.op != "matmul" or
                     (n.args[1].op != "matmul" and flags[0]))


_LEFT_FOLDED = "left folded"


def merge_diagonals(total: Node) -> Node:
    """c₁ diag(a) + c₂ diag(b) + … is diag(c₁ a + c₂ b + …)."""
    diags, rest = [], []
    for t in total.args:
        c, fs, body = A.split(t)
        (diags if body is not None and body.op == "diag" else rest).append((t, c, fs, body))
    if len(diags) < 2:
        return total
    inner = A.add(*(A.product(c, fs, body.args[0]) for _, c, fs, body in diags))
    return A.add(A.diag(inner), *(t for t, *_ in rest))


def _factor(total: Node) -> Node:
    """Pull a matrix factor shared by several terms out of a sum (greedy, largest group first)."""
    terms = list(total.args)
    split = [A.split(t) for t in terms]
    products = [b if b is not None and b.op == "matmul" else None for _, _, b in split]
    best = None
    for side, end in ((-1, last_factor), (0, first_factor)):
        groups: dict[int, list[int]] = {}
        for i, b in enumerate(products):
            if b is not None:
                groups.setdefault(id(end(b)), []).append(i)
        for members in groups.values():
            if len(members) >= 2 and (best is None or len(members) > len(best[1])):
                best = (side, members)
    if best is None:
        return total
    side, members = best
    shared = (last_factor if side == -1 else first_factor)(products[members[0]])
    inner_terms = []
    for i in members:
        c, fs, body = split[i]
        if side == 0:
            rest = drop_first(body)
        else:
            rest = body.args[0] if _left_folded(body) else fold(factors(body)[:-1])
        inner_terms.append((c, fs, rest))
    inner_terms.sort(key=lambda t: transposes(t[2]))
    common = inner_terms[0][0]
    if any(c != common for c, _, _ in inner_terms):
        common = Fraction(1)
    shared_fs = common_factors([fs for _, fs, _ in inner_terms])   # Xᵀ(P − Y)/N: the 1/N comes out too
    inner = A.add(*(A.product(c / common, [f for f in fs if f not in shared_fs], b) for c, fs, b in inner_terms))
    if inner.op == "add":
        inner = _factor(inner)
    grouped = A.product(common, shared_fs, A.matmul(inner, shared) if side == -1 else A.matmul(shared, inner))
    rest = [terms[i] for i in range(len(terms)) if i not in members]
    out = A.add(grouped, *rest)
    return _factor(out) if out.op == "add" and rest else out


def common_factors(factor_lists: list) -> list:
    """The scalar factors (base, exponent) that every list holds: a shared 1/N or λ."""
    first, *others = [list(fs) for fs in factor_lists]
    return [f for f in first if all(f in fs for fs in others)]
