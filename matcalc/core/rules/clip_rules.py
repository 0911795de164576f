"""clip(z, lo, hi) (LANGUAGE.md v2): constant scalar bounds kept as attributes, so nothing is
differentiated by them; clip'(z, lo, hi) = 𝟙[lo < z < hi], 1 strictly inside and 0 outside, with
kinks at lo and hi.  The ``clip`` and ``clip'`` entries of the rule table read these."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import Node, make
from matcalc.core.rules.table import Kinks


def _bound(x: Node, what: str) -> Fraction:
    if not A.is_const(x):
        raise UnsupportedError(f"clip's {what} bound must be a constant number (nothing is differentiated by it)")
    return Fraction(x.attrs[0])


def clip(z: Node, lo: Fraction, hi: Fraction, order: int = 0) -> Node:
    """clip(z, lo, hi) (order 0) or clip'(z, lo, hi), 1 strictly inside (lo, hi) and 0 outside;
    the bounds are attributes, constants."""
    return make("clip" if order == 0 else "clip'", (z,), z.shape, (lo, hi))


def clip_build(z: Node, lo: Node, hi: Node) -> Node:
    a, b = _bound(lo, "lower"), _bound(hi, "upper")
    if not a < b:
        raise UnsupportedError(f"clip needs lo < hi, got {a} and {b}")
    return clip(z, a, b)


def clip_prime(args, k, slope):
    z, lo, hi = args
    node = clip_build(z, lo, hi)
    return clip(z, *node.attrs, 1) if k == 1 else A.zero(z.shape)


def clip_shape(inf, call):
    if not (inf.is_scalar(call.args[1]) and inf.is_scalar(call.args[2])):
        inf.clash(call.node, "clip's bounds lo and hi are scalar constants: clip(z, lo, hi)", call.node.args[1:])
    return call.args[0]


def clip_numpy(node, z):
    lo, hi = (float(b) for b in node.attrs)
    return np.clip(z, lo, hi) if node.op == "clip" else ((z > lo) & (z < hi)).astype(float)


def clip_vjp(node, G):
    return (A.hadamard(G, clip(node.args[0], *node.attrs, 1)),) if node.op == "clip" else (None,)


def clip_jvp(node, ts):
    if node.op != "clip" or ts[0] is None:
        return None
    return A.hadamard(ts[0], clip(node.args[0], *node.attrs, 1))


def clip_bounds_text(node) -> tuple[str, ...]:
    return tuple(str(int(b)) if b.denominator == 1 else repr(float(b)) for b in node.attrs)


def clip_kinks(node: Node) -> list:
    return [(node.args[0], None, Kinks(tuple(float(b) for b in node.attrs)))]
