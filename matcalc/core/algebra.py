"""Smart constructors: build graph nodes in a locally simplified normal form.

Every node the parser's builder, the differentiator and the simplifier create goes through
these functions, so identities that are always worth applying happen once, at construction:
scalars float to the front of products as a coefficient times a monomial of scalar factors
(so ``2 ‖u‖ · u/‖u‖`` is ``2 u``), equal terms of a sum are collected, Hadamard products are
elementwise monomials (``a ∘ a`` is ``a.^2``), transposes of products and sums move to the
leaves, and ones, identities and zeros disappear.  Shapes are checked here as a last guard;
user-facing shape errors come from ``shapes`` before any node is built.
"""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from matcalc.core.errors import InternalError, ShapeError, UndefinedError
from matcalc.core.graph import ONE, SCALAR, Dim, Node, Shape, as_fraction, make

Coef = Fraction
Factors = tuple[tuple[Node, Fraction], ...]

SYMMETRIC_KINDS = ("symmetric", "spd", "diagonal")


# ------------------------------------------------------------------ leaves
def var(name: str, shape: Shape, ndim: int, assumption: str | None = None) -> Node:
    """A variable; ``ndim`` (0, 1, 2) is how NumPy sees it, ``assumption`` one of LANGUAGE.md's."""
    return make("var", (), shape, (name, ndim, assumption))


def const(c: float | Fraction) -> Node:
    """A number: a scale node with no factors."""
    return make("scale", (), SCALAR, (as_fraction(c),))


def ones(shape: Shape) -> Node:
    if shape == SCALAR:
        return const(1)
    return make("ones", (), shape)


def zero(shape: Shape) -> Node:
    if shape == SCALAR:
        return const(0)
    return make("zero", (), shape)


def eye(n: Dim) -> Node:
    if n == ONE:
        return const(1)
    return make("eye", (), (n, n))


def commutation(m: Dim, n: Dim) -> Node:
    """K₍ₘ,ₙ₎, the mn × mn permutation with K₍ₘ,ₙ₎ vec(X) = vec(Xᵀ) for X m×n (Cookbook 9.3);
    K₍₁,ₙ₎ = K₍ₙ,₁₎ = I."""
    if m == ONE or n == ONE:
        return eye(m * n)
    return make("commutation", (), (m * n, m * n), (m, n))


def is_zero(a: Node) -> bool:
    return a.op == "zero" or (a.op == "scale" and a.attrs[0] == 0)


def is_const(a: Node, value=None) -> bool:
    return a.op == "scale" and not a.args and (value is None or a.attrs[0] == value)


def assumption(a: Node) -> str | None:
    if a.op == "unit":                                          # eᵢ: a one-hot vector (LANGUAGE.md v2)
        return "onehot"
    return a.attrs[2] if a.op == "var" else None


# ------------------------------------------------------------------ products with scalars
def split(a: Node) -> tuple[Coef, Factors, Node | None]:
    """``a`` as coefficient × scalar monomial × body (``None`` when ``a`` is a scalar)."""
    if a.op == "zero":
        return Fraction(0), (), None if a.is_scalar else a
    if a.op == "scale":
        coef = a.attrs[0]
        if a.is_scalar:
            return coef, tuple(_base_exp(f) for f in a.args), None
        return coef, tuple(_base_exp(f) for f in a.args[:-1]), a.args[-1]
    if a.is_scalar:
        return Fraction(1), (_base_exp(a),), None
    return Fraction(1), (), a


def _base_exp(f: Node) -> tuple[Node, Fraction]:
    if f.op == "pow" and f.is_scalar:
        return f.args[0], f.attrs[0]
    return f, Fraction(1)


def _merge(factors: Iterable[tuple[Node, Fraction]]) -> list[tuple[Node, Fraction]]:
    out: dict[int, list] = {}
    order: list[int] = []
    for base, e in factors:
        k = id(base)
        if k in out:
            out[k][1] += e
        else:
            out[k] = [base, e]
            order.append(k)
    return [(out[k][0], out[k][1]) for k in order if out[k][1] != 0]


