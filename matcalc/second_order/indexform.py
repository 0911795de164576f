"""Index form of a linear map: ``∂outᵢⱼ/∂Xₖₗ`` as a sum of products of entries and Kronecker deltas.

Where a matrix-by-matrix derivative has no vec/Kronecker form (``diag(v)``, ``diag(A)`` and what
is built on them: their vec forms would need selection matrices with no standard name), the JVP
``dY`` (linear in a tangent ``T``) is read entry by entry instead:

    ∂(L X R)ᵢⱼ/∂Xₖₗ = Lᵢₖ Rₗⱼ     ∂(Xᵀ)ᵢⱼ/∂Xₖₗ = δᵢₗ δⱼₖ     ∂diag(x)ᵢⱼ/∂xₖ = δᵢⱼ δᵢₖ

Summation indices that meet a delta are contracted away (``Σₚ δₚₖ Aₚⱼ = Aₖⱼ``).
``index_form(dY, T)`` returns an ``IndexForm`` or raises ``UnsupportedError`` (``kron`` and the
``vec`` of a matrix, whose entries need index arithmetic); ``IndexForm.evaluate`` gives the array
``out.shape + X.shape`` with ``np.einsum``, so the numbers are those of the printed form.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import ONE, Dim, Node
from matcalc.core.linear import LinearMap, factors, fold
from matcalc.output.render import ATOM, fmt_dim, fmt_number, subscript

Index = str | None                         # None: the single index of a dimension of size 1
_POOL = "prstuvaehox"                      # summation indices (all have Unicode subscripts)


class Entry(NamedTuple):
    """``node[row, col]`` of a matrix that does not depend on the tangent."""

    node: Node
    row: Index
    col: Index


class Term(NamedTuple):
    """coef · Π scalars · Π counts · Σ_sums Π entries · Π deltas."""

    coef: Fraction
    scalars: tuple[Node, ...] = ()
    entries: tuple[Entry, ...] = ()
    deltas: tuple[tuple[str, str], ...] = ()
    sums: tuple[str, ...] = ()
    counts: tuple[Dim, ...] = ()           # sizes of summation indices nothing else uses

    def times(self, other: Term) -> Term:
        return Term(self.coef * other.coef, self.scalars + other.scalars, self.entries + other.entries,
                    self.deltas + other.deltas, self.sums + other.sums, self.counts + other.counts)


@dataclass
class IndexForm:
    """∂Y[i, j]/∂T[k, l] = Σ terms; ``free`` is (i, j, k, l) with None for axes of size 1."""

    terms: list[Term]
    free: tuple[Index, Index, Index, Index]
    dims: dict[str, Dim] = field(default_factory=dict)

    def nodes(self) -> list[Node]:
        """Every matrix and scalar the form prints (for naming shared subexpressions)."""
        out: list[Node] = []
        for t in self.terms:
            out += list(t.scalars) + [e.node for e in t.entries]
        return out

    def evaluate(self, values: dict[int, np.ndarray], size: Callable[[Dim], int]) -> np.ndarray:
        """The 4-D array [i, j, k, l]: ``values`` maps id(node) of ``nodes()`` to its (2-D) value,
        ``size`` a dimension to its value."""
        sizes = {ix: size(d) for ix, d in self.dims.items()}
        shape = tuple(1 if ix is None else sizes[ix] for ix in self.free)
        letters = {ix: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[n] for n, ix in enumerate(sizes)}
        out_ix = [ix for ix in self.free if ix is not None]
        total = np.zeros(shape)
        for t in self.terms:
            ops, specs = [], []
            for e in t.entries:
                v = np.atleast_2d(np.asarray(values[id(e.node)], dtype=float))
                v = v if e.row is not None else v[0]
                v = v if e.col is not None else v[..., 0]
                ops.append(v)
                specs.append("".join(letters[ix] for ix in (e.row, e.col) if ix is not None))
            for a, b in t.deltas:
                ops.append(np.eye(sizes[a]))
                specs.append(letters[a] + letters[b])
            used = set("".join(specs))
            for ix in out_ix:                          # a free index no factor mentions: broadcast
                if letters[ix] not in used:
                    ops.append(np.ones(sizes[ix]))
                    specs.append(letters[ix])
            scale = float(t.coef)
            for s in t.scalars:
                scale *= float(np.asarray(values[id(s)], dtype=float).reshape(()))
            for c in t.counts:
                scale *= size(c)
            val = np.einsum(",".join(specs) + "->" + "".join(letters[ix] for ix in out_ix), *ops) if ops else 1.0
            total = total + scale * np.reshape(val, shape)
        return total


def index_form(dY: Node, T: Node, free: tuple[Index, Index, Index, Index] = ("i", "j", "k", "l")) -> IndexForm:
    """∂dY[i, j]/∂T[k, l] for ``dY`` linear in ``T``, deltas contracted, equal terms collected."""
    i, j, k, l_ = free
    free = (i if dY.rows != ONE else None, j if dY.cols != ONE else None,
            k if T.rows != ONE else None, l_ if T.cols != ONE else None)
    walk = IndexWalk(T, free)
    for ix, d in zip(free, (dY.rows, dY.cols, T.rows, T.cols)):
        if ix is not None:
            walk.dims[ix] = d
    terms = [_contract(t, walk.dims) for t in walk(dY, free[0], free[1])]
    return IndexForm(_collect([t for t in terms if t.coef != 0]), free, walk.dims)


class IndexWalk(LinearMap):
    """The target: the terms of ∂e[a, b]/∂T[k, l], called with the entry's indices (a, b)."""

    memoise = False                     # fresh summation indices each time a node is met
    missing = "no index form through {}"

    def __init__(self, T: Node, free: tuple[Index, Index, Index, Index]):
        super().__init__(T)
        self.k, self.l_ = free[2], free[3]
        self.dims: dict[str, Dim] = {}
        self.taken = {ix for ix in free if ix is not None}
        self.counter = 0

    def fresh(self, size: Dim) -> Index:
        """A summation index not yet taken (None for a dimension of size 1)."""
        if size == ONE:
            return None
        while True:
            n = self.counter
            self.counter += 1
            name = _POOL[n] if n < len(_POOL) else f"p{n - len(_POOL) + 2}"
            if name not in self.taken:
                self.taken.add(name)
                self.dims[name] = size
                return name

    def tangent(self, e: Node, a: Index, b: Index) -> list[Term]:
        return [_delta(a, self.k).times(_delta(b, self.l_))]

    def constant(self, e: Node, a: Index, b: Index) -> list[Term]:
        return []

    def sum(self, parts: list[list[Term]], a: Index, b: Index) -> list[Term]:
        return [t for part in parts for t in part]

    def scaled(self, c, fs, body: Node, a: Index, b: Index) -> list[Term]:
        return [_entry(A.product(c, fs, None), None, None).times(t) for t in self(body, a, b)]

    def scalar(self, c, rest, factor: Node, body: Node | None, a: Index, b: Index) -> list[Term]:
        return [_entry(A.product(c, rest, body), a, b).times(t) for t in self(factor, None, None)]

    def hadamard(self, others: Node, inner: Node, a: Index, b: Index) -> list[Term]:
        return [_entry(others, a, b).times(t) for t in self(inner, a, b)]

    def op_matmul(self, e: Node, a: Index, b: Index) -> list[Term]:
        left, F, right = self.split_chain(factors(e))
        p = self.fresh(F.rows) if left else a
        q = self.fresh(F.cols) if right else b
        lhs = _entry(fold(left), a, p) if left else Term(Fraction(1))
        rhs = _entry(fold(right), q, b) if right else Term(Fraction(1))
        inner = _summed(self(F, p, q), p if left else None, q if right else None)
        return [lhs.times(t).times(rhs) for t in inner]

    def op_transpose(self, e: Node, a: Index, b: Index) -> list[Term]:
        return self(e.args[0], b, a)

    def op_diag(self, e: Node, a: Index, b: Index) -> list[Term]:
        if not e.args[0].is_column:
            raise UnsupportedError(self.missing.format(e.op))
        return [_delta(a, b).times(t) for t in self(e.args[0], a, None)]

    def op_diagpart(self, e: Node, a: Index, b: Index) -> list[Term]:
        return self(e.args[0], a, a)

    def op_trace(self, e: Node, a: Index, b: Index) -> list[Term]:
        p = self.fresh(e.args[0].rows)
        return _summed(self(e.args[0], p, p), p)

    def op_sum(self, e: Node, a: Index, b: Index) -> list[Term]:
        P, axis = e.args[0], e.attrs[0]
        p = self.fresh(P.rows) if axis in (None, 1) else a
        q = self.fresh(P.cols) if axis in (None, 2) else b
        return _summed(self(P, p, q), p if axis in (None, 1) else None, q if axis in (None, 2) else None)

    def op_vec(self, e: Node, a: Index, b: Index) -> list[Term]:
        if e.args[0].shape != e.shape:
            raise UnsupportedError(self.missing.format(e.op))
        return self(e.args[0], a, b)

    op_unvec = op_vec


