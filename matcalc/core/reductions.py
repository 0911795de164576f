"""Reductions and matrix functions to smaller shapes: sum, trace, det, logdet, norm, diag,
the softmax family.

A reduction linear in its argument pulls coefficients and scalar factors out front and sends
zero to zero.  Part of ``algebra``'s constructors.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core.entrywise import ew
from matcalc.core.errors import ShapeError, UndefinedError
from matcalc.core.graph import ONE, SCALAR, Node, make
from matcalc.core.leaves import assumption, const, eye, fmt_shape, is_zero, ones, size_leaf, zero
from matcalc.core.products import transpose
from matcalc.core.scaling import product, split


def size(d) -> Node:
    """A dimension as a scalar constant (``size(A, k)``, ``numel(A)``, the count of a mean): a
    monomial in one ``size`` leaf per dimension symbol and one for the known part (so ``n m / n``
    cancels like any product, and a mean over 6 rows prints ``/6``, not ``0.1667``)."""
    if d == ONE:
        return const(1)
    if getattr(d, "is_Integer", False):
        return size_leaf(d)
    try:
        c, powers = d.coefficient_and_powers()
    except ValueError:
        raise ShapeError(f"the size {d} is not a product of dimensions") from None
    fs = [(size_leaf(base), e) for base, e in powers]
    if c != 1:
        fs.insert(0, (size_leaf(ONE * c), 1))
    return product(1, [(f, Fraction(e)) for f, e in fs], None)


def mean(a: Node, axis: int | None = None) -> Node:
    """mean(A): sum(A) over the count of what it sums (all entries, the rows, the columns)."""
    count = a.rows * a.cols if axis is None else a.rows if axis == 1 else a.cols
    return product(1, [(size(count), Fraction(-1))], sum_(a, axis))


def sum_(a: Node, axis: int | None = None) -> Node:
    """sum(A) of all entries, or MATLAB-style along axis 1 (down columns) or 2 (across rows)."""
    if axis is None:
        if a.is_scalar:
            return a
        if a.op == "ones":                           # sum(𝟏) counts the entries
            return size(a.rows * a.cols)
        pulled = _scalars_out(a, sum_, const(0))
        if pulled is not None:
            return pulled
        if a.is_column and assumption(a) in ("onehot", "probability"):     # a unit vector too
            return const(1)
        if a.op == "transpose":
            return sum_(a.args[0])
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
    pulled = _scalars_out(a, lambda body: sum_(body, axis), zero(out))
    return pulled if pulled is not None else make("sum", (a,), out, (axis,))


def trace(a: Node) -> Node:
    if not a.is_square:
        raise ShapeError(f"trace needs a square matrix, got {fmt_shape(a.shape)}")
    if a.is_scalar:
        return a
    pulled = _scalars_out(a, trace, const(0))
    if pulled is not None:
        return pulled
    if a.op == "transpose":
        return trace(a.args[0])
    return make("trace", (a,), SCALAR)


def _scalars_out(a: Node, again, zero_value: Node) -> Node | None:
    """For a map linear in ``a`` (a sum, a trace): ``zero_value`` for zero, the coefficient and
    scalar factors moved out front of ``again(body)``; None where ``a`` has neither."""
    c, fs, body = split(a)
    if body.op == "zero":
        return zero_value
    if (c, fs) != (1, ()):
        return product(c, fs, again(body))
    return None


def unary_scalar(op: str, a: Node, square: bool = False) -> Node:
    """det, logdet, norm: matrix to scalar, no local simplification."""
    if square and not a.is_square:
        raise ShapeError(f"{op} needs a square matrix, got {fmt_shape(a.shape)}")
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
        raise ShapeError(f"diag needs a vector or a square matrix, got {fmt_shape(a.shape)}")
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
