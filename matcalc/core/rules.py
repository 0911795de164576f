"""The rule table: every primitive once, with its NumPy forward, reverse and forward rules.

``RULES[op]`` holds, for each graph operation, a one-line math docstring, the NumPy forward
(``numpy(node, *arg_values)``), the vector-Jacobian product (``vjp(node, G)``: the upstream
cotangent ``G`` of the output's shape ↦ one contribution per argument, ``None`` where the
argument is a constant) and the Jacobian-vector product (``jvp(node, tangents)``).  Elementwise
functions are one table of their own, ``ELEMENTWISE``: a NumPy function per derivative order and
the symbolic derivative.  ``FUNCTIONS`` maps the language's function names to builders.  Adding
a primitive is adding an entry; ``tests/test_rules.py`` checks every entry against central
finite differences.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import partial

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import ONE, Node

Vjp = Callable[[Node, Node], tuple[Node | None, ...]]
Jvp = Callable[[Node, tuple[Node | None, ...]], Node | None]


# ------------------------------------------------------------------ elementwise functions
def _sigmoid(z):
    """1 / (1 + e⁻ᶻ) without underflow: 0.5 (1 + tanh(z/2)) is exactly 0 below z ≈ −37."""
    e = np.exp(-np.abs(z))
    return np.where(np.asarray(z) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(z):
    return np.logaddexp(0.0, z)


@dataclass(frozen=True)
class Elementwise:
    """An elementwise function: NumPy per derivative order, and d/dz of order k."""

    name: str
    doc: str
    numpy: tuple[Callable, ...]           # f, f', ... as far as they stay primitive
    deriv: Callable[[Node, Node, int], Node]  # (z, out, order) -> d out / d z
    domain: str = "real"                  # where tests sample: real, positive, nonzero, ...
    latex: str = ""


def _d_tanh(z, out, k):
    return A.sub(A.ones(z.shape), A.pow_(out, 2))


def _d_sigmoid(z, out, k):
    return A.hadamard(out, A.sub(A.ones(z.shape), out))


def _d_primitive(name, last):
    """Derivative orders kept as primitives up to ``last``; beyond it the derivative is 0."""
    def d(z, out, k):
        if k + 1 > last:
            return A.zero(z.shape)
        return A.ew(name, z, k + 1)
    return d


def _elu1(z):
    return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))


def _elu2(z):
    return np.where(z > 0, 0.0, np.exp(np.minimum(z, 0.0)))


ELEMENTWISE: dict[str, Elementwise] = {e.name: e for e in [
    Elementwise("exp", "exp' = exp", (np.exp,), lambda z, out, k: out, "bounded", r"\exp"),
    Elementwise("log", "log'(z) = 1/z", (np.log,), lambda z, out, k: A.pow_(z, -1), "positive", r"\log"),
    Elementwise("sqrt", "sqrt'(z) = 1/(2 sqrt(z))", (np.sqrt,),
                lambda z, out, k: A.scale(Fraction(1, 2), A.pow_(out, -1)), "positive", r"\sqrt"),
    Elementwise("sin", "sin' = cos", (np.sin,), lambda z, out, k: A.ew("cos", z), "real", r"\sin"),
    Elementwise("cos", "cos' = -sin", (np.cos,), lambda z, out, k: A.neg(A.ew("sin", z)), "real", r"\cos"),
    Elementwise("tanh", "tanh' = 1 - tanh²", (np.tanh,), _d_tanh, "real", r"\tanh"),
    Elementwise("sigmoid", "σ' = σ (1 - σ)", (_sigmoid,), _d_sigmoid, "real", r"\sigma"),
    Elementwise("relu", "relu'(z) = 𝟙[z > 0], the unit step", (lambda z: np.maximum(z, 0.0),
                lambda z: (z > 0).astype(float)), _d_primitive("relu", 1), "kink0", r"\operatorname{relu}"),
    Elementwise("abs", "|z|' = sign(z)", (np.abs, np.sign), _d_primitive("abs", 1), "kink0", ""),
    Elementwise("hardtanh", "hardtanh'(z) = 𝟙[|z| < 1]", (lambda z: np.clip(z, -1.0, 1.0),
                lambda z: (np.abs(z) < 1).astype(float)), _d_primitive("hardtanh", 1), "kink1",
                r"\operatorname{hardtanh}"),
    Elementwise("elu", "elu'(z) = 1 for z > 0, exp(z) below", (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
                _elu1, _elu2), lambda z, out, k: A.ew("elu", z, min(k + 1, 2)), "kink0", r"\operatorname{elu}"),
    Elementwise("softplus", "softplus' = σ", (_softplus,), lambda z, out, k: A.ew("sigmoid", z), "real",
                r"\operatorname{softplus}"),
]}


def elementwise_derivative(name: str, z: Node, out: Node, order: int) -> Node:
    """d/dz of the order-th derivative of ``name`` at ``z``, ``out`` being that node itself."""
    spec = ELEMENTWISE.get(name)
    if spec is None:
        return A.ew(name, z, order + 1)             # a generic f: f', f'', ...
    if order == 0 or name in ("relu", "abs", "hardtanh", "elu"):
        return spec.deriv(z, out, order)
    raise UnsupportedError(f"derivative of order {order + 1} of {name}")


def ew_numpy(name: str, order: int, functions: dict | None) -> Callable:
    """The NumPy function for the order-th derivative of ``name``."""
    if functions and name in functions:
        fs = functions[name]
        if order < len(fs):
            return fs[order]
        raise UnsupportedError(f"no NumPy function given for derivative {order} of {name}: pass "
                               f"functions={{'{name}': (f, f', f'', ...)}}")
    spec = ELEMENTWISE.get(name)
    if spec is None:
        raise UnsupportedError(f"{name} is a generic function: pass functions={{'{name}': (f, f_prime)}} "
                               "to evaluate it")
    if order < len(spec.numpy):
        return spec.numpy[order]
    return np.zeros_like


# ------------------------------------------------------------------ the rule table
@dataclass(frozen=True)
class Rule:
    op: str
    doc: str
    numpy: Callable
    vjp: Vjp
    jvp: Jvp


def _unbroadcast(arg: Node, g: Node | None) -> Node | None:
    """A scalar operand of a broadcasting op receives the sum of its contributions."""
    if g is None:
        return None
    if arg.is_scalar and not g.is_scalar:
        return A.sum_(g)
    return g


def _scale_vjp(node: Node, G: Node):
    coef, _, body = A.split(node)
    factors = node.args if body is None else node.args[:-1]
    out = []
    for i, f in enumerate(factors):
        others = [(g, Fraction(1)) for j, g in enumerate(factors) if j != i]
        contracted = G if body is None else _inner(G, body)
        out.append(A.product(coef, others + [(contracted, Fraction(1))], None))
    if body is not None:
        out.append(A.product(coef, [(g, Fraction(1)) for g in factors], G))
    return tuple(out)


def _inner(G: Node, body: Node) -> Node:
    """⟨G, B⟩ = sum(G ∘ B), the Frobenius inner product."""
    return A.sum_(A.hadamard(G, body))


def _scale_jvp(node: Node, ts):
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


def _matpow_vjp(node, G):
    a, k = node.args[0], node.attrs[0]
    terms = [A.matmul(A.matmul(A.transpose(A.matpow(a, i)), G), A.transpose(A.matpow(a, k - 1 - i)))
             for i in range(k)]
    return (A.add(*terms),)


def _matpow_jvp(node, ts):
    a, k = node.args[0], node.attrs[0]
    t = ts[0]
    return A.add(*(A.matmul(A.matmul(A.matpow(a, i), t), A.matpow(a, k - 1 - i)) for i in range(k)))


def _ew_vjp(node, G):
    z = node.args[0]
    return (A.hadamard(G, elementwise_derivative(node.attrs[0], z, node, node.attrs[1])),)


def _ew_jvp(node, ts):
    z = node.args[0]
    return A.hadamard(ts[0], elementwise_derivative(node.attrs[0], z, node, node.attrs[1]))


def ew2_partials(node: Node) -> tuple[Node, Node]:
    """∂out/∂a and ∂out/∂b of a binary elementwise node, elementwise."""
    name, order = node.attrs
    a, b = node.args
    if name == "max" and order == 0:
        return A.step(A.sub(a, b)), A.step(A.sub(b, a))
    if name == "min" and order == 0:
        return A.step(A.sub(b, a)), A.step(A.sub(a, b))
    if name == "leaky_relu" and order == 0:
        return A.ew2("leaky_relu", a, b, 1), A.ew2("min", a, A.const(0))
    if name == "leaky_relu" and order == 1:
        return A.zero(node.shape), A.step(A.neg(a))
    raise UnsupportedError(f"derivative of {name}{chr(39) * order}")


def _ew2_vjp(node, G):
    da, db = ew2_partials(node)
    a, b = node.args
    return (_unbroadcast(a, A.hadamard(G, da)), _unbroadcast(b, A.hadamard(G, db)))


def _ew2_jvp(node, ts):
    da, db = ew2_partials(node)
    terms = [A.hadamard(t, d) for t, d in zip(ts, (da, db)) if t is not None]
    return A.add(*terms)


def _sum_vjp(node, G):
    a, axis = node.args[0], node.attrs[0]
    if axis is None:
        return (A.scale(G, A.ones(a.shape)),)
    if axis == 1:
        return (A.matmul(A.ones((a.rows, ONE)), G),)
    return (A.matmul(G, A.ones((ONE, a.cols))),)


def _softmax_vjp(node, G):
    z, axis = node.args[0], node.attrs[0]
    return (A.hadamard(node, A.sub(G, _spread(A.sum_(A.hadamard(G, node), axis), z, axis))),)


def _softmax_jvp(node, ts):
    z, axis = node.args[0], node.attrs[0]
    t = ts[0]
    return A.hadamard(node, A.sub(t, _spread(A.sum_(A.hadamard(node, t), axis), z, axis)))


def _log_softmax_vjp(node, G):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return (A.sub(G, A.hadamard(p, _spread(A.sum_(G, axis), z, axis))),)


def _log_softmax_jvp(node, ts):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return A.sub(ts[0], _spread(A.sum_(A.hadamard(p, ts[0]), axis), z, axis))


def _logsumexp_vjp(node, G):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return (A.hadamard(p, _spread(G, z, axis)),)


def _logsumexp_jvp(node, ts):
    z, axis = node.args[0], node.attrs[0]
    p = A.softmax_family("softmax", z, axis)
    return A.sum_(A.hadamard(p, ts[0]), axis)


def _spread(r: Node, z: Node, axis: int) -> Node:
    """Broadcast a per-column row (axis 1) or per-row column (axis 2) back to z's shape."""
    if r.is_scalar:
        return A.scale(r, A.ones(z.shape)) if not z.is_scalar else r
    if axis == 1:
        return A.matmul(A.ones((z.rows, ONE)), r)
    return A.matmul(r, A.ones((ONE, z.cols)))


