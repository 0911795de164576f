"""Smart constructors: build graph nodes in a locally simplified normal form.

Every node the parser's builder, the differentiator and the simplifier create goes through
these functions, so identities that are always worth applying happen once, at construction:
scalars float to the front of products as a coefficient times a monomial of scalar factors
(so ``2 ‖u‖ · u/‖u‖`` is ``2 u``), equal terms of a sum are collected, Hadamard products are
elementwise monomials (``a ∘ a`` is ``a.^2``), transposes of products and sums move to the
leaves, and ones, identities and zeros disappear.  Shapes are checked here as a last guard;
user-facing shape errors come from ``shapes`` before any node is built.

The constructors live by family: ``leaves`` (variables, numbers, ones, zeros, I, K),
``scaling`` (coefficients, scalar monomials and sums), ``entrywise`` (Hadamard monomials,
elementwise powers and functions), ``products`` (transpose, matrix products, powers, inverses,
Kronecker, vec) and ``reductions`` (sum, trace, det, logdet, norm, diag, softmax); this module
gathers them, so callers write ``from matcalc.core import algebra as A`` and ``A.matmul(...)``.
"""
from matcalc.core.entrywise import ew, ew2, hadamard, pow_, step
from matcalc.core.leaves import (
    SYMMETRIC_KINDS,
    assumption,
    commutation,
    const,
    eye,
    fmt_shape,
    is_const,
    is_zero,
    ones,
    var,
    zero,
)
from matcalc.core.products import inv, is_symmetric, kron, matmul, matpow, transpose, unvec, vec
from matcalc.core.reductions import det, diag, logdet, mean, norm, size, softmax_family, sum_, trace, unary_scalar
from matcalc.core.scaling import Coef, Factors, add, base_exp, merge_factors, neg, product, raw_pow, scale, split, sub

__all__ = [
    "SYMMETRIC_KINDS",
    "Coef",
    "Factors",
    "add",
    "assumption",
    "base_exp",
    "commutation",
    "const",
    "det",
    "diag",
    "ew",
    "ew2",
    "eye",
    "fmt_shape",
    "hadamard",
    "inv",
    "is_const",
    "is_symmetric",
    "is_zero",
    "kron",
    "logdet",
    "matmul",
    "matpow",
    "mean",
    "merge_factors",
    "neg",
    "norm",
    "ones",
    "pow_",
    "product",
    "raw_pow",
    "scale",
    "size",
    "softmax_family",
    "split",
    "step",
    "sub",
    "sum_",
    "trace",
    "transpose",
    "unary_scalar",
    "unvec",
    "var",
    "vec",
    "zero",
]
