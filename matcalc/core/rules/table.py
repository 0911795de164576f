"""The record types of the rule table and the structure helpers that fill most of their fields.

A ``Primitive`` is one graph operation with everything each stage needs: its math (``doc``), its
NumPy forward, its reverse rule (``vjp(node, G)``: one contribution per argument, ``None`` for a
constant one) and forward rule (``jvp(node, tangents)``), how the smart constructors rebuild it
from new arguments, its language spellings (aliases, arity, shape rule, builder), its printed
forms, its generated-code template, its SymPy form, where sampling must keep away from (kinks),
its picture label and the lecture's gate sentence.  ``Elementwise`` and ``Binary`` records are
the functions of the ``ew`` and ``ew2`` families (tanh, relu, max, ...), so that adding one is
one entry too.

As in JAX's ``ad.py``, a primitive's structure gives rules for free: ``deflinear`` needs only
the transpose rule (the JVP applies the op to the tangent), ``defbilinear`` a left and a right
rule, ``defelementwise`` only f′.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from matcalc.core import algebra as A
from matcalc.core.graph import ONE, Node

Vjp = Callable[[Node, Node], tuple]
Jvp = Callable[[Node, tuple], "Node | None"]

# precedence of printed forms: sums bind loosest, then products, negation, powers, atoms
SUM, PROD, NEG, POW, ATOM = 0, 1, 2, 3, 4
STRUCTURES = ("leaf", "linear", "bilinear", "elementwise", "other")


# ------------------------------------------------------------------ printed forms
@dataclass(frozen=True)
class Form:
    """One style's form: ``name(args)`` when ``call`` (LaTeX wraps ``\\operatorname``), else a
    ``str.format`` template over the printed arguments; ``prec`` is the result's precedence and
    ``arg`` the context each argument is printed in (one per argument when a tuple: LaTeX's
    exponent in braces needs no parentheses, ``x^{\\lambda - 1}``)."""

    template: str
    call: bool = False
    prec: int = ATOM
    arg: int | tuple[int, ...] = SUM

    def arg_context(self, i: int) -> int:
        return self.arg[i] if isinstance(self.arg, tuple) else self.arg


@dataclass(frozen=True)
class Printed:
    """The Unicode, LaTeX and text forms of a primitive; ``extra(node)``: further call
    arguments (an axis)."""

    unicode: Form
    latex: Form
    text: Form
    extra: Callable[[Node], tuple[str, ...]] | None = None


def called(name: str, latex: str | None = None, extra=None) -> Printed:
    """Printed as ``name(args)`` in every style (``latex``: the LaTeX name, e.g. ``\\det``)."""
    f = Form(name, call=True)
    return Printed(f, Form(latex or name, call=True), f, extra)


def shaped(unicode: str, latex: str, text: Form | None = None, prec: int = ATOM, arg: int = SUM) -> Printed:
    """Printed from templates (``text`` defaults to the Unicode template)."""
    u = Form(unicode, prec=prec, arg=arg)
    return Printed(u, Form(latex, prec=prec, arg=arg), text or u)


# ------------------------------------------------------------------ generated code
@dataclass(frozen=True)
class CodeForm:
    """The code templates for the emitter, one per target (``template`` NumPy's, ``torch``,
    ``jax``): ``{x}``/``{y}`` the arguments (full shape), ``{x_}`` the first wrapped as an atom,
    ``{k}`` the first attribute, ``{axis}`` it counted from 0, ``{shape}`` the node's shape
    (``{shape_t}`` transposed); ``alias``: the result is a view (of what kind), ``helpers``: the
    module-level helpers (``CODE_HELPERS``, ``TARGET_HELPERS``) it calls."""

    template: str
    alias: str | None = None
    helpers: tuple[str, ...] = ()
    torch: str | None = None
    jax: str | None = None

    def text(self, target: str) -> str | None:
        """The template for ``target`` (``"numpy"``, ``"torch"``, ``"jax"``); None: none written."""
        return {"numpy": self.template, "torch": self.torch, "jax": self.jax}[target]


# ------------------------------------------------------------------ sampling
@dataclass(frozen=True)
class Kinks:
    """Where a derivative jumps or blows up: ``points`` (repeated every ``period`` if given);
    numeric checks keep the argument ``margin`` away from each."""

    points: tuple[float, ...]
    period: float | None = None
    margin: float = 1e-3


# ------------------------------------------------------------------ language spellings
@dataclass(frozen=True)
class Function:
    """A function name of the language: arity, shape rule, builder, and whether ``f'`` exists.

    ``shape(inf, call)`` reads the inference object (``find``, ``unify``, ``is_scalar``,
    ``elementwise``, ``clash``) and the call (``name``, ``args``: argument shapes, ``node``,
    ``axis``); ``prime(args, k, slope)`` builds the k-th derivative (``slope(expr, z)`` is
    d expr/dz for an expression elementwise in z); ``axis``: takes an optional axis 1 or 2."""

    name: str
    arity: tuple[int, int]
    build: Callable[..., Node]
    doc: str
    shape: Callable
    prime: Callable | None = None
    axis: bool = False


# ------------------------------------------------------------------ the records
@dataclass(frozen=True)
class Primitive:
    """One graph operation (the first five fields positional, as autograd's ``defvjp``)."""

    op: str
    doc: str
    numpy: Callable | None
    vjp: Vjp
    jvp: Jvp
    structure: str = "other"
    rebuild: Callable[[Node, list], Node] | None = None
    aliases: tuple[str, ...] = ()      # the language's names for it
    arity: tuple[int, int] = (1, 1)
    build: Callable[..., Node] | None = None
    shape: Callable | None = None
    axis: bool = False
    dims: bool = False                 # the language arguments are dimensions (eye(n), ones(m, n))
    indexed: bool = False              # with dims: the first argument is an index (unit(o, n))
    printed: Printed | None = None     # None: the printer lays it out itself (sums, products, ...)
    code: CodeForm | None = None       # None: the emitter writes it itself (products, broadcasts)
    sympy: Callable | None = None      # sympy(node, args) -> a SymPy expression
    kinks: Callable[[Node], list] | None = None
    picture: str | Callable[[Node], str] = ""   # the graph picture's label
    gate: str = ""
    constant: bool = False             # a leaf whose value does not depend on the inputs (ones, I, K)
    terms: bool = False                # the arguments are the terms of a sum (stages split it into them)
    domain: str = "real"               # "invertible": numeric checks keep the argument well conditioned;
                                       # "positive": they keep the first argument positive

    @property
    def name(self) -> str:
        return self.op

    @property
    def context(self) -> bool:
        """Whether the forward reads the evaluation context: ``numpy(node, ctx, *values)``."""
        return getattr(self.numpy, "context", False)


@dataclass(frozen=True)
class Elementwise:
    """An elementwise function f of the ``ew`` family: NumPy per derivative order, d/dz of order
    k, code template per order, printed names, sampling domain and kinks."""

    name: str
    doc: str
    numpy: tuple[Callable, ...]                    # f, f', ... as far as they stay primitive
    deriv: Callable[[Node, Node, int], Node]       # (z, out, order) -> d out / d z
    domain: str = "real"                           # where tests sample: real, positive, bounded, unit (|z| < 1)
    latex: str = ""                                # LaTeX name (\tanh), else \operatorname{name}
    code: tuple[str, ...] = ()                     # NumPy template per order, "{0}" the argument
    helpers: tuple[str, ...] = ()
    kinks: Kinks | None = None
    closed: bool = False                           # every derivative order is a table primitive
    unicode: str = ""                              # the Unicode name (σ), else name
    forms: dict = field(default_factory=dict)      # order -> (unicode, latex) template for non-text styles
    aliases: tuple[str, ...] = ()                  # other spellings the language accepts (arcsin for asin)
    torch: tuple[str, ...] = ()                    # the torch template per order
    jax: tuple[str, ...] = ()                      # the JAX template per order
    # (template, helper, entries): NumPy code for f itself where the shapes declare at least that
    # many entries, a module helper that beats ``code`` there (tanh: NumPy's float64 one is scalar)
    large: tuple[str, str, int] | None = None

    @property
    def label(self) -> str:
        return self.unicode or self.name

    def codes(self, target: str) -> tuple[str, ...]:
        """The code templates per order for ``target``."""
        return {"numpy": self.code, "torch": self.torch, "jax": self.jax}[target]


@dataclass(frozen=True)
class Binary:
    """A binary elementwise function of the ``ew2`` family (max, min, leaky_relu); scalar
    operands broadcast.  ``partials(a, b, order, node)`` is (∂/∂a, ∂/∂b), elementwise."""

    name: str
    doc: str
    numpy: tuple[Callable, ...]
    partials: Callable
    code: tuple[str, ...]               # templates over {a}, {b} (and {a_}, {b_} wrapped for a product)
    kinks: Callable[[Node], list] | None = None
    broadcast: bool = False             # the result has a full shape only where an operand has
    build: Callable | None = None
    prime: Callable | None = None
    torch: tuple[str, ...] = ()         # the torch templates per order
    jax: tuple[str, ...] = ()           # the JAX templates per order

    def codes(self, target: str) -> tuple[str, ...]:
        """The code templates per order for ``target``."""
        return {"numpy": self.code, "torch": self.torch, "jax": self.jax}[target]


# ------------------------------------------------------------------ structure helpers
def with_context(numpy: Callable) -> Callable:
    """Mark a forward that reads the evaluation context (``ctx.size(d)``, ``ctx.env``,
    ``ctx.functions``): it is called as ``numpy(node, ctx, *values)``."""
    numpy.context = True
    return numpy


def _no_tangent(node, ts):
    return None


def defleaf(op: str, doc: str, numpy, constant: bool = True, **fields) -> Primitive:
    """A leaf: no arguments, nothing to differentiate (``constant=False``: a variable)."""
    return Primitive(op, doc, with_context(numpy), lambda n, G: (), _no_tangent, structure="leaf",
                     constant=constant, **fields)


def deflinear(op: str, doc: str, numpy, transpose: Callable[[Node, Node], Node],
              rebuild: Callable[[Node, list], Node], **fields) -> Primitive:
    """A linear op: the VJP is its transpose ``transpose(node, G)``, the JVP the op itself
    applied to the tangent."""
    def jvp(n, ts):
        return None if ts[0] is None else rebuild(n, [ts[0]])
    return Primitive(op, doc, numpy, lambda n, G: (transpose(n, G),), jvp, structure="linear",
                     rebuild=rebuild, **fields)


def defbilinear(op: str, doc: str, numpy, left: Callable, right: Callable,
                rebuild: Callable[[Node, list], Node], vjp: Vjp | None = None, **fields) -> Primitive:
    """A bilinear op f(a, b): ``left(node, G)`` and ``right(node, G)`` are the contributions to a
    and b; the JVP is f(da, b) + f(a, db).  ``vjp`` overrides (a rule not supported yet)."""
    def jvp(n, ts):
        a, b = n.args
        terms = ([rebuild(n, [ts[0], b])] if ts[0] is not None else []) + \
                ([rebuild(n, [a, ts[1]])] if ts[1] is not None else [])
        return A.add(*terms)
    return Primitive(op, doc, numpy, vjp or (lambda n, G: (left(n, G), right(n, G))), jvp,
                     structure="bilinear", rebuild=rebuild, **fields)


def defelementwise(name: str, doc: str, numpy: Callable, derivative: Callable[[Node, Node], Node],
                   code: str, torch: str, jax: str, **fields) -> Elementwise:
    """An elementwise function given by f (NumPy, and its code per target: NumPy, torch, JAX) and
    f′ (``derivative(z, out)``, symbolic; ``out`` is f(z) itself, so tanh′ can reuse it)."""
    return Elementwise(name, doc, (numpy,), lambda z, out, k: derivative(z, out), code=(code,), torch=(torch,),
                       jax=(jax,), **fields)


# ------------------------------------------------------------------ shape rules (inference)
def same_shape(inf, call):
    """f(A) has A's shape."""
    return call.args[0]


def scalar_shape(inf, call):
    return (ONE, ONE)


def square_to(result: str):
    """A square matrix in, a scalar (``result="scalar"``) or the same shape out."""
    def shape(inf, call):
        a = call.args[0]
        if not inf.is_scalar(a) and (inf.find(a[1]) == ONE or not inf.unify(a[0], a[1])):
            inf.clash(call.node, f"{call.name} needs a square matrix", call.node.args[:1])
        return a if result == "same" else (ONE, ONE)
    return shape


def reduce_shape(whole: str):
    """sum and logsumexp: all entries (``whole="scalar"``) or along an axis."""
    def shape(inf, call):
        a = call.args[0]
        if call.axis is None:
            if whole == "scalar" or inf.find(a[1]) == ONE:
                return (ONE, ONE)
            return (ONE, a[1])
        return (ONE, a[1]) if call.axis == 1 else (a[0], ONE)
    return shape


def binary_shape(inf, call):
    """Elementwise in two arguments, a scalar broadcasting."""
    return inf.elementwise(call.node, call.args[0], call.args[1], call.node.args)
