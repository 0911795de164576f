"""The elementwise functions: one entry each (f, f′, code, printed names, domain and kinks).

``ELEMENTWISE`` holds the unary functions of the ``ew`` family and ``BINARY`` the binary ones
of the ``ew2`` family.  Most entries are ``defelementwise(name, doc, f, f′, code)``: every stage
(parser, shapes, evaluation, sampling, printers, codegen, SymPy, pictures) reads them from here.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import Node
from matcalc.core.rules.erf import ERF_CODE
from matcalc.core.rules.erf import erf as vectorised_erf
from matcalc.core.rules.matrix_calculus import unbroadcast
from matcalc.core.rules.table import Binary, Elementwise, Kinks, defelementwise, with_context
from matcalc.core.rules.tanh import LARGE as TANH_LARGE
from matcalc.core.rules.tanh import TANH_CODE

AT_ZERO = Kinks((0.0,))


def _sigmoid(z):
    """1 / (1 + e⁻ᶻ) without underflow: 0.5 (1 + tanh(z/2)) is exactly 0 below z ≈ −37."""
    e = np.exp(-np.abs(z))
    return np.where(np.asarray(z) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


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


SIGMOID_CODE = '''def _sigmoid(z):
    """σ(z) = (1 + tanh(z/2)) / 2 (one tanh); below z = -8, where 1 + tanh(z/2) cancels σ's
    digits away (and is exactly 0 below z ≈ -37), exp(z) / (1 + exp(z)) instead: σ is never 0
    before exp(z) itself underflows.  The fix-up costs one min() when no entry is that low."""
    if np.ndim(z) == 0:
        return np.exp(-np.logaddexp(0.0, -z))
    s = np.tanh(0.5 * z)
    s += 1.0
    s *= 0.5
    if z.size and z.min() < -8.0:
        low = z < -8.0
        e = np.exp(z[low])
        s[low] = e / (1.0 + e)
    return s'''

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _erf(z):
    """erf entrywise, vectorised (``rules.erf``: NumPy has no erf, SciPy is not a dependency)."""
    return vectorised_erf(z)


def _erf1(z):
    return 2.0 / math.sqrt(math.pi) * np.exp(-np.square(z))


def _gelu(z):
    """z Φ(z), Φ the standard normal CDF (exact GELU, not the tanh approximation)."""
    return z * 0.5 * (1.0 + _erf(z * _SQRT1_2))


def _gelu1(z):
    """gelu'(z) = Φ(z) + z φ(z)."""
    return 0.5 * (1.0 + _erf(z * _SQRT1_2)) + z * _INV_SQRT_2PI * np.exp(-0.5 * np.square(z))


def _gelu2(z):
    """gelu''(z) = φ(z) (2 − z²)."""
    return _INV_SQRT_2PI * np.exp(-0.5 * np.square(z)) * (2.0 - np.square(z))


def _gelu3(z):
    """The third derivative of gelu: φ(z) z (z² − 4)."""
    return _INV_SQRT_2PI * np.exp(-0.5 * np.square(z)) * z * (np.square(z) - 4.0)


def _primitive_orders(name: str, last: int, symbolic: Callable | None = None):
    """Derivative orders kept as primitives up to ``last``; the next one ``symbolic(z, out)`` if
    given (erf'' = −2 z erf'), else not supported."""
    def d(z, out, k):
        if k + 1 <= last:
            return A.ew(name, z, k + 1)
        if symbolic is not None and k == last:
            return symbolic(z, out)
        raise UnsupportedError(f"derivative of order {k + 1} of {name}")
    return d


def _inv_sqrt_one_minus_sq(z: Node) -> Node:
    """1/√(1 − z²), the slope of asin."""
    return A.pow_(A.ew("sqrt", A.sub(A.ones(z.shape), A.pow_(z, 2))), -1)


UNIT_POLES = Kinks((-1.0, 1.0), margin=0.05)       # asin, acos: infinite slope at ±1, undefined beyond

