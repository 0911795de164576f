"""Scalars and sums: a node as coefficient × scalar monomial × body, and sums of such terms.

``split`` reads a node in that normal form and ``product`` builds one (scalars float to the front,
so ``2 ‖u‖ · u/‖u‖`` is ``2 u``); ``add`` broadcasts scalars, collects equal terms and drops
zeros.  Part of ``algebra``'s constructors.
"""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from matcalc.core.errors import InternalError
from matcalc.core.graph import SCALAR, Node, as_fraction, make
from matcalc.core.leaves import broadcast_shape, const, ones, zero

Coef = Fraction
Factors = tuple[tuple[Node, Fraction], ...]
_ZERO, _ONE = Fraction(0), Fraction(1)      # immutable: shared rather than made on every split


def split(a: Node) -> tuple[Coef, Factors, Node | None]:
    """``a`` as coefficient × scalar monomial × body (``None`` when ``a`` is a scalar)."""
    if a.op == "zero":
        return _ZERO, (), None if a.is_scalar else a
    if a.op == "scale":
        coef = a.attrs[0]
        if a.is_scalar:
            return coef, tuple(base_exp(f) for f in a.args), None
        return coef, tuple(base_exp(f) for f in a.args[:-1]), a.args[-1]
    if a.is_scalar:
        return _ONE, (base_exp(a),), None
    return _ONE, (), a


def base_exp(f: Node) -> tuple[Node, Fraction]:
    """A scalar factor as (base, exponent): ``t^p`` is (t, p), anything else (f, 1)."""
    if f.op == "pow" and f.is_scalar:
        return f.args[0], f.attrs[0]
    return f, _ONE


def merge_factors(factors: Iterable[tuple[Node, Fraction]]) -> list[tuple[Node, Fraction]]:
    """Equal bases merged, their exponents added; those that cancel to 0 dropped; first-seen order."""
    out: dict[int, list] = {}
    order: list[int] = []
    for base, e in factors:
        k = id(base)
        if k in out:
            out[k][1] += e
        else:
            out[k] = [base, e]
            order.append(k)
    return [(out[k][0], out[k][1]) for k in order if out[k][1] != 0]


def product(coef: Coef, factors: Iterable[tuple[Node, Fraction]], body: Node | None) -> Node:
    """coef × Π base^exp × body, normalised."""
    coef = as_fraction(coef)
    flat: list[tuple[Node, Fraction]] = []
    for base, e in factors:
        c, fs, b = split(base)
        if b is not None:
            raise InternalError("a scalar factor that is not a scalar")
        if e != 1 and (c != 1 or len(fs) != 1):
            if e.denominator == 1 and (c != 0 or e > 0):
                coef *= c ** int(e)
                flat.extend((fb, fe * e) for fb, fe in fs)
            else:
                flat.append((base, e))
            continue
        if c != 1:
            coef *= c
        flat.extend(fs if e == 1 else ((fb, fe * e) for fb, fe in fs))
    if body is not None:
        c, fs, b = split(body)
        if c != 1:
            coef *= c
        flat.extend(fs)
        body = b
    shape = body.shape if body is not None else SCALAR
    if coef == 0 or (body is not None and body.op == "zero"):
        return zero(shape)
    merged = merge_factors(flat)
    nodes = [b if e == 1 else raw_pow(b, e) for b, e in merged]
    if not nodes:
        if body is None:
            return const(coef)
        if coef == 1:
            return body
    elif coef == 1 and body is None and len(nodes) == 1:
        return nodes[0]
    args = tuple(nodes) + ((body,) if body is not None else ())
    return make("scale", args, shape, (coef,))


def scale(s: Node | float | Fraction, a: Node) -> Node:
    """The scalar ``s`` times ``a``."""
    if not isinstance(s, Node):
        return product(as_fraction(s), (), a if not a.is_scalar else None) if not a.is_scalar \
            else product(as_fraction(s), ((a, Fraction(1)),), None)
    if not s.is_scalar:
        raise InternalError(f"scale by a non-scalar {s!r}")
    if a.is_scalar:
        return product(Fraction(1), ((s, Fraction(1)), (a, Fraction(1))), None)
    return product(Fraction(1), ((s, Fraction(1)),), a)


def neg(a: Node) -> Node:
    return scale(-1, a)


def raw_pow(base: Node, e: Fraction) -> Node:
    """``base.^e`` as a node, with no simplification."""
    return make("pow", (base,), base.shape, (e,))


def add(*terms: Node) -> Node:
    """Sum with scalars broadcast, equal terms collected, zeros dropped."""
    flat: list[Node] = []
    for t in terms:
        flat.extend(t.args if t.op == "add" else (t,))
    shape = broadcast_shape(flat, "cannot add shapes {} and {}")
    groups: dict[tuple, list] = {}
    order: list[tuple] = []
    for t in flat:
        coef, fs, body = split(t)
        if coef == 0:
            continue
        if body is None and shape != SCALAR:
            body = ones(shape)
        key = (tuple((id(b), e) for b, e in fs), id(body))
        if key in groups:
            groups[key][0] += coef
        else:
            groups[key] = [coef, fs, body]
            order.append(key)
    parts = [product(groups[k][0], groups[k][1], groups[k][2]) for k in order if groups[k][0] != 0]
    if not parts:
        return zero(shape)
    if len(parts) == 1:
        return parts[0]
    return make("add", parts, shape)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))