def product(coef: Coef, factors: Iterable[tuple[Node, Fraction]], body: Node | None) -> Node:
    """coef × Π base^exp × body, normalised."""
    coef = as_fraction(coef)
    flat: list[tuple[Node, Fraction]] = []
    for base, e in factors:
        c, fs, b = split(base)
        if b is not None:
            raise InternalError("a scalar factor that is not a scalar")
        if e != 1 and (c != 1 or len(fs) != 1):
            if e.denominator == 1 and (c != 0 or e > 0):
                coef *= c ** int(e)
                flat.extend((fb, fe * e) for fb, fe in fs)
            else:
                flat.append((base, e))
            continue
        coef *= c
        flat.extend((fb, fe * e) for fb, fe in fs)
    if body is not None:
        c, fs, b = split(body)
        coef *= c
        flat.extend(fs)
        body = b
    shape = body.shape if body is not None else SCALAR
    if coef == 0 or (body is not None and body.op == "zero"):
        return zero(shape)
    merged = _merge(flat)
    nodes = [b if e == 1 else _raw_pow(b, e) for b, e in merged]
    if not nodes:
        if body is None:
            return const(coef)
        if coef == 1:
            return body
    elif coef == 1 and body is None and len(nodes) == 1:
        return nodes[0]
    args = tuple(nodes) + ((body,) if body is not None else ())
    return make("scale", args, shape, (coef,))


def scale(s: Node | float | Fraction, a: Node) -> Node:
    """The scalar ``s`` times ``a``."""
    if not isinstance(s, Node):
        return product(as_fraction(s), (), a if not a.is_scalar else None) if not a.is_scalar \
            else product(as_fraction(s), ((a, Fraction(1)),), None)
    if not s.is_scalar:
        raise InternalError(f"scale by a non-scalar {s!r}")
    if a.is_scalar:
        return product(Fraction(1), ((s, Fraction(1)), (a, Fraction(1))), None)
    return product(Fraction(1), ((s, Fraction(1)),), a)


def neg(a: Node) -> Node:
    return scale(-1, a)


def _raw_pow(base: Node, e: Fraction) -> Node:
    return make("pow", (base,), base.shape, (e,))


# ------------------------------------------------------------------ sums
def add(*terms: Node) -> Node:
    """Sum with scalars broadcast, equal terms collected, zeros dropped."""
    flat: list[Node] = []
    for t in terms:
        flat.extend(t.args if t.op == "add" else (t,))
    shape = SCALAR
    for t in flat:
        if not t.is_scalar:
            if shape != SCALAR and t.shape != shape:
                raise ShapeError(f"cannot add shapes {_fmt(shape)} and {_fmt(t.shape)}")
            shape = t.shape
    groups: dict[tuple, list] = {}
    order: list[tuple] = []
    for t in flat:
        coef, fs, body = split(t)
        if coef == 0:
            continue
        if body is None and shape != SCALAR:
            body = ones(shape)
        key = (tuple((id(b), e) for b, e in fs), id(body))
        if key in groups:
            groups[key][0] += coef
        else:
            groups[key] = [coef, fs, body]
            order.append(key)
    parts = [product(groups[k][0], groups[k][1], groups[k][2]) for k in order if groups[k][0] != 0]
    if not parts:
        return zero(shape)
    if len(parts) == 1:
        return parts[0]
    return make("add", parts, shape)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


# ------------------------------------------------------------------ transpose
def transpose(a: Node) -> Node:
    """Aᵀ, moved through products and sums to the leaves."""
    if a.is_scalar:
        return a
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
    return False


# ------------------------------------------------------------------ matrix product
def matmul(a: Node, b: Node) -> Node:
    """A B; a scalar operand scales instead."""
    if a.is_scalar:
        return scale(a, b)
    if b.is_scalar:
        return scale(b, a)
    if a.cols != b.rows:
        raise ShapeError(f"cannot multiply {_fmt(a.shape)} by {_fmt(b.shape)}")
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
    if (ca, fa, cb, fb) != (1, (), 1, ()):
        return product(ca * cb, fa + fb, matmul(ba, bb))
    return make("matmul", (a, b), shape)


def matpow(a: Node, k: int) -> Node:
    """A^k for a square matrix and an integer k (negative: powers of the inverse)."""
    if not a.is_square:
        raise ShapeError(f"matrix power needs a square matrix, got {_fmt(a.shape)}")
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
        raise ShapeError(f"inverse needs a square matrix, got {_fmt(a.shape)}")
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


