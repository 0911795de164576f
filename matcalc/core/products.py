"""Matrix structure: transposes, products, powers, inverses, Kronecker products and vec.

Transposes move through products and sums to the leaves; identities, zeros and commutation
matrices that cancel disappear; scalars leave products as coefficients.  Part of ``algebra``'s
constructors.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core.entrywise import ew, pow_
from matcalc.core.errors import ShapeError, UndefinedError
from matcalc.core.graph import ONE, SCALAR, Node, Shape, make
from matcalc.core.leaves import SYMMETRIC_KINDS, commutation, eye, fmt_shape, ones, zero
from matcalc.core.rebuild import postorder
from matcalc.core.scaling import add, product, scale, split

_TRANSPOSE = "transpose"          # node.memo key: its transpose, once computed


def transpose(a: Node) -> Node:
    """Aᵀ, moved through products and sums to the leaves (memoised on the nodes: a printer asks
    for the transpose of every sum in a deep nest, and each answer reuses those below it)."""
    if a.is_scalar:
        return a
    done = a.memo.get(_TRANSPOSE)
    if done is not None:
        return done
    if _DEPTH[0] >= MAX_RECURSION and a.op in _MOVES_THROUGH:      # deep: the parts below first
        for x in postorder(a, _unanswered)[:-1]:
            if not x.is_scalar:
                x.memo[_TRANSPOSE] = _transpose(x)
    _DEPTH[0] += 1
    try:
        done = a.memo[_TRANSPOSE] = _transpose(a)
    finally:
        _DEPTH[0] -= 1
    return done


MAX_RECURSION = 64       # nested transpose calls before the rest is answered children first
_DEPTH = [0]
_MOVES_THROUGH = frozenset({"add", "matmul", "scale", "pow", "kron"})


def _unanswered(n: Node) -> tuple:
    """The arguments ``_transpose(n)`` asks for the transpose of, when not answered yet."""
    if n.op in _MOVES_THROUGH and _TRANSPOSE not in n.memo:
        return tuple(a for a in n.args if _TRANSPOSE not in a.memo)
    return ()


def _transpose(a: Node) -> Node:
    op = a.op
    if op == "transpose":
        return a.args[0]
    if op in ("ones", "zero"):
        return make(op, (), (a.cols, a.rows))
    if op == "commutation":                                        # K₍ₘ,ₙ₎ᵀ = K₍ₙ,ₘ₎
        return commutation(a.attrs[1], a.attrs[0])
    if op == "eye" or (op == "var" and a.attrs[2] in SYMMETRIC_KINDS) or op == "diag":
        return a
    if op == "scale":
        coef, fs, body = split(a)
        return product(coef, fs, transpose(body))
    if op == "add":
        return add(*(transpose(t) for t in a.args))
    if op == "matmul":
        return matmul(transpose(a.args[1]), transpose(a.args[0]))
    if op == "inv" and is_symmetric(a.args[0]):
        return a
    if op == "pow":                                                # (A.^p)ᵀ = (Aᵀ).^p, down to the leaves
        return pow_(transpose(a.args[0]), a.attrs[0])
    if op == "ew" and a.args[0].op == "transpose":                 # f(Aᵀ)ᵀ = f(A)
        return ew(a.attrs[0], a.args[0].args[0], a.attrs[1])
    if op == "kron":                                               # (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ
        return kron(transpose(a.args[0]), transpose(a.args[1]))
    return make("transpose", (a,), (a.cols, a.rows))


def is_symmetric(a: Node) -> bool:
    """Known symmetric by construction or assumption."""
    if a.is_scalar or a.op in ("eye", "diag"):
        return True
    if a.op == "commutation":
        return a.attrs[0] == a.attrs[1]
    if a.op == "var":
        return a.attrs[2] in SYMMETRIC_KINDS
    if a.op == "inv":
        return is_symmetric(a.args[0])
    if a.op == "scale":
        return is_symmetric(split(a)[2])
    if a.op == "add":
        return all(is_symmetric(t) for t in a.args)
    if a.op == "matmul":                      # Xᵀ X, A S Aᵀ: the product is its own transpose
        return a.is_square and transpose(a) is a
    return False


def matmul(a: Node, b: Node) -> Node:
    """A B; a scalar operand scales instead."""
    if a.is_scalar:
        return scale(a, b)
    if b.is_scalar:
        return scale(b, a)
    if a.cols != b.rows:
        raise ShapeError(f"cannot multiply {fmt_shape(a.shape)} by {fmt_shape(b.shape)}")
    shape = (a.rows, b.cols)
    if a.op == "zero" or b.op == "zero":
        return zero(shape)
    if a.op == "eye":
        return b
    if b.op == "eye":
        return a
    if a.op == "commutation" and b.op == "commutation" and a.attrs == b.attrs[::-1]:
        return eye(a.rows)                                         # K₍ₘ,ₙ₎ K₍ₙ,ₘ₎ = I
    ca, fa, ba = split(a)
    cb, fb, bb = split(b)
    if ba.op == "ones" and bb.op == "ones" and shape != SCALAR and ba.cols.is_Integer:
        # 𝟏ₘₖ 𝟏ₖₙ = k 𝟏ₘₙ: the inner size is a factor (a symbolic k stays a product, never dropped)
        return product(ca * cb * int(ba.cols), fa + fb, ones(shape))
    if ba.op == "ones" and bb.op == "ones" and ba.cols.is_Integer:
        return product(ca * cb * int(ba.cols), fa + fb, None)      # 𝟏ᵀ𝟏 = k, a known size
    if (ca, fa, cb, fb) != (1, (), 1, ()):
        return product(ca * cb, fa + fb, matmul(ba, bb))
    return make("matmul", (a, b), shape)


def matpow(a: Node, k: int) -> Node:
    """A^k for a square matrix and an integer k (negative: powers of the inverse)."""
    if not a.is_square:
        raise ShapeError(f"matrix power needs a square matrix, got {fmt_shape(a.shape)}")
    if a.is_scalar:
        return pow_(a, Fraction(k))
    if k == 0:
        return eye(a.rows)
    if k < 0:
        return matpow(inv(a), -k)
    if k == 1 or a.op == "zero":
        return a
    if a.op in ("eye", "ones") and a.op == "eye":
        return a
    if a.op == "matpow":
        return matpow(a.args[0], k * a.attrs[0])
    c, fs, body = split(a)
    if (c, fs) != (1, ()):
        return product(c ** k, tuple((b, e * k) for b, e in fs), matpow(body, k))
    return make("matpow", (a,), a.shape, (k,))


def inv(a: Node) -> Node:
    if not a.is_square:
        raise ShapeError(f"inverse needs a square matrix, got {fmt_shape(a.shape)}")
    if a.is_scalar:
        return pow_(a, Fraction(-1))
    if a.op == "inv":
        return a.args[0]
    if a.op == "eye":
        return a
    if a.op == "commutation":                                      # K₍ₘ,ₙ₎⁻¹ = K₍ₙ,ₘ₎
        return transpose(a)
    if a.op == "transpose":
        return transpose(inv(a.args[0]))
    if a.op == "matpow":
        return matpow(inv(a.args[0]), a.attrs[0])
    c, fs, body = split(a)
    if c == 0:
        raise UndefinedError("the inverse of a matrix that is exactly zero for every input")
    if (c, fs) != (1, ()):
        return product(1 / c, tuple((b, -e) for b, e in fs), inv(body))
    return make("inv", (a,), a.shape)


def kron(a: Node, b: Node) -> Node:
    if a.is_scalar or b.is_scalar:
        return scale(a, b) if a.is_scalar else scale(b, a)
    return make("kron", (a, b), (a.rows * b.rows, a.cols * b.cols))


def vec(a: Node) -> Node:
    if a.is_column:
        return a
    return make("vec", (a,), (a.rows * a.cols, ONE))


def unvec(a: Node, shape: Shape) -> Node:
    """The inverse of ``vec`` (column-major), used by vec's reverse rule."""
    if a.op == "vec" and a.args[0].shape == shape:
        return a.args[0]
    if shape[1] == ONE:
        return a
    c, fs, body = split(a)
    if (c, fs) != (1, ()) and body is not None and body.op != "zero":
        return product(c, fs, unvec(body, shape))
    if a.op == "zero":
        return zero(shape)
    if a.op == "transpose" and a.args[0].op == "kron":             # (p ⊗ q)ᵀ = pᵀ ⊗ qᵀ
        a = kron(transpose(a.args[0].args[0]), transpose(a.args[0].args[1]))
    if a.op == "kron" and a.args[0].is_column and a.args[1].is_column and shape == (a.args[1].rows, a.args[0].rows):
        return matmul(a.args[1], transpose(a.args[0]))              # vec(b aᵀ) = a ⊗ b (Cookbook 520)
    return make("unvec", (a,), shape)
