"""Hadamard factoring: an elementwise factor shared by several terms of a sum comes out of it.

    x.^x + x.^x ∘ log(x)                       →  x.^x ∘ (1 + log(x))
    G ∘ (𝟏gᵀ) ⊘ (𝟏s) − (𝟏gᵀ) ⊘ (𝟏s) ∘ 𝟏 mean(G, 1) − …   →  𝟏(gᵀ ⊘ s) ∘ (G − 𝟏 mean(G, 1) − …)

The second is batch normalization's backward pass, ``(γ/σ) ∘ (G − mean(G) − x̂ ∘ mean(G ∘ x̂))``:
nothing here knows it.  Each term is read as a coefficient, scalar factors and a multiset of
elementwise factors (bases with exponents), where a broadcast row ``𝟏 r`` with ``r`` itself a
Hadamard product counts as the product of its factors' broadcasts (``𝟏(a ∘ b) = (𝟏a) ∘ (𝟏b)``),
and a column sum broadcast back, ``𝟏 𝟏ᵀ(𝟏r ∘ B)``, gives up its broadcast factors
(``(𝟏r) ∘ 𝟏𝟏ᵀB``).  The bases shared by the largest group of terms (two at least) come out, with
the smallest exponent the group holds; shared broadcast rows come out as one (``𝟏(gᵀ ⊘ s)``).
Every step is an identity of elementwise algebra, and the result is verified like every other.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.graph import ONE, Node, topo_order
from matcalc.core.rebuild import rebuild
from matcalc.core.rules import RULES

MAX_TERMS = 12           # terms of a sum looked at (a count: the output never depends on load)


def factor_pass(roots: list[Node]) -> list[Node]:
    """``roots`` with every sum factored (``factor_hadamard``), last, once the rest of the
    simplifier is done.  Soundness: a sum inside a Hadamard product is not factored where what
    comes out (or the sum left inside) is a base its neighbours hold, so ``(x ∘ y + x) ⊘ x`` stays:
    the constructors would cancel ``x ⊘ x``, dropping the points where x = 0."""
    order = topo_order(roots)
    avoid: dict[Node, set] = {}
    for node in order:
        if node.op != "hadamard":
            continue
        bases = [a.args[0] if a.op == "pow" else a for a in node.args]
        for b in bases:
            if b.op == "add":
                avoid.setdefault(b, set()).update(x for x in bases if x is not b)

    def step(node: Node, args: list[Node]) -> Node:
        same = all(a is b for a, b in zip(args, node.args))
        out = node if same else REBUILD_OF[node.op](node, args)
        return factor_hadamard(out, avoid.get(node, set())) if out.op == "add" else out
    return rebuild(roots, step, order=order)


REBUILD_OF = {op: r.rebuild for op, r in RULES.items() if r.rebuild is not None}


def factor_hadamard(total: Node, avoid: set = frozenset()) -> Node:
    """``total`` (a sum) with the elementwise factors shared by most of its terms pulled out
    (none of the bases in ``avoid``, nor a sum left inside that is one of them)."""
    if total.op != "add" or total.is_scalar or len(total.args) > MAX_TERMS:
        return total
    read = [_term(t, total.shape) for t in total.args]
    best = _best_group(read)
    if best is None:
        return total
    members, shared = best
    if any(b in avoid for b in shared):
        return total
    inner = []
    for i in members:
        c, fs, factors = read[i]
        rest = dict(factors)
        for base, e in shared.items():
            rest[base] -= e
        rest = {b: e for b, e in rest.items() if e != 0}
        if rest and all(e < 0 for e in rest.values()):
            return total                    # a term left as 1 ⊘ (…): exp(z) ⊘ (1 + exp(z)) + exp(z) stays
        inner.append(A.product(c, fs, _balanced(rest, total.shape)))
    summed = A.add(*inner)
    if summed in avoid:
        return total
    common = _hadamard(shared, total.shape)
    grouped = A.hadamard(summed, common) if common.op == "add" else A.hadamard(common, summed)
    others = [t for i, t in enumerate(total.args) if i not in members]
    return A.add(grouped, *others) if others else grouped


def _best_group(read: list) -> tuple[list[int], dict[Node, Fraction]] | None:
    """(the terms, the shared bases with their exponents) for the largest group of two terms or
    more that share a base (with one sign of exponent), or None."""
    holders: dict[Node, list[int]] = {}
    order: list[Node] = []
    for i, (_, _, factors) in enumerate(read):
        for base in (factors or {}):
            if base not in holders:
                holders[base], _ = [], order.append(base)
            holders[base].append(i)
    best = None
    for base in order:
        members = holders[base]
        if len(members) < 2 or any(read[i][2] is None for i in members):
            continue
        signs = {read[i][2][base] > 0 for i in members}
        if len(signs) != 1 or (best is not None and len(members) <= len(best[0])):
            continue
        best = (members, None)
    if best is None:
        return None
    members = best[0]
    shared: dict[Node, Fraction] = {}
    for base in order:
        if not all(base in read[i][2] for i in members):
            continue
        exps = [read[i][2][base] for i in members]
        if all(e > 0 for e in exps):
            shared[base] = min(exps)
        elif all(e < 0 for e in exps):
            shared[base] = max(exps)
    return members, shared


def _term(t: Node, shape) -> tuple[Fraction, list, dict[Node, Fraction] | None]:
    """(coefficient, scalar factors, elementwise factors) of a term; factors None when the term
    is not of the sum's full shape."""
    c, fs, body = A.split(t)
    if body is None or body.shape != shape or body.op == "ones":
        return c, list(fs), None
    factors: dict[Node, Fraction] = {}
    c, fs = _collect(body, Fraction(1), factors, c, list(fs))
    return c, fs, factors


