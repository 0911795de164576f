"""Leaves and the predicates every constructor asks: variables, numbers, ones, zeros, I, K.

``const`` is a scale node with no factors; ``ones``, ``zero`` and ``eye`` of a scalar shape are
numbers, ``commutation`` of a vector shape is the identity.  Part of ``algebra``'s constructors.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core.errors import ShapeError
from matcalc.core.graph import ONE, SCALAR, Dim, Node, Shape, as_fraction, make

SYMMETRIC_KINDS = ("symmetric", "spd", "diagonal")


def var(name: str, shape: Shape, ndim: int, assumption: str | None = None) -> Node:
    """A variable; ``ndim`` (0, 1, 2) is how NumPy sees it, ``assumption`` one of LANGUAGE.md's."""
    return make("var", (), shape, (name, ndim, assumption))


def const(c: float | Fraction) -> Node:
    """A number: a scale node with no factors."""
    return make("scale", (), SCALAR, (as_fraction(c),))


def ones(shape: Shape) -> Node:
    if shape == SCALAR:
        return const(1)
    return make("ones", (), shape)


def zero(shape: Shape) -> Node:
    if shape == SCALAR:
        return const(0)
    return make("zero", (), shape)


def eye(n: Dim) -> Node:
    if n == ONE:
        return const(1)
    return make("eye", (), (n, n))


def commutation(m: Dim, n: Dim) -> Node:
    """K₍ₘ,ₙ₎, the mn × mn permutation with K₍ₘ,ₙ₎ vec(X) = vec(Xᵀ) for X m×n (Cookbook 9.3);
    K₍₁,ₙ₎ = K₍ₙ,₁₎ = I."""
    if m == ONE or n == ONE:
        return eye(m * n)
    return make("commutation", (), (m * n, m * n), (m, n))


def size_leaf(d: Dim) -> Node:
    """A size as a scalar constant: one dimension symbol ``n`` or a known count ``6``
    (``reductions.size`` makes products of them); its text form is kept beside it."""
    text = str(int(d)) if getattr(d, "is_Integer", False) else str(d)   # read back as the size
    return make("size", (), SCALAR, (d, text))


def is_zero(a: Node) -> bool:
    return a.op == "zero" or (a.op == "scale" and a.attrs[0] == 0)


def is_const(a: Node, value=None) -> bool:
    return a.op == "scale" and not a.args and (value is None or a.attrs[0] == value)


def assumption(a: Node) -> str | None:
    if a.op == "unit":                                          # eᵢ: a one-hot vector (LANGUAGE.md v2)
        return "onehot"
    return a.attrs[2] if a.op == "var" else None


def fmt_shape(shape: Shape) -> str:
    """``m×n``: a shape in an error message."""
    return "×".join(str(d) for d in shape)


def broadcast_shape(nodes, message: str) -> Shape:
    """The one shape of the non-scalar ``nodes`` (scalars broadcast), or a ShapeError whose
    ``message`` has two ``{}`` for the shapes that differ."""
    shape = SCALAR
    for n in nodes:
        if not n.is_scalar:
            if shape != SCALAR and n.shape != shape:
                raise ShapeError(message.format(fmt_shape(shape), fmt_shape(n.shape)))
            shape = n.shape
    return shape
