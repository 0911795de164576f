"""SymPy builders of the rule table: each primitive as a SymPy matrix expression, unevaluated.

Built with SymPy's own constructors (``MatMul``, ``MatAdd``, ``Transpose``, ``Inverse``,
``HadamardProduct``, ``Trace``, ``Determinant``) so SymPy neither reorders nor re-derives
anything; a primitive SymPy has no matrix form of becomes an ``Applied`` matrix expression that
prints as ``f(arg)`` (``applied``, the default of every entry without a builder).
"""
from __future__ import annotations

import sympy
from sympy.matrices.expressions import (
    Determinant,
    HadamardProduct,
    Identity,
    Inverse,
    MatAdd,
    MatMul,
    MatPow,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Trace,
    Transpose,
    ZeroMatrix,
)

from matcalc.core import algebra as A
from matcalc.core.graph import Node


class Applied(MatrixExpr):
    """f(arg) for a primitive SymPy has no matrix form of (elementwise functions, softmax, ...)."""

    def __new__(cls, name, rows, cols, *args):
        name = name if isinstance(name, sympy.Symbol) else sympy.Symbol(name)     # doit() rebuilds with a Symbol
        return super().__new__(cls, name, sympy.sympify(rows), sympy.sympify(cols), *args)

    @property
    def shape(self):
        return (self.args[1], self.args[2])

    def _sympystr(self, printer):
        return f"{self.args[0]}({', '.join(printer.doprint(a) for a in self.args[3:])})"


def scalar(e):
    """A 1×1 matrix expression as its entry."""
    if isinstance(e, MatrixExpr) and e.shape == (1, 1):
        return e[0, 0]
    return e


def applied(name: str):
    """f(args) under the function name ``name`` (a scalar function for a scalar result)."""
    def build(n: Node, a):
        if n.is_scalar:
            return sympy.Function(name)(*[scalar(x) for x in a])
        return Applied(name, n.rows, n.cols, *a)
    return build


def function_named(n: Node, a):
    """An ``ew``/``ew2`` node: its function's name with a prime per derivative order."""
    name = n.attrs[0] + "'" * n.attrs[1]
    if n.is_scalar and n.op == "ew":
        return sympy.Function(name)(scalar(a[0]))
    if n.is_scalar:                                      # a scalar ew2 keeps its historical name
        return sympy.Function(n.op)(*[scalar(x) for x in a])
    return Applied(name, n.rows, n.cols, *a)


def var(n: Node, a):
    return sympy.Symbol(n.attrs[0]) if n.is_scalar else MatrixSymbol(n.attrs[0], n.rows, n.cols)


def commutation(matrix):
    """SymPy has no K: the permutation ``matrix(m, n)`` itself at known sizes, or a symbol."""
    def build(n: Node, a):
        m, k = n.attrs
        if m.is_Integer and k.is_Integer:
            return sympy.ImmutableMatrix(matrix(int(m), int(k)).astype(int))
        return MatrixSymbol(f"K_({m},{k})", n.rows, n.cols)
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
    return MatAdd(*a)


def power(n: Node, a):
    if n.is_scalar:
        return sympy.Pow(scalar(a[0]), sympy.Rational(n.attrs[0].numerator, n.attrs[0].denominator))
    return Applied(f"elementwise_pow_{n.attrs[0]}", n.rows, n.cols, a[0])


def variable_power(n: Node, a):
    if n.is_scalar:
        return sympy.Pow(scalar(a[0]), scalar(a[1]))
    return Applied("elementwise_power", n.rows, n.cols, a[0], a[1])


def ones(n: Node, a):
    return OneMatrix(n.rows, n.cols)


def zero(n: Node, a):
    return ZeroMatrix(n.rows, n.cols)


def size(n: Node, a):
    return n.attrs[0]


def eye(n: Node, a):
    return Identity(n.rows)


def matmul(n: Node, a):
    return product(*a)


def transpose(n: Node, a):
    return Transpose(a[0])


def hadamard(n: Node, a):
    return HadamardProduct(*a)


def matpow(n: Node, a):
    return MatPow(a[0], n.attrs[0])


def inverse(n: Node, a):
    return Inverse(a[0])


def trace(n: Node, a):
    return Trace(a[0])


def determinant(n: Node, a):
    return Determinant(a[0])


def logdet(n: Node, a):
    return sympy.log(sympy.Abs(Determinant(a[0])))


def product(*factors):
    """One flat ``MatMul`` (``2*W*x*x.T``, as the textbook writes it, not ``2*((W*x)*x.T)``)."""
    flat = [f for x in factors for f in (x.args if isinstance(x, MatMul) else (x,))]
    return MatMul(*flat)