def _collect(f: Node, e: Fraction, into: dict, c: Fraction, fs: list) -> tuple[Fraction, list]:
    """Add ``f.^e`` to the factors ``into`` (broadcasts and products opened up); returns the
    coefficient and scalar factors that came out."""
    if f.op == "hadamard":
        for a in f.args:
            c, fs = _collect(a, e, into, c, fs)
        return c, fs
    if f.op == "pow":
        return _collect(f.args[0], e * f.attrs[0], into, c, fs)
    spread = _spread(f)
    if spread is not None and e.denominator == 1:
        kind, v = spread
        vc, vfs, vbody = A.split(v)
        opened = _reduced(kind, vbody, f) if vbody is not None else None
        if opened is not None:                       # 𝟏 𝟏ᵀ(𝟏r ∘ B) = (𝟏r) ∘ 𝟏𝟏ᵀB
            moved, rest = opened
            for base, x in moved.items():
                into[base] = into.get(base, Fraction(0)) + x * e
            c, fs = _collect(_make_spread(kind, rest, f.shape), e, into, c, fs)
            return c * vc ** int(e), fs + [(b, x * e) for b, x in vfs]
        if vbody is not None and (vbody.op in ("hadamard", "pow") or vc != 1 or vfs):
            inner: dict[Node, Fraction] = {}
            c2, fs2 = _collect(vbody, Fraction(1), inner, Fraction(1), [])
            c *= (vc * c2) ** int(e)
            fs = fs + [(b, x * e) for b, x in list(vfs) + fs2]
            for base, x in inner.items():
                c, fs = _collect(_make_spread(kind, base, f.shape), x * e, into, c, fs)
            return c, fs
    into[f] = into.get(f, Fraction(0)) + e
    return c, fs