ELEMENTWISE: dict[str, Elementwise] = {e.name: e for e in [
    defelementwise("exp", "exp' = exp", np.exp, lambda z, out: out, "np.exp({0})", "torch.exp({0})", "jnp.exp({0})", domain="bounded",
                   latex=r"\exp"),
    defelementwise("log", "log'(z) = 1/z", np.log, lambda z, out: A.pow_(z, -1), "np.log({0})", "torch.log({0})", "jnp.log({0})",
                   domain="positive", latex=r"\log"),
    defelementwise("sqrt", "sqrt'(z) = 1/(2 sqrt(z))", np.sqrt,
                   lambda z, out: A.scale(Fraction(1, 2), A.pow_(out, -1)), "np.sqrt({0})", "torch.sqrt({0})", "jnp.sqrt({0})", domain="positive",
                   latex=r"\sqrt"),
    defelementwise("sin", "sin' = cos", np.sin, lambda z, out: A.ew("cos", z), "np.sin({0})", "torch.sin({0})", "jnp.sin({0})", latex=r"\sin"),
    defelementwise("cos", "cos' = -sin", np.cos, lambda z, out: A.neg(A.ew("sin", z)), "np.cos({0})", "torch.cos({0})", "jnp.cos({0})",
                   latex=r"\cos"),
    defelementwise("tan", "tan' = 1 + tan²", np.tan, lambda z, out: A.add(A.ones(z.shape), A.pow_(out, 2)),
                   "np.tan({0})", "torch.tan({0})", "jnp.tan({0})", latex=r"\tan", kinks=Kinks((np.pi / 2,), period=np.pi, margin=0.05)),  # poles
    defelementwise("asin", "asin'(z) = 1/√(1 − z²), for |z| < 1", np.arcsin, lambda z, out: _inv_sqrt_one_minus_sq(z),
                   "np.arcsin({0})", "torch.asin({0})", "jnp.arcsin({0})", domain="unit", latex=r"\arcsin", kinks=UNIT_POLES, aliases=("arcsin",)),
    defelementwise("acos", "acos'(z) = −1/√(1 − z²), for |z| < 1", np.arccos,
                   lambda z, out: A.neg(_inv_sqrt_one_minus_sq(z)), "np.arccos({0})", "torch.acos({0})", "jnp.arccos({0})", domain="unit",
                   latex=r"\arccos", kinks=UNIT_POLES, aliases=("arccos",)),
    defelementwise("atan", "atan'(z) = 1/(1 + z²)", np.arctan,
                   lambda z, out: A.pow_(A.add(A.ones(z.shape), A.pow_(z, 2)), -1), "np.arctan({0})", "torch.atan({0})", "jnp.arctan({0})",
                   latex=r"\arctan", aliases=("arctan",)),
    defelementwise("sinh", "sinh' = cosh", np.sinh, lambda z, out: A.ew("cosh", z), "np.sinh({0})", "torch.sinh({0})", "jnp.sinh({0})", domain="bounded",
                   latex=r"\sinh"),
    defelementwise("cosh", "cosh' = sinh", np.cosh, lambda z, out: A.ew("sinh", z), "np.cosh({0})", "torch.cosh({0})", "jnp.cosh({0})", domain="bounded",
                   latex=r"\cosh"),
    defelementwise("log1p", "log1p(z) = log(1 + z), log1p'(z) = 1/(1 + z), for z > −1", np.log1p,
                   lambda z, out: A.pow_(A.add(A.ones(z.shape), z), -1), "np.log1p({0})", "torch.log1p({0})", "jnp.log1p({0})", domain="positive",
                   latex=r"\operatorname{log1p}", kinks=Kinks((-1.0,), margin=0.05)),   # a pole at −1
    defelementwise("expm1", "expm1(z) = exp(z) − 1, expm1' = exp", np.expm1, lambda z, out: A.ew("exp", z),
                   "np.expm1({0})", "torch.expm1({0})", "jnp.expm1({0})", domain="bounded", latex=r"\operatorname{expm1}"),
    defelementwise("sign", "sign'(z) = 0 away from 0 (a jump at 0)", np.sign, lambda z, out: A.zero(z.shape),
                   "np.sign({0})", "torch.sign({0})", "jnp.sign({0})", kinks=AT_ZERO, latex=r"\operatorname{sign}"),
    Elementwise("erf", "erf'(z) = 2 exp(−z²)/√π, erf'' = −2 z erf'", (_erf, _erf1),
                _primitive_orders("erf", 1, lambda z, out: A.scale(-2, A.hadamard(z, out))),
                latex=r"\operatorname{erf}", code=("_erf({0})", "_erf1({0})"), helpers=("_erf",), closed=True,
                torch=("torch.special.erf({0})", "(1.1283791670955126 * torch.exp(-torch.square({0})))"),
                jax=("jax.scipy.special.erf({0})", "(1.1283791670955126 * jnp.exp(-jnp.square({0})))")),
    Elementwise("gelu", "gelu(z) = z Φ(z) (exact); gelu' = Φ + z φ, gelu'' = φ (2 − z²)",
                (_gelu, _gelu1, _gelu2, _gelu3), _primitive_orders("gelu", 3), latex=r"\operatorname{GELU}",
                code=("_gelu({0}, 0)", "_gelu({0}, 1)", "_gelu({0}, 2)", "_gelu({0}, 3)"), helpers=("_erf", "_gelu"), closed=True,
                torch=("_gelu({0}, 0)", "_gelu({0}, 1)", "_gelu({0}, 2)", "_gelu({0}, 3)"),
                jax=("_gelu({0}, 0)", "_gelu({0}, 1)", "_gelu({0}, 2)", "_gelu({0}, 3)")),
    defelementwise("silu", "silu(z) = z σ(z); silu' = σ (1 + z (1 − σ))", lambda z: z * _sigmoid(z),
                   lambda z, out: A.hadamard(A.ew("sigmoid", z),
                                             A.add(A.ones(z.shape), A.hadamard(z, A.sub(A.ones(z.shape),
                                                                                     A.ew("sigmoid", z))))),
                   "_silu({0})", "torch.nn.functional.silu({0})", "jax.nn.silu({0})", helpers=("_sigmoid", "_silu"), latex=r"\operatorname{SiLU}"),
    defelementwise("tanh", "tanh' = 1 - tanh²", np.tanh, lambda z, out: A.sub(A.ones(z.shape), A.pow_(out, 2)),
                   "np.tanh({0})", "torch.tanh({0})", "jnp.tanh({0})", latex=r"\tanh",
                   large=("_tanh({0})", "_tanh", TANH_LARGE)),
    defelementwise("sigmoid", "σ' = σ (1 - σ)", _sigmoid, lambda z, out: A.hadamard(out, A.sub(A.ones(z.shape), out)),
                   "_sigmoid({0})", "torch.sigmoid({0})", "jax.nn.sigmoid({0})", helpers=("_sigmoid",), latex=r"\sigma", unicode="σ"),   # no overflow, no underflow
    Elementwise("relu", "relu'(z) = 𝟙[z > 0], the unit step", (lambda z: np.maximum(z, 0.0),
                lambda z: (z > 0).astype(float)), _d_primitive("relu", 1), latex=r"\operatorname{relu}",
                code=("np.maximum({0}, 0.0)", "({0} > 0).astype(DTYPE)"), kinks=AT_ZERO, closed=True,
                torch=("torch.relu({0})", "({0} > 0).to(DTYPE)"), jax=("jnp.maximum({0}, 0.0)", "({0} > 0).astype(DTYPE)"),
                forms={1: ("𝟙[{0} > 0]", r"\mathbb{{1}}\left[{0} > 0\right]")}),
    Elementwise("abs", "|z|' = sign(z)", (np.abs, np.sign),
                lambda z, out, k: A.ew("sign", z) if k == 0 else A.zero(z.shape),
                code=("np.abs({0})", "np.sign({0})"), kinks=AT_ZERO, closed=True,
                torch=("torch.abs({0})", "torch.sign({0})"), jax=("jnp.abs({0})", "jnp.sign({0})"),
                forms={0: ("|{0}|", r"\left\lvert {0} \right\rvert"),
                       1: ("sign({0})", r"\operatorname{{sign}}\left({0}\right)")}),
    Elementwise("hardtanh", "hardtanh'(z) = 𝟙[|z| < 1]", (lambda z: np.clip(z, -1.0, 1.0),
                lambda z: (np.abs(z) < 1).astype(float)), _d_primitive("hardtanh", 1),
                latex=r"\operatorname{hardtanh}", code=("np.clip({0}, -1.0, 1.0)", "(np.abs({0}) < 1).astype(DTYPE)"),
                torch=("torch.clamp({0}, -1.0, 1.0)", "(torch.abs({0}) < 1).to(DTYPE)"),
                jax=("jnp.clip({0}, -1.0, 1.0)", "(jnp.abs({0}) < 1).astype(DTYPE)"),
                kinks=Kinks((-1.0, 1.0)), closed=True),
    Elementwise("elu", "elu'(z) = 1 for z > 0, exp(z) below",
                (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))), _elu1, _elu2),
                lambda z, out, k: A.ew("elu", z, min(k + 1, 2)), latex=r"\operatorname{elu}",
                code=("np.where({0} > 0, {0}, np.expm1(np.minimum({0}, 0.0)))",
                      "np.where({0} > 0, 1.0, np.exp(np.minimum({0}, 0.0)))",
                      "np.where({0} > 0, 0.0, np.exp(np.minimum({0}, 0.0)))"), kinks=AT_ZERO, closed=True,
                torch=("torch.where({0} > 0, {0}, torch.expm1(torch.clamp({0}, max=0.0)))",
                       "torch.where({0} > 0, 1.0, torch.exp(torch.clamp({0}, max=0.0)))",
                       "torch.where({0} > 0, 0.0, torch.exp(torch.clamp({0}, max=0.0)))"),
                jax=("jnp.where({0} > 0, {0}, jnp.expm1(jnp.minimum({0}, 0.0)))",
                     "jnp.where({0} > 0, 1.0, jnp.exp(jnp.minimum({0}, 0.0)))",
                     "jnp.where({0} > 0, 0.0, jnp.exp(jnp.minimum({0}, 0.0)))")),
    defelementwise("softplus", "softplus' = σ", lambda z: np.logaddexp(0.0, z), lambda z, out: A.ew("sigmoid", z),
                   "np.logaddexp(0.0, {0})", "torch.nn.functional.softplus({0})", "jnp.logaddexp(0.0, {0})", latex=r"\operatorname{softplus}"),
]}
GELU_CODE = '''def _gelu(z, order):
    """Exact GELU z Φ(z) (order 0), Φ + z φ (1), φ (2 - z²) (2); Φ, φ the normal CDF and density."""
    phi = 0.3989422804014327 * np.exp(-0.5 * (z * z))
    if order == 2:
        return phi * (2.0 - z * z)
    if order == 3:
        return phi * z * (z * z - 4.0)
    cdf = 0.5 * (1.0 + _erf(z * 0.7071067811865476))
    return z * cdf if order == 0 else cdf + z * phi'''