def _delta(a: Index, b: Index) -> Term:
    return Term(Fraction(1), deltas=() if a is None and b is None else ((a, b),))


def _entry(node: Node, a: Index, b: Index) -> Term:
    """node[a, b] as a term: scalars out front, I a delta, 𝟏 nothing, transposes swapped."""
    c, fs, body = A.split(node)
    scalars = (A.product(Fraction(1), fs, None),) if fs else ()
    head = Term(c, scalars)
    if body is None or body.op == "ones":
        return head
    if body.op == "zero":
        return Term(Fraction(0))
    if body.op == "eye":
        return head.times(_delta(a, b))
    if body.op == "transpose":
        return head.times(_entry(body.args[0], b, a))
    if body.op == "diag" and body.args[0].is_column:
        return head.times(_delta(a, b)).times(_entry(body.args[0], a, None))
    return head.times(Term(Fraction(1), entries=(Entry(body, a, b),)))


def _summed(terms: list[Term], *ixs: Index) -> list[Term]:
    s = tuple(x for x in ixs if x is not None)
    return [t.times(Term(Fraction(1), sums=s)) for t in terms]


def _contract(t: Term, dims: dict[str, Dim]) -> Term:
    """Σₚ δₚₖ (…p…) = (…k…); δₐₐ = 1; a summation index nothing uses counts its size."""
    entries, deltas, sums = list(t.entries), list(t.deltas), list(t.sums)
    changed = True
    while changed:
        changed = False
        for n, (x, y) in enumerate(deltas):
            if x == y:
                del deltas[n]
                changed = True
                break
            if x in sums or y in sums:
                old, new = (x, y) if x in sums else (y, x)
                del deltas[n]
                sums.remove(old)
                entries = [Entry(e.node, _rename(e.row, old, new), _rename(e.col, old, new)) for e in entries]
                deltas = [(_rename(a, old, new), _rename(b, old, new)) for a, b in deltas]
                changed = True
                break
    used = {ix for e in entries for ix in (e.row, e.col)} | {ix for d in deltas for ix in d}
    counts = list(t.counts) + [dims[s] for s in sums if s not in used]
    sums = [s for s in sums if s in used]
    order = {ix: n for n, ix in enumerate("ijkl")}
    deltas = sorted((tuple(sorted(d, key=lambda ix: (order.get(ix, 9), ix))) for d in deltas),
                    key=lambda d: (order.get(d[0], 9), d[0], order.get(d[1], 9), d[1]))
    return Term(t.coef, t.scalars, tuple(entries), tuple(deltas), tuple(sums), tuple(counts))


