"""Elementwise constructors: Hadamard monomials, elementwise powers and functions.

``hadamard`` keeps an elementwise product as bases with exponents and scalars in front (``a ∘ a``
is ``a.^2``); ``pow_`` distributes over coefficients and monomials; ``ew``/``ew2`` apply an
elementwise function (or its derivative of some order).  Part of ``algebra``'s constructors.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core.errors import ShapeError, UndefinedError
from matcalc.core.graph import SCALAR, Node, as_fraction, make
from matcalc.core.leaves import assumption, broadcast_shape, fmt_shape, is_zero, ones, zero
from matcalc.core.scaling import merge_factors, product, raw_pow, split


def hadamard(*xs: Node) -> Node:
    """Elementwise product as a monomial: bases with exponents, scalars pulled out front."""
    shape = broadcast_shape(xs, "elementwise product of {} and {}")
    coef = Fraction(1)
    sfs: list[tuple[Node, Fraction]] = []
    elems: list[tuple[Node, Fraction]] = []
    stack = list(xs)
    for x in stack:
        c, fs, body = split(x)
        coef *= c
        sfs.extend(fs)
        if body is None or body.op == "ones":
            continue
        if body.op == "zero":
            return zero(shape)
        if body.op == "hadamard":
            elems.extend((f.args[0], f.attrs[0]) if f.op == "pow" else (f, Fraction(1)) for f in body.args)
        elif body.op == "pow":
            elems.append((body.args[0], body.attrs[0]))
        else:
            elems.append((body, Fraction(1)))
    merged = merge_factors(elems)
    if shape == SCALAR:
        return product(coef, sfs + merged, None)
    if not merged:
        return product(coef, sfs, ones(shape))
    parts = [b if e == 1 else pow_(b, e) for b, e in merged]
    body = parts[0] if len(parts) == 1 else make("hadamard", parts, shape)
    return product(coef, sfs, body)


def pow_(a: Node, p: Fraction | float) -> Node:
    """Elementwise power ``a.^p`` (a scalar power for scalars)."""
    p = as_fraction(p)
    if is_zero(a):                                               # 0.^p: 0, or undefined for p < 0
        if p < 0:
            raise UndefinedError("division by zero: this denominator is exactly zero for every input")
        return ones(a.shape) if p == 0 else a
    if p == 0:
        return ones(a.shape)
    if p == 1:
        return a
    if a.op == "ones":
        return a
    if assumption(a) in ("onehot", "onehot_rows") and p > 0:    # entries are 0 or 1: y.^p = y
        return a
    if a.is_scalar:
        c, fs, _ = split(a)
        if c == 0 and p < 0:
            raise UndefinedError("division by zero: this denominator is exactly zero for every input")
        if p.denominator == 1:
            return product(c ** int(p), tuple((b, e * p) for b, e in fs), None)
        if not fs:
            return raw_pow(a, p)
        return product(Fraction(1), ((a, p),), None)
    c, fs, body = split(a)
    if p.denominator == 1 and (c, fs) != (1, ()):
        return product(c ** int(p), tuple((b, e * p) for b, e in fs), pow_(body, p))
    if body.op == "pow" and p.denominator == 1:
        return pow_(body.args[0], body.attrs[0] * p)
    if body.op == "hadamard" and p.denominator == 1:
        return hadamard(*(pow_(f, p) for f in body.args))
    return raw_pow(a, p)


def ew(name: str, a: Node, order: int = 0) -> Node:
    """An elementwise function (``order`` > 0: its order-th derivative) applied to ``a``."""
    if name == "log" and is_zero(a):                            # log 0 = −∞ for every input: no derivative
        raise UndefinedError("log of zero: this argument is exactly zero for every input")
    if name == "abs" and assumption(a) == "positive":          # |x| = x, sign(x) = 1 for x > 0
        return a if order == 0 else ones(a.shape) if order == 1 else zero(a.shape)
    return make("ew", (a,), a.shape, (name, order))


def ew2(name: str, a: Node, b: Node, order: int = 0) -> Node:
    """A binary elementwise function (max, min, leaky_relu); scalar operands broadcast."""
    if not a.is_scalar and not b.is_scalar and a.shape != b.shape:
        raise ShapeError(f"{name} of {fmt_shape(a.shape)} and {fmt_shape(b.shape)}")
    shape = b.shape if a.is_scalar else a.shape
    return make("ew2", (a, b), shape, (name, order))


def step(a: Node) -> Node:
    """The unit step 𝟙[a > 0], i.e. relu'(a)."""
    return ew("relu", a, 1)