SILU_CODE = '''def _silu(z):
    """z σ(z), σ without overflow."""
    return z * _sigmoid(z)'''

CODE_HELPERS = {"_sigmoid": SIGMOID_CODE, "_erf": ERF_CODE, "_gelu": GELU_CODE, "_silu": SILU_CODE, "_tanh": TANH_CODE}


# ------------------------------------------------------------------ binary: max, min, leaky_relu
def _max_partials(a: Node, b: Node, order: int, node: Node):
    if order == 0:
        return A.step(A.sub(a, b)), A.step(A.sub(b, a))
    raise UnsupportedError(f"derivative of max{chr(39) * order}")


def _min_partials(a: Node, b: Node, order: int, node: Node):
    if order == 0:
        return A.step(A.sub(b, a)), A.step(A.sub(a, b))
    raise UnsupportedError(f"derivative of min{chr(39) * order}")


def _leaky_partials(a: Node, b: Node, order: int, node: Node):
    if order == 0:
        return A.ew2("leaky_relu", a, b, 1), A.ew2("min", a, A.const(0))
    if order == 1:
        return A.zero(node.shape), A.step(A.neg(a))
    raise UnsupportedError(f"derivative of leaky_relu{chr(39) * order}")


def _minmax(name):
    def build(a, b):
        if name == "max" and A.is_const(a, 0):
            return A.ew("relu", b)
        if name == "max" and A.is_const(b, 0):
            return A.ew("relu", a)
        return A.ew2(name, a, b)
    return build


