"""Graph nodes as SymPy matrix expressions: the API's ``.gradient`` and ``.jacobian``.

Built with SymPy's own constructors (``MatMul``, ``MatAdd``, ``Transpose``, ``Inverse``,
``HadamardProduct``, ``Trace``, ``Determinant``) without evaluation, so SymPy neither reorders
nor re-derives anything; elementwise functions and the other primitives SymPy lacks become a
small ``Applied`` matrix expression that prints as ``f(arg)``.
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
from matcalc.core.graph import Node, topo_order
from matcalc.core.rules import commutation_matrix


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


def _scalar(e):
    if isinstance(e, MatrixExpr) and e.shape == (1, 1):
        return e[0, 0]
    return e


def to_sympy(root: Node):
    done: dict[int, object] = {}
    for n in topo_order([root]):
        a = [done[id(x)] for x in n.args]
        done[id(n)] = _convert(n, a)
    return done[id(root)]


def _convert(n: Node, a):
    op = n.op
    r, c = n.shape
    if op == "var":
        return sympy.Symbol(n.attrs[0]) if n.is_scalar else MatrixSymbol(n.attrs[0], r, c)
    if op == "ones":
        return OneMatrix(r, c)
    if op == "zero":
        return ZeroMatrix(r, c)
    if op == "eye":
        return Identity(r)
    if op == "commutation":                 # SymPy has no K: the permutation itself, or a symbol
        m, k = n.attrs
        if m.is_Integer and k.is_Integer:
            return sympy.ImmutableMatrix(commutation_matrix(int(m), int(k)).astype(int))
        return MatrixSymbol(f"K_({m},{k})", r, c)
    if op == "scale":
        coef, _, body = A.split(n)
        k = sympy.Rational(coef.numerator, coef.denominator)
        for x in (a if body is None else a[:-1]):
            k = k * _scalar(x)
        if body is None:
            return k
        return _product(k, a[-1]) if k != 1 else a[-1]
    if op == "add":
        if n.is_scalar:
            return sympy.Add(*[_scalar(x) for x in a])
        return MatAdd(*a)
    if op == "matmul":
        return _product(*a)
    if op == "transpose":
        return Transpose(a[0])
    if op == "hadamard":
        return HadamardProduct(*a)
    if op == "pow":
        if n.is_scalar:
            return sympy.Pow(_scalar(a[0]), sympy.Rational(n.attrs[0].numerator, n.attrs[0].denominator))
        return Applied(f"elementwise_pow_{n.attrs[0]}", r, c, a[0])
    if op == "matpow":
        return MatPow(a[0], n.attrs[0])
    if op == "inv":
        return Inverse(a[0])
    if op == "trace":
        return Trace(a[0])
    if op == "det":
        return Determinant(a[0])
    if op == "logdet":
        return sympy.log(sympy.Abs(Determinant(a[0])))
    if op == "ew":
        name = n.attrs[0] + "'" * n.attrs[1]
        if n.is_scalar:
            return sympy.Function(name)(_scalar(a[0]))
        return Applied(name, r, c, a[0])
    if n.is_scalar:
        return sympy.Function(op)(*[_scalar(x) for x in a])
    return Applied(op if op != "ew2" else n.attrs[0] + "'" * n.attrs[1], r, c, *a)


def _product(*factors):
    """One flat ``MatMul`` (``2*W*x*x.T``, as the textbook writes it, not ``2*((W*x)*x.T)``)."""
    flat = [f for x in factors for f in (x.args if isinstance(x, MatMul) else (x,))]
    return MatMul(*flat)