def _reduced(kind: str, v: Node, f: Node) -> tuple[dict[Node, Fraction], Node] | None:
    """For ``v`` a sum of a full-shape M along the broadcast axis (``𝟏ᵀM`` or ``sum(M, 1)`` for
    rows, ``M 𝟏`` or ``sum(M, 2)`` for columns) whose factors include broadcasts along that
    axis: (those factors, ``v`` with them taken out), else None."""
    if kind == "row":
        if v.op == "matmul" and v.args[0].op == "ones" and v.args[0].rows == ONE:
            m = v.args[1]
        elif v.op == "sum" and v.attrs[0] == 1:
            m = v.args[0]
        else:
            return None
    elif v.op == "matmul" and v.args[1].op == "ones" and v.args[1].cols == ONE or v.op == "sum" and v.attrs[0] == 2:
        m = v.args[0]
    else:
        return None
    if m.shape != f.shape:
        return None
    mc, mfs, mbody = A.split(m)
    if mbody is None or mbody.op != "hadamard":
        return None
    factors: dict[Node, Fraction] = {}
    mc, mfs = _collect(mbody, Fraction(1), factors, mc, list(mfs))
    moved = {b: x for b, x in factors.items() if (_spread(b) or ("",))[0] == kind and x.denominator == 1}
    if not moved:
        return None
    rest = A.product(mc, mfs, _hadamard({b: x for b, x in factors.items() if b not in moved}, f.shape))
    total = A.sum_(rest, 1 if kind == "row" else 2)
    return moved, total


def _balanced(factors: dict[Node, Fraction], shape) -> Node:
    """The product of ``factors`` unmerged, with an even power of a broadcast split between the
    outside and a broadcast sum along the same axis whose summand shares an outside factor:
    ``xc ∘ (𝟏s)^-2 ∘ 𝟏 sum(G ∘ xc, 1)`` is ``(xc ⊘ 𝟏s) ∘ 𝟏 sum(G ∘ xc ⊘ 𝟏s, 1)``, x̂ ∘ 𝟏 sum(G ∘ x̂)
    (``(𝟏r) ∘ 𝟏 sum(B, 1) = 𝟏 sum((𝟏r) ∘ B, 1)``)."""
    factors = {b: e for b, e in factors.items() if e != 0}
    for base, e in list(factors.items()):
        sp = _spread(base)
        if sp is None or e.denominator != 1 or e % 2:
            continue
        for red, x in list(factors.items()):
            rs = _spread(red)
            if rs is None or rs[0] != sp[0] or x != 1 or red is base:
                continue
            v = rs[1]
            axis = 1 if rs[0] == "row" else 2
            if v.op != "sum" or v.attrs[0] != axis or v.args[0].op != "hadamard":
                continue
            summand = v.args[0]
            if not any(a in factors for a in summand.args if a is not red):
                continue
            half = e / 2
            new_sum = A.sum_(A.hadamard(summand, A.pow_(base, half)), axis)
            del factors[red]
            factors[base] = half
            factors[_make_spread(rs[0], new_sum, shape)] = Fraction(1)
            break
    parts = [A.pow_(b, e) for b, e in factors.items()]
    if not parts:
        return A.ones(shape)
    return A.hadamard(*parts) if len(parts) > 1 else parts[0]


def _spread(f: Node) -> tuple[str, Node] | None:
    """("row", r) when ``f`` is ``𝟏 r`` (a row copied down the rows), ("col", c) when it is
    ``c 𝟏ᵀ`` (a column copied across the columns), else None."""
    if f.op != "matmul" or f.rows == ONE or f.cols == ONE:
        return None
    a, b = f.args
    if a.op == "ones" and a.cols == ONE:
        return "row", b
    if b.op == "ones" and b.rows == ONE:
        return "col", a
    return None


def _make_spread(kind: str, v: Node, shape) -> Node:
    if kind == "row":
        return A.matmul(A.ones((shape[0], ONE)), v)
    return A.matmul(v, A.ones((ONE, shape[1])))


def _hadamard(factors: dict[Node, Fraction], shape) -> Node:
    """The product of ``factors`` (exponent 0 dropped); broadcast rows merged into one, and
    broadcast columns."""
    spreads: dict[str, list] = {"row": [], "col": []}
    parts = []
    for base, e in factors.items():
        if e == 0:
            continue
        sp = _spread(base)
        if sp is not None:
            spreads[sp[0]].append(A.pow_(sp[1], e))
        else:
            parts.append(A.pow_(base, e))
    for kind, vs in spreads.items():
        if vs:
            parts.append(_make_spread(kind, A.hadamard(*vs) if len(vs) > 1 else vs[0], shape))
    if not parts:
        return A.ones(shape)
    return A.hadamard(*parts) if len(parts) > 1 else parts[0]
