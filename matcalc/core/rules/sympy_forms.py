"""SymPy builders of the rule table: each primitive as a SymPy matrix expression, unevaluated.

Built with SymPy's own constructors (``MatMul``, ``MatAdd``, ``Transpose``, ``Inverse``,
``HadamardProduct``, ``Trace``, ``Determinant``) so SymPy neither reorders nor re-derives
anything; a primitive SymPy has no matrix form of becomes an ``Applied`` matrix expression that
prints as ``f(arg)`` (``applied``, the default of every entry without a builder).
"""
from __future__ import annotations

import functools

from matcalc.core import algebra as A
from matcalc.core.dims import Dim
from matcalc.core.graph import Node
from matcalc.core.optional import lazy_module

sympy = lazy_module("sympy")        # imported when a SymPy form is first asked for, not before


@functools.cache
def applied_class() -> type:
    """``Applied``, f(arg) for a primitive SymPy has no matrix form of (elementwise functions,
    softmax, ...): a ``MatrixExpr`` subclass, so it is defined when SymPy is first needed."""
    class Applied(sympy.MatrixExpr):
        """f(arg) for a primitive SymPy has no matrix form of (elementwise functions, softmax, ...)."""

        def __new__(cls, name, rows, cols, *args):
            name = name if isinstance(name, sympy.Symbol) else sympy.Symbol(name)     # doit() rebuilds with a Symbol
            return super().__new__(cls, name, sympy.sympify(rows), sympy.sympify(cols), *args)

        @property
        def shape(self):
            return (self.args[1], self.args[2])

        def _sympystr(self, printer):
            return f"{self.args[0]}({', '.join(printer.doprint(a) for a in self.args[3:])})"
    Applied.__qualname__ = "Applied"          # pickle finds it as sympy_forms.Applied (``__getattr__``)
    return Applied


def __getattr__(name: str):
    if name == "Applied":            # ``from ... import Applied`` works, and imports SymPy then
        return applied_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sympy_dim(d: Dim):
    """A dimension as SymPy sees it: positive integer symbols, sums and products of them."""
    out = sympy.Integer(0)
    for mono, c in d.terms:
        term = sympy.Integer(c)
        for name, e in mono:
            term = term * _dim_symbol(name) ** e
        out = out + term
    return out


@functools.cache
def _dim_symbol(name: str):
    return sympy.Symbol(name, integer=True, positive=True)


def _shape(n: Node):
    return sympy_dim(n.rows), sympy_dim(n.cols)


def scalar(e):
    """A 1×1 matrix expression as its entry."""
    if isinstance(e, sympy.MatrixExpr) and e.shape == (1, 1):
        return e[0, 0]
    return e


def applied(name: str):
    """f(args) under the function name ``name`` (a scalar function for a scalar result)."""
    def build(n: Node, a):
        if n.is_scalar:
            return sympy.Function(name)(*[scalar(x) for x in a])
        return applied_class()(name, *_shape(n), *a)
    return build


def function_named(n: Node, a):
    """An ``ew``/``ew2`` node: its function's name with a prime per derivative order."""
    name = n.attrs[0] + "'" * n.attrs[1]
    if n.is_scalar and n.op == "ew":
        return sympy.Function(name)(scalar(a[0]))
    if n.is_scalar:                                      # a scalar ew2 keeps its historical name
        return sympy.Function(n.op)(*[scalar(x) for x in a])
    return applied_class()(name, *_shape(n), *a)


def var(n: Node, a):
    return sympy.Symbol(n.attrs[0]) if n.is_scalar else sympy.MatrixSymbol(n.attrs[0], *_shape(n))


def commutation(matrix):
    """SymPy has no K: the permutation ``matrix(m, n)`` itself at known sizes, or a symbol."""
    def build(n: Node, a):
        m, k = n.attrs
        if m.is_Integer and k.is_Integer:
            return sympy.ImmutableMatrix(matrix(int(m), int(k)).astype(int))
        return sympy.MatrixSymbol(f"K_({m},{k})", *_shape(n))
    return build


def scale(n: Node, a):
    coef, _, body = A.split(n)
    k = sympy.Rational(coef.numerator, coef.denominator)
    for x in (a if body is None else a[:-1]):
        k = k * scalar(x)
    if body is None:
        return k
    return product(k, a[-1]) if k != 1 else a[-1]


def add(n: Node, a):
    if n.is_scalar:
        return sympy.Add(*[scalar(x) for x in a])
    return sympy.MatAdd(*a)


def power(n: Node, a):
    if n.is_scalar:
        return sympy.Pow(scalar(a[0]), sympy.Rational(n.attrs[0].numerator, n.attrs[0].denominator))
    return applied_class()(f"elementwise_pow_{n.attrs[0]}", *_shape(n), a[0])


def variable_power(n: Node, a):
    if n.is_scalar:
        return sympy.Pow(scalar(a[0]), scalar(a[1]))
    return applied_class()("elementwise_power", *_shape(n), a[0], a[1])


def ones(n: Node, a):
    return sympy.OneMatrix(*_shape(n))


def zero(n: Node, a):
    return sympy.ZeroMatrix(*_shape(n))


def size(n: Node, a):
    return sympy_dim(n.attrs[0])


def eye(n: Node, a):
    return sympy.Identity(sympy_dim(n.rows))


def matmul(n: Node, a):
    return product(*a)


def transpose(n: Node, a):
    return sympy.Transpose(a[0])


def hadamard(n: Node, a):
    return sympy.HadamardProduct(*a)


def matpow(n: Node, a):
    return sympy.MatPow(a[0], n.attrs[0])


def inverse(n: Node, a):
    return sympy.Inverse(a[0])


def trace(n: Node, a):
    return sympy.Trace(a[0])


def determinant(n: Node, a):
    return sympy.Determinant(a[0])


def logdet(n: Node, a):
    return sympy.log(sympy.Abs(sympy.Determinant(a[0])))


def product(*factors):
    """One flat ``MatMul`` (``2*W*x*x.T``, as the textbook writes it, not ``2*((W*x)*x.T)``)."""
    flat = [f for x in factors for f in (x.args if isinstance(x, sympy.MatMul) else (x,))]
    return sympy.MatMul(*flat)