# ------------------------------------------------------------------ elementwise
def hadamard(*xs: Node) -> Node:
    """Elementwise product as a monomial: bases with exponents, scalars pulled out front."""
    shape = SCALAR
    for x in xs:
        if not x.is_scalar:
            if shape != SCALAR and x.shape != shape:
                raise ShapeError(f"elementwise product of {_fmt(shape)} and {_fmt(x.shape)}")
            shape = x.shape
    coef = Fraction(1)
    sfs: list[tuple[Node, Fraction]] = []
    elems: list[tuple[Node, Fraction]] = []
    stack = list(xs)
    for x in stack:
        c, fs, body = split(x)
        coef *= c
        sfs.extend(fs)
        if body is None or body.op == "ones":
            continue
        if body.op == "zero":
            return zero(shape)
        if body.op == "hadamard":
            elems.extend((f.args[0], f.attrs[0]) if f.op == "pow" else (f, Fraction(1)) for f in body.args)
        elif body.op == "pow":
            elems.append((body.args[0], body.attrs[0]))
        else:
            elems.append((body, Fraction(1)))
    merged = _merge(elems)
    if shape == SCALAR:
        return product(coef, sfs + merged, None)
    if not merged:
        return product(coef, sfs, ones(shape))
    parts = [b if e == 1 else pow_(b, e) for b, e in merged]
    body = parts[0] if len(parts) == 1 else make("hadamard", parts, shape)
    return product(coef, sfs, body)


def pow_(a: Node, p: Fraction | float) -> Node:
    """Elementwise power ``a.^p`` (a scalar power for scalars)."""
    p = as_fraction(p)
    if is_zero(a):                                               # 0.^p: 0, or undefined for p < 0
        if p < 0:
            raise UndefinedError("division by zero: this denominator is exactly zero for every input")
        return ones(a.shape) if p == 0 else a
    if p == 0:
        return ones(a.shape)
    if p == 1:
        return a
    if a.op == "ones":
        return a
    if assumption(a) in ("onehot", "onehot_rows") and p > 0:    # entries are 0 or 1: y.^p = y
        return a
    if a.is_scalar:
        c, fs, _ = split(a)
        if c == 0 and p < 0:
            raise UndefinedError("division by zero: this denominator is exactly zero for every input")
        if p.denominator == 1:
            return product(c ** int(p), tuple((b, e * p) for b, e in fs), None)
        if not fs:
            return _raw_pow(a, p)
        return product(Fraction(1), ((a, p),), None)
    c, fs, body = split(a)
    if p.denominator == 1 and (c, fs) != (1, ()):
        return product(c ** int(p), tuple((b, e * p) for b, e in fs), pow_(body, p))
    if body.op == "pow" and p.denominator == 1:
        return pow_(body.args[0], body.attrs[0] * p)
    if body.op == "hadamard" and p.denominator == 1:
        return hadamard(*(pow_(f, p) for f in body.args))
    return _raw_pow(a, p)


def ew(name: str, a: Node, order: int = 0) -> Node:
    """An elementwise function (``order`` > 0: its order-th derivative) applied to ``a``."""
    if name == "log" and is_zero(a):                            # log 0 = −∞ for every input: no derivative
        raise UndefinedError("log of zero: this argument is exactly zero for every input")
    if name == "abs" and assumption(a) == "positive":          # |x| = x, sign(x) = 1 for x > 0
        return a if order == 0 else ones(a.shape) if order == 1 else zero(a.shape)
    return make("ew", (a,), a.shape, (name, order))


def ew2(name: str, a: Node, b: Node, order: int = 0) -> Node:
    """A binary elementwise function (max, min, leaky_relu); scalar operands broadcast."""
    if not a.is_scalar and not b.is_scalar and a.shape != b.shape:
        raise ShapeError(f"{name} of {_fmt(a.shape)} and {_fmt(b.shape)}")
    shape = b.shape if a.is_scalar else a.shape
    return make("ew2", (a, b), shape, (name, order))


def step(a: Node) -> Node:
    """The unit step 𝟙[a > 0], i.e. relu'(a)."""
    return ew("relu", a, 1)