def _leaky_prime(args, k, slope):
    """leaky_relu^(k)(z, a): the partial by z, k times."""
    node = A.ew2("leaky_relu", args[0], args[1], 0)
    for _ in range(k):
        node = BINARY["leaky_relu"].partials(*node.args, node.attrs[1], node)[0]
    return node


def _between(n: Node):
    return [(n.args[0], n.args[1], AT_ZERO)]


def _first(n: Node):
    return [(n.args[0], None, AT_ZERO)]


_TORCH_ARG = "torch.as_tensor({{{}}}, dtype=DTYPE, device=DEVICE)"    # torch.maximum takes no Python number
BINARY: dict[str, Binary] = {b.name: b for b in [
    Binary("leaky_relu", "z for z > 0, a z below",
           (lambda a, b: np.where(a > 0, a, b * a), lambda a, b: np.where(a > 0, 1.0, b * np.ones_like(a))),
           _leaky_partials, ("np.where({a} > 0, {a}, {b_} * {a_})", "np.where({a} > 0, 1.0, {b})"),
           _first, build=lambda z, a: A.ew2("leaky_relu", z, a), prime=_leaky_prime,
           torch=("torch.where({a} > 0, {a}, {b_} * {a_})", "torch.where({a} > 0, 1.0, {b})"),
           jax=("jnp.where({a} > 0, {a}, {b_} * {a_})", "jnp.where({a} > 0, 1.0, {b})")),
    Binary("max", "elementwise maximum", (np.maximum,), _max_partials, ("np.maximum({a}, {b})",), _between,
           broadcast=True, build=_minmax("max"), torch=(f"torch.maximum({_TORCH_ARG.format('a')}, {_TORCH_ARG.format('b')})",), jax=("jnp.maximum({a}, {b})",)),
    Binary("min", "elementwise minimum", (np.minimum,), _min_partials, ("np.minimum({a}, {b})",), _between,
           broadcast=True, build=_minmax("min"), torch=(f"torch.minimum({_TORCH_ARG.format('a')}, {_TORCH_ARG.format('b')})",), jax=("jnp.minimum({a}, {b})",)),
]}


