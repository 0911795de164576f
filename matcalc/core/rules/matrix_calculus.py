"""The calculus of the matrix primitives: reverse and forward rules and NumPy forwards.

The functions here are the fields of ``matrix_rules``' entries that take more than a line:
``vjp(node, G)`` gives one contribution per argument (``G`` the upstream cotangent, of the
output's shape), ``jvp(node, tangents)`` the tangent of the output, ``np_*`` the NumPy forward.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import ONE, Node, make
from matcalc.core.rules.table import Kinks, with_context


def unbroadcast(arg: Node, g: Node | None) -> Node | None:
    """A scalar operand of a broadcasting op receives the sum of its contributions."""
    if g is None:
        return None
    if arg.is_scalar and not g.is_scalar:
        return A.sum_(g)
    return g


def scale_vjp(node: Node, G: Node):
    coef, _, body = A.split(node)
    factors = node.args if body is None else node.args[:-1]
    out = []
    for i, f in enumerate(factors):
        others = [(g, Fraction(1)) for j, g in enumerate(factors) if j != i]
        contracted = G if body is None else inner(G, body)
        out.append(A.product(coef, others + [(contracted, Fraction(1))], None))
    if body is not None:
        out.append(A.product(coef, [(g, Fraction(1)) for g in factors], G))
    return tuple(out)


def inner(G: Node, body: Node) -> Node:
    """⟨G, B⟩ = sum(G ∘ B), the Frobenius inner product."""
    return A.sum_(A.hadamard(G, body))


def scale_jvp(node: Node, ts):
    coef, _, body = A.split(node)
    factors = node.args if body is None else node.args[:-1]
    ones = [(g, Fraction(1)) for g in factors]
    terms = []
    for i, t in enumerate(ts):
        if t is None:
            continue
        if i == len(factors):                       # the tangent of the body
            terms.append(A.product(coef, ones, t))
        else:                                       # the tangent of scalar factor i
            others = ones[:i] + ones[i + 1:]
            terms.append(A.product(coef, others + [(t, Fraction(1))], body))
    return A.add(*terms) if terms else None


def matpow_vjp(node, G):
    a, k = node.args[0], node.attrs[0]
    terms = [A.matmul(A.matmul(A.transpose(A.matpow(a, i)), G), A.transpose(A.matpow(a, k - 1 - i)))
             for i in range(k)]
    return (A.add(*terms),)


def matpow_jvp(node, ts):
    a, k = node.args[0], node.attrs[0]
    t = ts[0]
    return A.add(*(A.matmul(A.matmul(A.matpow(a, i), t), A.matpow(a, k - 1 - i)) for i in range(k)))


def sum_vjp(node, G):
    a, axis = node.args[0], node.attrs[0]
    if axis is None:
        return (A.scale(G, A.ones(a.shape)),)
    if axis == 1:
        return (A.matmul(A.ones((a.rows, ONE)), G),)
    return (A.matmul(G, A.ones((ONE, a.cols))),)


def softmax_vjp(node, G):
    z, axis = node.args[0], node.attrs[0]
    return (A.hadamard(node, A.sub(G, spread(A.sum_(A.hadamard(G, node), axis), z, axis))),)


def softmax_jvp(node, ts):
    z, axis = node.args[0], node.attrs[0]
    t = ts[0]
    return A.hadamard(node, A.sub(t, spread(A.sum_(A.hadamard(node, t), axis), z, axis)))


def log_softmax_vjp(node, G):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return (A.sub(G, A.hadamard(p, spread(A.sum_(G, axis), z, axis))),)


def log_softmax_jvp(node, ts):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return A.sub(ts[0], spread(A.sum_(A.hadamard(p, ts[0]), axis), z, axis))


def logsumexp_vjp(node, G):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return (A.hadamard(p, spread(G, z, axis)),)


def logsumexp_jvp(node, ts):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return A.sum_(A.hadamard(p, ts[0]), axis)


def spread(r: Node, z: Node, axis: int) -> Node:
    """Broadcast a per-column row (axis 1) or per-row column (axis 2) back to z's shape."""
    if r.is_scalar:
        return A.scale(r, A.ones(z.shape)) if not z.is_scalar else r
    if axis == 1:
        return A.matmul(A.ones((z.rows, ONE)), r)
    return A.matmul(r, A.ones((ONE, z.cols)))


def rebuild_scale(n: Node, args: list[Node]) -> Node:
    """A scale node over new factors (and body), through the product constructor."""
    coef, _, body = A.split(n)
    factors = args if body is None else args[:-1]
    return A.product(coef, [(f, Fraction(1)) for f in factors], args[-1] if body is not None else None)


def np_sum(node, a):
    axis = node.attrs[0]
    if axis is None:
        return np.sum(a)
    return np.sum(a, axis=axis - 1, keepdims=True)