# ------------------------------------------------------------------ reductions and the rest
def sum_(a: Node, axis: int | None = None) -> Node:
    """sum(A) of all entries, or MATLAB-style along axis 1 (down columns) or 2 (across rows)."""
    if axis is None:
        if a.is_scalar:
            return a
        c, fs, body = split(a)
        if body.op == "zero":
            return const(0)
        if (c, fs) != (1, ()):
            return product(c, fs, sum_(body))
        if body.is_column and assumption(body) in ("onehot", "probability"):
            return const(1)
        if body.op == "transpose":
            return sum_(body.args[0])
        return make("sum", (a,), SCALAR, (None,))
    if axis == 1:
        if a.rows == ONE:
            return a
        if a.is_column:
            return sum_(a)
        if a.op == "var" and a.attrs[2] in ("onehot", "probability"):
            return ones((ONE, a.cols))
        out = (ONE, a.cols)
    elif axis == 2:
        if a.cols == ONE:
            return a
        if a.is_row:
            return sum_(a)
        if a.op == "var" and a.attrs[2] == "onehot_rows":
            return ones((a.rows, ONE))
        out = (a.rows, ONE)
    else:
        raise ShapeError(f"sum along axis {axis}: the axis is 1 (down columns) or 2 (across rows)")
    c, fs, body = split(a)
    if body.op == "zero":
        return zero(out)
    if (c, fs) != (1, ()):
        return product(c, fs, sum_(body, axis))
    return make("sum", (a,), out, (axis,))


def trace(a: Node) -> Node:
    if not a.is_square:
        raise ShapeError(f"trace needs a square matrix, got {_fmt(a.shape)}")
    if a.is_scalar:
        return a
    c, fs, body = split(a)
    if body.op == "zero":
        return const(0)
    if (c, fs) != (1, ()):
        return product(c, fs, trace(body))
    if body.op == "transpose":
        return trace(body.args[0])
    return make("trace", (a,), SCALAR)


def unary_scalar(op: str, a: Node, square: bool = False) -> Node:
    """det, logdet, norm: matrix to scalar, no local simplification."""
    if square and not a.is_square:
        raise ShapeError(f"{op} needs a square matrix, got {_fmt(a.shape)}")
    if op in ("det", "logdet") and a.op == "transpose":
        a = a.args[0]
    if op == "norm" and a.op == "transpose":
        a = a.args[0]
    return make(op, (a,), SCALAR)


def det(a: Node) -> Node:
    return a if a.is_scalar else unary_scalar("det", a, square=True)


def logdet(a: Node) -> Node:
    if is_zero(a):                                               # log |det 0| = −∞ for every input
        raise UndefinedError("logdet of a matrix that is exactly zero for every input")
    return ew("log", ew("abs", a)) if a.is_scalar else unary_scalar("logdet", a, square=True)


def norm(a: Node) -> Node:
    return ew("abs", a) if a.is_scalar else unary_scalar("norm", a)


def diag(a: Node) -> Node:
    """diag(v): vector to diagonal matrix; diag(A): diagonal of a square matrix as a vector."""
    if a.is_scalar:
        return a
    if a.op == "zero" and (a.is_column or a.is_row):               # diag(0) = 0, not split forever
        return zero((a.rows * a.cols, a.rows * a.cols))
    if a.op == "zero" and a.is_square:
        return zero((a.rows, ONE))
    if a.is_column:
        if a.op == "ones":
            return eye(a.rows)
        c, fs, body = split(a)
        if (c, fs) != (1, ()):
            return product(c, fs, diag(body))
        if body.op == "diagpart" and assumption(body.args[0]) == "diagonal":   # diag(diag(D)) = D
            return body.args[0]
        return make("diag", (a,), (a.rows, a.rows))
    if a.is_row:
        return diag(transpose(a))
    if not a.is_square:
        raise ShapeError(f"diag needs a vector or a square matrix, got {_fmt(a.shape)}")
    if a.op == "diag":
        return a.args[0]
    c, fs, body = split(a)
    if (c, fs) != (1, ()):
        return product(c, fs, diag(body))
    if body.op == "eye":
        return ones((a.rows, ONE))
    return make("diagpart", (a,), (a.rows, ONE))


def softmax_family(op: str, a: Node, axis: int = 1) -> Node:
    """softmax, log_softmax (same shape) and logsumexp (a row for axis 1, a column for axis 2)."""
    if axis not in (1, 2):
        raise ShapeError(f"{op} along axis {axis}: the axis is 1 (columns) or 2 (rows)")
    if a.is_row and axis == 1 or a.is_column and axis == 2:
        raise ShapeError(f"{op} of a {'row' if a.is_row else 'column'} along axis {axis} "
                         "works on single entries")
    if op == "logsumexp":
        shape = (ONE, a.cols) if axis == 1 else (a.rows, ONE)
    else:
        shape = a.shape
    if a.is_column:
        axis = 1
    if a.is_row:
        axis = 2
    return make(op, (a,), shape, (axis,))


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


def _fmt(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)