def _np_sum(node, a):
    axis = node.attrs[0]
    if axis is None:
        return np.sum(a)
    return np.sum(a, axis=axis - 1, keepdims=True)


def _np_lse(z, axis):
    m = np.max(z, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def _np_scale(node, *vals):
    out = float(node.attrs[0])
    for v in vals:
        out = out * v
    return out


def _np_hadamard(node, *vals):
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return out


def _np_pow(node, a):
    p = node.attrs[0]
    if p.denominator == 1:
        return np.power(a, int(p)) if p > 0 else 1.0 / np.power(a, -int(p))
    return np.power(a, float(p))


def _np_matpow(node, a):
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


def _no_vjp(what):
    def rule(node, G):
        raise UnsupportedError(f"differentiating through {what} is not supported yet")
    return rule


def _lin(f):
    """The JVP of a linear op is the op applied to the tangent."""
    def rule(node, ts):
        return None if ts[0] is None else f(node, ts[0])
    return rule


RULES: dict[str, Rule] = {r.op: r for r in [
    Rule("var", "a variable", None, lambda n, G: (), lambda n, ts: None),
    Rule("ones", "𝟏, all entries 1", None, lambda n, G: (), lambda n, ts: None),
    Rule("zero", "0", None, lambda n, G: (), lambda n, ts: None),
    Rule("eye", "I", None, lambda n, G: (), lambda n, ts: None),
    Rule("commutation", "K₍ₘ,ₙ₎ vec(X) = vec(Xᵀ): a constant permutation", None, lambda n, G: (),
         lambda n, ts: None),
    Rule("scale", "c · Π fᵢ · B: the product rule over scalar factors", _np_scale, _scale_vjp, _scale_jvp),
    Rule("add", "d(A + B) = dA + dB: add distributes", lambda n, *v: sum(v[1:], v[0]),
         lambda n, G: tuple(_unbroadcast(a, G) for a in n.args),
         lambda n, ts: A.add(*(t for t in ts if t is not None))),
    Rule("matmul", "d(AB) = dA B + A dB; ∂/∂A = G Bᵀ, ∂/∂B = Aᵀ G: mul switches",
         lambda n, a, b: a @ b,
         lambda n, G: (A.matmul(G, A.transpose(n.args[1])), A.matmul(A.transpose(n.args[0]), G)),
         lambda n, ts: A.add(*([A.matmul(ts[0], n.args[1])] if ts[0] is not None else [])
                             + ([A.matmul(n.args[0], ts[1])] if ts[1] is not None else []))),
    Rule("transpose", "d(Aᵀ) = (dA)ᵀ", lambda n, a: a.T, lambda n, G: (A.transpose(G),),
         _lin(lambda n, t: A.transpose(t))),
    Rule("hadamard", "d(A ∘ B) = dA ∘ B + A ∘ dB", _np_hadamard,
         lambda n, G: tuple(A.hadamard(G, *(b for j, b in enumerate(n.args) if j != i))
                            for i in range(len(n.args))),
         lambda n, ts: A.add(*(A.hadamard(t, *(b for j, b in enumerate(n.args) if j != i))
                               for i, t in enumerate(ts) if t is not None))),
    Rule("pow", "d(A.^p) = p A.^(p-1) ∘ dA", _np_pow,
         lambda n, G: (A.hadamard(G, A.scale(n.attrs[0], A.pow_(n.args[0], n.attrs[0] - 1))),),
         _lin(lambda n, t: A.hadamard(t, A.scale(n.attrs[0], A.pow_(n.args[0], n.attrs[0] - 1))))),
    Rule("matpow", "d(Aᵏ) = Σᵢ Aⁱ dA Aᵏ⁻¹⁻ⁱ", _np_matpow, _matpow_vjp, _matpow_jvp),
    Rule("ew", "d f(Z) = f'(Z) ∘ dZ", None, _ew_vjp, _ew_jvp),
    Rule("ew2", "max routes: d max(A, B) = 𝟙[A > B] ∘ dA + 𝟙[B > A] ∘ dB", None, _ew2_vjp, _ew2_jvp),
    Rule("sum", "d sum(A) = sum(dA); the gradient of sum is 𝟏", _np_sum, _sum_vjp,
         _lin(lambda n, t: A.sum_(t, n.attrs[0]))),
    Rule("trace", "d tr(A) = tr(dA); ∂/∂A = I", lambda n, a: np.trace(a),
         lambda n, G: (A.scale(G, A.eye(n.args[0].rows)),), _lin(lambda n, t: A.trace(t))),
    Rule("det", "d det(A) = det(A) tr(A⁻¹ dA); ∂/∂A = det(A) A⁻ᵀ", lambda n, a: np.linalg.det(a),
         lambda n, G: (A.scale(G, A.scale(n, A.transpose(A.inv(n.args[0])))),),
         _lin(lambda n, t: A.scale(n, A.trace(A.matmul(A.inv(n.args[0]), t))))),
    Rule("logdet", "d log|det A| = tr(A⁻¹ dA); ∂/∂A = A⁻ᵀ", lambda n, a: np.linalg.slogdet(a)[1],
         lambda n, G: (A.scale(G, A.transpose(A.inv(n.args[0]))),),
         _lin(lambda n, t: A.trace(A.matmul(A.inv(n.args[0]), t)))),
    Rule("inv", "d(A⁻¹) = -A⁻¹ dA A⁻¹", lambda n, a: np.linalg.inv(a),
         lambda n, G: (A.neg(A.matmul(A.matmul(A.transpose(n), G), A.transpose(n))),),
         _lin(lambda n, t: A.neg(A.matmul(A.matmul(n, t), n)))),
    Rule("norm", "d‖A‖ = ⟨A, dA⟩ / ‖A‖", lambda n, a: np.linalg.norm(a),
         lambda n, G: (A.scale(G, A.scale(A.pow_(n, -1), n.args[0])),),
         _lin(lambda n, t: A.scale(A.pow_(n, -1), _inner(n.args[0], t)))),
    Rule("diag", "diag(v): d diag(v) = diag(dv)", lambda n, v: np.diagflat(v),
         lambda n, G: (A.diag(G),), _lin(lambda n, t: A.diag(t))),
    Rule("diagpart", "diag(A) as a vector: linear", lambda n, a: np.diag(a).reshape(-1, 1).copy(),
         lambda n, G: (A.diag(G),), _lin(lambda n, t: A.diag(t))),
    Rule("softmax", "d p = p ∘ (dz - 𝟏 pᵀdz), p = softmax(z)",
         lambda n, z: np.exp(z - _np_lse(z, n.attrs[0] - 1)), _softmax_vjp, _softmax_jvp),
    Rule("log_softmax", "d log_softmax(z) = dz - 𝟏 pᵀdz", lambda n, z: z - _np_lse(z, n.attrs[0] - 1),
         _log_softmax_vjp, _log_softmax_jvp),
    Rule("logsumexp", "d logsumexp(z) = pᵀ dz, p = softmax(z)", lambda n, z: _np_lse(z, n.attrs[0] - 1),
         _logsumexp_vjp, _logsumexp_jvp),
    Rule("kron", "d(A ⊗ B) = dA ⊗ B + A ⊗ dB", lambda n, a, b: np.kron(a, b), _no_vjp("kron"),
         lambda n, ts: A.add(*([A.kron(ts[0], n.args[1])] if ts[0] is not None else [])
                             + ([A.kron(n.args[0], ts[1])] if ts[1] is not None else []))),
    Rule("vec", "vec: stack columns (linear)", lambda n, a: a.reshape(-1, 1, order="F"),
         lambda n, G: (A.unvec(G, n.args[0].shape),), _lin(lambda n, t: A.vec(t))),
    Rule("unvec", "the inverse of vec (linear)", None,
         lambda n, G: (A.vec(G),), _lin(lambda n, t: A.unvec(t, n.shape))),
]}


# ------------------------------------------------------------------ the language's functions
@dataclass(frozen=True)
class Function:
    """A function name of the language: arity and how it builds a node from built arguments."""

    name: str
    arity: tuple[int, int]
    build: Callable[..., Node]
    doc: str


def _axis_arg(a: Node, axis: Node | None) -> int | None:
    if axis is None:
        return None
    if A.is_const(axis) and axis.attrs[0] in (1, 2):
        return int(axis.attrs[0])
    raise UnsupportedError("the axis is the number 1 (down columns) or 2 (across rows)")


def _minmax(name):
    def build(a, b):
        if name == "max" and A.is_const(a, 0):
            return A.ew("relu", b)
        if name == "max" and A.is_const(b, 0):
            return A.ew("relu", a)
        return A.ew2(name, a, b)
    return build


FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    *(Function(n, (1, 1), partial(A.ew, n), e.doc) for n, e in ELEMENTWISE.items()),
    Function("leaky_relu", (2, 2), lambda z, a: A.ew2("leaky_relu", z, a), "z for z > 0, a z below"),
    Function("max", (2, 2), _minmax("max"), "elementwise maximum"),
    Function("min", (2, 2), _minmax("min"), "elementwise minimum"),
    Function("sum", (1, 2), lambda a, axis=None: A.sum_(a, _axis_arg(a, axis)), "sum of entries"),
    Function("tr", (1, 1), A.trace, "trace"),
    Function("trace", (1, 1), A.trace, "trace"),
    Function("det", (1, 1), A.det, "determinant"),
    Function("logdet", (1, 1), A.logdet, "log |det A|"),
    Function("norm", (1, 1), A.norm, "2-norm / Frobenius norm"),
    Function("dot", (2, 2), lambda x, y: A.matmul(A.transpose(x), y), "xᵀy"),
    Function("inv", (1, 1), A.inv, "inverse"),
    Function("diag", (1, 1), A.diag, "vector to diagonal matrix, or the diagonal of a matrix"),
    Function("kron", (2, 2), A.kron, "Kronecker product"),
    Function("vec", (1, 1), A.vec, "stack the columns"),
    Function("softmax", (1, 2), lambda z, axis=None: A.softmax_family("softmax", z, _axis_arg(z, axis) or 1),
             "softmax down each column"),
    Function("log_softmax", (1, 2),
             lambda z, axis=None: A.softmax_family("log_softmax", z, _axis_arg(z, axis) or 1), "log of softmax"),
    Function("logsumexp", (1, 2),
             lambda z, axis=None: A.softmax_family("logsumexp", z, _axis_arg(z, axis) or 1), "log Σ exp"),
]}

# Names that take dimensions rather than expressions, and reserved words that are not calls.
DIMENSION_FUNCTIONS = ("eye", "ones", "commutation")
RESERVED = set(FUNCTIONS) | set(DIMENSION_FUNCTIONS) | {"transpose", "hadamard"}