def np_lse(z, axis):
    m = np.max(z, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def np_scale(node, *vals):
    out = float(node.attrs[0])
    for v in vals:
        out = out * v
    return out


def np_hadamard(node, *vals):
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return out


def np_pow(node, a):
    p = node.attrs[0]
    if p.denominator == 1:
        return np.power(a, int(p)) if p > 0 else 1.0 / np.power(a, -int(p))
    return np.power(a, float(p))


def np_matpow(node, a):
    return np.linalg.matrix_power(a, node.attrs[0])


def commutation_matrix(m: int, n: int) -> np.ndarray:
    """K₍ₘ,ₙ₎ as a dense 0/1 array: K vec(X) = vec(Xᵀ) for X m×n, ``vec`` column-major."""
    K = np.zeros((m * n, m * n))
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    K[(j + i * n).ravel(), (i + j * m).ravel()] = 1.0
    return K


def commutation_permutation(m: int, n: int) -> np.ndarray:
    """p with K₍ₘ,ₙ₎ M = M[p] and M K₍ₙ,ₘ₎ = M[:, p]: K applied without a matrix product."""
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    p = np.empty(m * n, dtype=np.intp)
    p[(j + i * n).ravel()] = (i + j * m).ravel()
    return p


def no_vjp(what):
    def rule(node, G):
        raise UnsupportedError(f"differentiating through {what} is not supported yet")
    return rule


def lin(f):
    """The JVP of a linear op is the op applied to the tangent."""
    def rule(node, ts):
        return None if ts[0] is None else f(node, ts[0])
    return rule


# ------------------------------------------------------------------ forwards that need sizes or inputs
def np_var(node, ctx):
    return ctx.env[node.attrs[0]]


def np_ones(node, ctx):
    return np.ones((ctx.size(node.rows), ctx.size(node.cols)))


def np_zero(node, ctx):
    return np.zeros((ctx.size(node.rows), ctx.size(node.cols)))


def np_size(node, ctx):
    return float(ctx.size(node.attrs[0]))


def np_eye(node, ctx):
    return np.eye(ctx.size(node.rows))


def np_commutation(node, ctx):
    return commutation_matrix(ctx.size(node.attrs[0]), ctx.size(node.attrs[1]))


@with_context
def np_matmul(node, ctx, a, b):
    """A B; a commutation factor is a permutation of rows or columns, not a product."""
    left, right = node.args
    if left.op == "commutation":
        return np.asarray(b, dtype=float)[commutation_permutation(*(ctx.size(d) for d in left.attrs))]
    if right.op == "commutation":
        m, n = (ctx.size(d) for d in right.attrs)
        return np.asarray(a, dtype=float)[:, commutation_permutation(n, m)]
    return a @ b


@with_context
def np_unvec(node, ctx, a):
    return np.asarray(a).reshape((ctx.size(node.rows), ctx.size(node.cols)), order="F")


# ------------------------------------------------------------------ the power with any exponent
def power(a: Node, p: Node) -> Node:
    """a.^p for an exponent p that is a scalar or has a's shape (variables included); a number
    keeps the monomial a.^k of the simplifier.  A scalar base spreads to the exponent's shape."""
    if A.is_const(p):
        return A.pow_(a, p.attrs[0])
    if A.is_zero(p):
        return A.ones(a.shape if not a.is_scalar else p.shape)
    return make("power", (a, p), p.shape if a.is_scalar else a.shape)


def _power_partials(n: Node) -> tuple[Node, Node]:
    """∂(a.^p)/∂a = p ∘ a.^(p − 1) and ∂(a.^p)/∂p = a.^p ∘ log(a), elementwise."""
    a, p = n.args
    if a is p:                           # x.^x: p ∘ a.^p ⊘ a, so that x ∘ x.^x ⊘ x is x.^x itself
        return (A.hadamard(n), A.hadamard(n, A.ew("log", a)))
    return (A.hadamard(p, power(a, A.sub(p, A.const(1)))), A.hadamard(n, A.ew("log", a)))


def power_vjp(n: Node, G: Node):
    da, dp = _power_partials(n)
    return tuple(unbroadcast(x, A.hadamard(G, d)) for x, d in zip(n.args, (da, dp)))


def power_jvp(n: Node, ts):
    partials = _power_partials(n)
    return A.add(*(A.hadamard(t, d) for t, d in zip(ts, partials) if t is not None))


def np_power(node, a, p):
    return np.power(a, p)


def power_kinks(n: Node) -> list:
    """The base keeps away from 0 (log(a) in the derivative by the exponent); it is drawn positive
    (a negative base has no real a.^p for a non-integer p: the sampler's positive draws)."""
    return [(n.args[0], None, Kinks((0.0,), margin=0.05))]