# ------------------------------------------------------------------ the families' rules, read off the entries
def elementwise_derivative(name: str, z: Node, out: Node, order: int) -> Node:
    """d/dz of the order-th derivative of ``name`` at ``z``, ``out`` being that node itself."""
    spec = ELEMENTWISE.get(name)
    if spec is None:
        return A.ew(name, z, order + 1)             # a generic f: f', f'', ...
    if order == 0 or spec.closed:
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


def ew2_partials(node: Node) -> tuple[Node, Node]:
    """∂out/∂a and ∂out/∂b of a binary elementwise node, elementwise."""
    name, order = node.attrs
    return BINARY[name].partials(node.args[0], node.args[1], order, node)


def ew_vjp(node, G):
    return (A.hadamard(G, elementwise_derivative(node.attrs[0], node.args[0], node, node.attrs[1])),)


def ew_jvp(node, ts):
    return A.hadamard(ts[0], elementwise_derivative(node.attrs[0], node.args[0], node, node.attrs[1]))


def ew2_vjp(node, G):
    da, db = ew2_partials(node)
    a, b = node.args
    return (unbroadcast(a, A.hadamard(G, da)), unbroadcast(b, A.hadamard(G, db)))


def ew2_jvp(node, ts):
    da, db = ew2_partials(node)
    return A.add(*(A.hadamard(t, d) for t, d in zip(ts, (da, db)) if t is not None))


@with_context
def ew_numpy_node(node, ctx, a):
    return ew_numpy(node.attrs[0], node.attrs[1], ctx.functions)(a)


def ew2_numpy_node(node, a, b):
    fs = BINARY[node.attrs[0]].numpy
    return fs[min(node.attrs[1], len(fs) - 1)](a, b)


def ew_kinks(node: Node) -> list:
    spec = ELEMENTWISE.get(node.attrs[0])
    return [(node.args[0], None, spec.kinks)] if spec is not None and spec.kinks is not None else []


def ew2_kinks(node: Node) -> list:
    return BINARY[node.attrs[0]].kinks(node)


def ew_prime(name: str):
    """f^(k)(z) written by the user: the table's derivative, expanded (tanh' = 1 - tanh²)."""
    def prime(args, k, slope):
        z = args[0]
        node = A.ew(name, z)
        for _ in range(k):
            if node.op == "ew" and node.args[0] is z:
                node = elementwise_derivative(node.attrs[0], z, node, node.attrs[1])
            else:
                node = slope(node, z)
        return node
    return prime


def function_label(node: Node) -> str:
    """The picture's label of an ``ew``/``ew2`` node: the function's Unicode name, primed."""
    name, order = node.attrs
    spec = ELEMENTWISE.get(name)
    return (spec.label if spec is not None else name) + "'" * order