def _rename(ix: Index, old: str, new: str) -> Index:
    return new if ix == old else ix


def _collect(terms: list[Term]) -> list[Term]:
    """Equal terms added: X ∘ dX + dX ∘ X gives 2 Xᵢⱼ δᵢₖ δⱼₗ once."""
    out: dict[tuple, Term] = {}
    for t in terms:
        key = (tuple(id(s) for s in t.scalars), tuple((id(e.node), e.row, e.col) for e in t.entries),
               t.deltas, t.sums, t.counts)
        if key in out:
            out[key] = Term(out[key].coef + t.coef, *key_fields(t))
        else:
            out[key] = t
    return [t for t in out.values() if t.coef != 0]


def key_fields(t: Term) -> tuple:
    return t.scalars, t.entries, t.deltas, t.sums, t.counts


# ---------------------------------------------------------------------- printing
def _subscripts(ixs: list[str], style: str) -> str:
    if not ixs:
        return ""
    if style == "latex":
        return "_{" + "".join(ixs) + "}"
    if style == "unicode":
        sub = [subscript(ix) for ix in ixs]
        if None not in sub and all(len(ix) == 1 for ix in ixs):
            return "".join(sub)
    return "[" + ",".join(ixs) + "]"


def render_index(form: IndexForm, printer, style: str, indicator: bool = False) -> str:
    """The right-hand side Σ terms in one style; ``printer`` prints (named) nodes; ``indicator``
    writes a Kronecker delta as the lecture's indicator ``1{k=i}``.  A base that already has a
    subscript is parenthesised before its indices: ``(z₁)ₖ``, ``(z_{1})_{k}``."""
    if not form.terms:
        return "0"
    parts = []
    for t in form.terms:
        factors = [printer.p(s, ATOM + 0) for s in t.scalars]
        factors += [fmt_dim(c) for c in t.counts]
        placed: dict[int, list[str]] = {}          # indicator: a delta after the last entry sharing an index
        for a, b in t.deltas if indicator else ():
            a, b = sorted((a, b), key=lambda ix: ix in "ij")        # the summed index first: 1{k=i}
            near = [n for n, e in enumerate(t.entries) if {e.row, e.col} & {a, b}]
            text = rf"\mathbf{{1}}\{{{a}={b}\}}" if style == "latex" else f"1{{{a}={b}}}"
            placed.setdefault(near[-1] if near else -1, []).append(text)
        factors += placed.get(-1, [])
        for n, e in enumerate(t.entries):
            base = printer.p(e.node, ATOM)
            ixs = [ix for ix in (e.row, e.col) if ix is not None]
            wrapped = base.startswith(("(", "\\left(")) and base.endswith((")", "\\right)"))
            if ixs and style != "text" and not wrapped and any(ch in base for ch in "_₀₁₂₃₄₅₆₇₈₉"):
                base = f"({base})"
            factors.append(base + _subscripts(ixs, style))
            factors += placed.get(n, [])
        for a, b in () if indicator else t.deltas:
            factors.append(("\\delta" if style == "latex" else "δ" if style == "unicode" else "delta")
                           + _subscripts([a, b], style))
        c = abs(t.coef)
        if c != 1 or not factors:
            factors.insert(0, fmt_number(c, style))
        sep = "*" if style == "text" else r" \, " if style == "latex" else " "
        body = sep.join(factors)
        if t.sums:
            if style == "latex":
                body = rf"\sum_{{{','.join(t.sums)}}} {body}"
            elif style == "unicode":
                sub = _subscripts(list(t.sums), style)
                body = f"Σ{sub} {body}"
            else:
                body = f"sum[{','.join(t.sums)}] {body}"
        parts.append((t.coef < 0, body))
    minus = "−" if style == "unicode" else "-"
    out = (minus if parts[0][0] else "") + parts[0][1]
    for neg, body in parts[1:]:
        out += f" {minus if neg else '+'} {body}"
    return out


def index_label(out: str, var: str, form: IndexForm, style: str, second: bool = False) -> str:
    """∂Yᵢⱼ/∂Xₖₗ (``second``: ∂²f/∂Xᵢⱼ∂Xₖₗ, ``out`` the scalar and ``var`` "X,Y")."""
    i, j, k, l_ = form.free
    outer = _subscripts([x for x in (i, j) if x is not None], style)
    inner = _subscripts([x for x in (k, l_) if x is not None], style)
    if second:
        x, y = var.split(",")
        if style == "latex":
            return rf"\frac{{\partial^2 {out}}}{{\partial {x}{outer} \, \partial {y}{inner}}}"
        if style == "text":
            return f"d2{out}/d{x}{outer}d{y}{inner}"
        return f"∂²{out}/∂{x}{outer}∂{y}{inner}"
    simple = out.replace("_", "").isalnum()
    shown = out if simple or not outer else (rf"\left({out}\right)" if style == "latex" else f"({out})")
    if style == "latex":
        return rf"\frac{{\partial {shown}{outer}}}{{\partial {var}{inner}}}"
    if style == "text":
        return f"d{shown}{outer}/d{var}{inner}"
    return f"∂{shown}{outer}/∂{var}{inner}"
