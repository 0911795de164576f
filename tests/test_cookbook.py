"""Matrix Cookbook identities, cited by equation number, checked through the public API only.

The numbers are those of K. B. Petersen and M. S. Pedersen, *The Matrix Cookbook*, version of
November 15, 2012 (the edition usually cited as 2012).  Each identity is asserted three ways:

1. numerically: central differences of the function (NumPy, written out here) at a seeded random
   point agree with the Cookbook's right-hand side, and so does ``derive(...).numpy()``;
2. by printed form: ``derive(...).text()`` is the matcalc text given here (the Cookbook's form or
   one equal to it, which (1) confirms);
3. by grading: ``check`` accepts the Cookbook's right-hand side, written in matcalc's syntax.

Scalar-by-matrix results are in the Cookbook's layout, which is matcalc's shape convention
(∂f/∂X has the shape of X).  Sizes are small and, where the Cookbook allows it, not square, so a
transpose in the wrong place cannot pass by accident.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from central import central_gradient

import matcalc

inv, det, tr, outer = np.linalg.inv, np.linalg.det, np.trace, np.outer


@dataclass(frozen=True)
class Identity:
    eq: str                                   # the Cookbook's equation number(s)
    expr: str                                 # the function, in matcalc's syntax
    wrt: str
    sizes: dict[str, tuple[int, ...]]         # concrete shapes of the inputs drawn for the numbers
    f: Callable[..., float]                   # the function in NumPy, by keyword
    rhs: Callable[..., np.ndarray]            # the Cookbook's right-hand side in NumPy, by keyword
    answer: str                               # the Cookbook's right-hand side in matcalc's syntax
    text: str                                 # what derive(...).text() prints
    shapes: dict | None = None                # shapes for derive/check (None: inferred, symbolic)

    def __str__(self) -> str:
        return f"({self.eq}) {self.expr}"


SQUARE = {"X": ("n", "n")}
SQUARE_ABX = {"X": ("n", "n"), "A": ("n", "n"), "B": ("n", "n")}

IDENTITIES = [
    # ---------------------------------------------------------------- 2.1 determinants
    Identity("49", "det(X)", "X", {"X": (3, 3)},
             lambda X: det(X), lambda X: det(X) * inv(X).T,
             "det(X)*inv(X)'", "det(X)*inv(X)'"),
    Identity("51", "det(A*X*B)", "X", {"A": (3, 3), "X": (3, 3), "B": (3, 3)},
             lambda A, X, B: det(A @ X @ B), lambda A, X, B: det(A @ X @ B) * inv(X).T,
             "det(A*X*B)*inv(X)'", "t1 = A*X*B; det(t1)*A'*inv(t1)'*B'", SQUARE_ABX),
    Identity("55", "logdet(X'*X)", "X", {"X": (4, 3)},
             lambda X: np.log(det(X.T @ X)), lambda X: 2 * np.linalg.pinv(X).T,
             "2*X*inv(X'*X)", "2*X*inv(X'*X)", {"X": (4, 3)}),
    Identity("57", "logdet(X)", "X", {"X": (3, 3)},
             lambda X: np.log(det(X)), lambda X: inv(X).T,
             "inv(X)'", "inv(X)'"),
    Identity("57", "log(det(X))", "X", {"X": (3, 3)},
             lambda X: np.log(det(X)), lambda X: inv(X).T,
             "inv(X')", "inv(X)'"),
    Identity("58", "det(X^3)", "X", {"X": (3, 3)},
             lambda X: det(X @ X @ X), lambda X: 3 * det(X @ X @ X) * inv(X).T,
             "3*det(X^3)*inv(X)'", "3*det(X^3)*inv(X)'"),
    # ---------------------------------------------------------------- 2.2 inverses
    Identity("61", "a'*inv(X)*b", "X", {"a": (3,), "X": (3, 3), "b": (3,)},
             lambda a, X, b: a @ inv(X) @ b, lambda a, X, b: -inv(X).T @ outer(a, b) @ inv(X).T,
             "-inv(X)'*a*b'*inv(X)'", "-inv(X)'*a*b'*inv(X)'"),
    Identity("62", "det(inv(X))", "X", {"X": (3, 3)},
             lambda X: det(inv(X)), lambda X: -det(inv(X)) * inv(X).T,
             "-det(inv(X))*inv(X)'", "-det(inv(X))*inv(X)'"),
    Identity("63", "tr(A*inv(X)*B)", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)},
             lambda A, X, B: tr(A @ inv(X) @ B), lambda A, X, B: -(inv(X) @ B @ A @ inv(X)).T,
             "-(inv(X)*B*A*inv(X))'", "-inv(X)'*A'*B'*inv(X)'"),
    Identity("64", "tr(inv(X+A))", "X", {"X": (3, 3), "A": (3, 3)},
             lambda X, A: tr(inv(X + A)), lambda X, A: -(inv(X + A) @ inv(X + A)).T,
             "-(inv(X + A)*inv(X + A))'", "-(inv(X + A)^2)'"),
    # ---------------------------------------------------------------- 2.4 scalar forms
    Identity("69", "x'*a", "x", {"x": (3,), "a": (3,)},
             lambda x, a: x @ a, lambda x, a: a, "a", "a"),
    Identity("69", "a'*x", "x", {"x": (3,), "a": (3,)},
             lambda x, a: a @ x, lambda x, a: a, "a", "a"),
    Identity("70", "a'*X*b", "X", {"a": (3,), "X": (3, 4), "b": (4,)},
             lambda a, X, b: a @ X @ b, lambda a, X, b: outer(a, b), "a*b'", "a*b'"),
    Identity("71", "a'*X'*b", "X", {"a": (4,), "X": (3, 4), "b": (3,)},
             lambda a, X, b: a @ X.T @ b, lambda a, X, b: outer(b, a), "b*a'", "b*a'"),
    Identity("72", "a'*X*a", "X", {"a": (3,), "X": (3, 3)},
             lambda a, X: a @ X @ a, lambda a, X: outer(a, a), "a*a'", "a*a'"),
    Identity("72", "a'*X'*a", "X", {"a": (3,), "X": (3, 3)},
             lambda a, X: a @ X.T @ a, lambda a, X: outer(a, a), "a*a'", "a*a'"),
    Identity("77", "b'*X'*X*c", "X", {"b": (4,), "X": (3, 4), "c": (4,)},
             lambda b, X, c: b @ X.T @ X @ c, lambda b, X, c: X @ (outer(b, c) + outer(c, b)),
             "X*(b*c' + c*b')", "X*(b*c' + c*b')"),
    Identity("78", "(B*x+b)'*C*(D*x+d)", "x",
             {"B": (2, 3), "x": (3,), "b": (2,), "C": (2, 4), "D": (4, 3), "d": (4,)},
             lambda B, x, b, C, D, d: (B @ x + b) @ C @ (D @ x + d),
             lambda B, x, b, C, D, d: B.T @ C @ (D @ x + d) + D.T @ C.T @ (B @ x + b),
             "B'*C*(D*x + d) + D'*C'*(B*x + b)", "D'*C'*(B*x + b) + B'*C*(D*x + d)"),
    Identity("81", "x'*B*x", "x", {"x": (3,), "B": (3, 3)},
             lambda x, B: x @ B @ x, lambda x, B: (B + B.T) @ x, "(B + B')*x", "(B + B')*x"),
    Identity("82", "b'*X'*D*X*c", "X", {"b": (4,), "X": (3, 4), "D": (3, 3), "c": (4,)},
             lambda b, X, D, c: b @ X.T @ D @ X @ c,
             lambda b, X, D, c: D.T @ X @ outer(b, c) + D @ X @ outer(c, b),
             "D'*X*b*c' + D*X*c*b'", "D'*X*b*c' + D*X*c*b'"),
    Identity("83", "(X*b+c)'*D*(X*b+c)", "X", {"X": (3, 4), "b": (4,), "c": (3,), "D": (3, 3)},
             lambda X, b, c, D: (X @ b + c) @ D @ (X @ b + c),
             lambda X, b, c, D: outer((D + D.T) @ (X @ b + c), b),
             "(D + D')*(X*b + c)*b'", "(D + D')*(X*b + c)*b'"),
    # ---------------------------------------------------------------- 2.5 traces, first order
    Identity("99", "tr(X)", "X", {"X": (3, 3)},
             lambda X: tr(X), lambda X: np.eye(3), "eye(n)", "eye(n)"),
    Identity("100", "tr(X*A)", "X", {"X": (3, 4), "A": (4, 3)},
             lambda X, A: tr(X @ A), lambda X, A: A.T, "A'", "A'"),
    Identity("101", "tr(A*X*B)", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 2)},
             lambda A, X, B: tr(A @ X @ B), lambda A, X, B: A.T @ B.T, "A'*B'", "A'*B'"),
    Identity("102", "tr(A*X'*B)", "X", {"A": (2, 4), "X": (3, 4), "B": (3, 2)},
             lambda A, X, B: tr(A @ X.T @ B), lambda A, X, B: B @ A, "B*A", "B*A"),
    Identity("103", "tr(X'*A)", "X", {"X": (3, 4), "A": (3, 4)},
             lambda X, A: tr(X.T @ A), lambda X, A: A, "A", "A"),
    Identity("104", "tr(A*X')", "X", {"A": (3, 4), "X": (3, 4)},
             lambda A, X: tr(A @ X.T), lambda A, X: A, "A", "A"),
    # ---------------------------------------------------------------- 2.5 traces, second order
    Identity("106", "tr(X^2)", "X", {"X": (3, 3)},
             lambda X: tr(X @ X), lambda X: 2 * X.T, "2*X'", "2*X'"),
    Identity("107", "tr(X*X*B)", "X", {"X": (3, 3), "B": (3, 3)},
             lambda X, B: tr(X @ X @ B), lambda X, B: (X @ B + B @ X).T,
             "(X*B + B*X)'", "(X*B + B*X)'"),
    Identity("108", "tr(X'*B*X)", "X", {"X": (3, 4), "B": (3, 3)},
             lambda X, B: tr(X.T @ B @ X), lambda X, B: B @ X + B.T @ X,
             "B*X + B'*X", "(B + B')*X"),
    Identity("109", "tr(B*X*X')", "X", {"B": (3, 3), "X": (3, 4)},
             lambda B, X: tr(B @ X @ X.T), lambda B, X: B @ X + B.T @ X,
             "B*X + B'*X", "(B + B')*X"),
    Identity("110", "tr(X*X'*B)", "X", {"X": (3, 4), "B": (3, 3)},
             lambda X, B: tr(X @ X.T @ B), lambda X, B: B @ X + B.T @ X,
             "B*X + B'*X", "(B + B')*X"),
    Identity("111", "tr(X*B*X')", "X", {"X": (3, 4), "B": (4, 4)},
             lambda X, B: tr(X @ B @ X.T), lambda X, B: X @ B.T + X @ B,
             "X*B' + X*B", "X*(B + B')"),
    Identity("112", "tr(B*X'*X)", "X", {"B": (4, 4), "X": (3, 4)},
             lambda B, X: tr(B @ X.T @ X), lambda B, X: X @ B.T + X @ B,
             "X*B' + X*B", "X*(B + B')"),
    Identity("113", "tr(X'*X*B)", "X", {"X": (3, 4), "B": (4, 4)},
             lambda X, B: tr(X.T @ X @ B), lambda X, B: X @ B.T + X @ B,
             "X*B' + X*B", "X*(B + B')"),
    Identity("114", "tr(A*X*B*X)", "X", {"A": (4, 3), "X": (3, 4), "B": (4, 3)},
             lambda A, X, B: tr(A @ X @ B @ X), lambda A, X, B: A.T @ X.T @ B.T + B.T @ X.T @ A.T,
             "A'*X'*B' + B'*X'*A'", "(A*X*B + B*X*A)'"),
    Identity("115", "tr(X'*X)", "X", {"X": (3, 4)},
             lambda X: tr(X.T @ X), lambda X: 2 * X, "2*X", "2*X"),
    Identity("115", "tr(X*X')", "X", {"X": (3, 4)},
             lambda X: tr(X @ X.T), lambda X: 2 * X, "2*X", "2*X"),
    Identity("116", "tr(B'*X'*C*X*B)", "X", {"B": (4, 2), "X": (3, 4), "C": (3, 3)},
             lambda B, X, C: tr(B.T @ X.T @ C @ X @ B), lambda B, X, C: C.T @ X @ B @ B.T + C @ X @ B @ B.T,
             "C'*X*B*B' + C*X*B*B'", "(C + C')*X*B*B'"),
    Identity("117", "tr(X'*B*X*C)", "X", {"X": (3, 4), "B": (3, 3), "C": (4, 4)},
             lambda X, B, C: tr(X.T @ B @ X @ C), lambda X, B, C: B @ X @ C + B.T @ X @ C.T,
             "B*X*C + B'*X*C'", "B'*X*C' + B*X*C"),
    Identity("118", "tr(A*X*B*X'*C)", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 4), "C": (3, 2)},
             lambda A, X, B, C: tr(A @ X @ B @ X.T @ C),
             lambda A, X, B, C: A.T @ C.T @ X @ B.T + C @ A @ X @ B,
             "A'*C'*X*B' + C*A*X*B", "C*A*X*B + A'*C'*X*B'"),
    Identity("119", "tr((A*X*B+C)*(A*X*B+C)')", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 5), "C": (2, 5)},
             lambda A, X, B, C: tr((A @ X @ B + C) @ (A @ X @ B + C).T),
             lambda A, X, B, C: 2 * A.T @ (A @ X @ B + C) @ B.T,
             "2*A'*(A*X*B + C)*B'", "2*A'*(A*X*B + C)*B'"),
    # ---------------------------------------------------------------- 2.5 higher order, other
    Identity("121", "tr(X^3)", "X", {"X": (3, 3)},
             lambda X: tr(X @ X @ X), lambda X: 3 * (X @ X).T, "3*(X^2)'", "3*(X^2)'"),
    Identity("124", "tr(A*X^(-1)*B)", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)},
             lambda A, X, B: tr(A @ inv(X) @ B), lambda A, X, B: -inv(X).T @ A.T @ B.T @ inv(X).T,
             "-inv(X)'*A'*B'*inv(X)'", "-inv(X)'*A'*B'*inv(X)'"),
    # ---------------------------------------------------------------- 2.6 norms
    Identity("129", "norm(x-a)", "x", {"x": (3,), "a": (3,)},
             lambda x, a: np.linalg.norm(x - a), lambda x, a: (x - a) / np.linalg.norm(x - a),
             "(x - a)/norm(x - a)", "t1 = x - a; t1/norm(t1)"),
    Identity("131", "norm(x)^2", "x", {"x": (3,)},
             lambda x: x @ x, lambda x: 2 * x, "2*x", "2*x"),
    Identity("132", "norm(X)^2", "X", {"X": (3, 4)},
             lambda X: np.sum(X * X), lambda X: 2 * X, "2*X", "2*X"),
]


def _draw(sizes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Standard normal entries; a square matrix is 2I plus a quarter of them, so that it is
    well conditioned with a positive determinant (the domain of logdet and inv)."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in sizes.items():
        v = rng.standard_normal(shape)
        if len(shape) == 2 and shape[0] == shape[1]:
            v = 2 * np.eye(shape[0]) + 0.25 * v
            assert det(v) > 0
        values[name] = v
    return values


def _central(identity: Identity, values: dict[str, np.ndarray]) -> np.ndarray:
    def f(v):
        return identity.f(**{**values, identity.wrt: v})
    return central_gradient(f, values[identity.wrt])


@pytest.mark.parametrize("identity", IDENTITIES, ids=str)
@pytest.mark.parametrize("seed", [0, 1])
def test_cookbook_numerically(identity, seed):
    """Central differences of the function equal the Cookbook's right-hand side, and so does
    matcalc's derivative evaluated at the same point."""
    values = _draw(identity.sizes, seed)
    want = identity.rhs(**values)
    np.testing.assert_allclose(_central(identity, values), want, rtol=1e-6, atol=1e-7)
    got = matcalc.derive(identity.expr, identity.wrt, shapes=identity.shapes).numpy()(**values)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("identity", IDENTITIES, ids=str)
def test_cookbook_printed_form(identity):
    """The printed text is the form recorded here; its Unicode face says the same."""
    d = matcalc.derive(identity.expr, identity.wrt, shapes=identity.shapes)
    assert d.text() == identity.text
    assert str(d).splitlines()[-1].startswith(f"∂f/∂{identity.wrt} = ")


@pytest.mark.parametrize("identity", IDENTITIES, ids=str)
def test_cookbook_form_is_graded_correct(identity):
    """The Cookbook's right-hand side, typed as an answer, is graded correct."""
    verdict = matcalc.check(identity.expr, identity.wrt, identity.answer, shapes=identity.shapes)
    assert verdict.correct, str(verdict)
    assert verdict.diagnosis == "correct"


def test_the_catalogue_cites_twenty_or_more_equations():
    assert len({i.eq for i in IDENTITIES}) >= 20


# -------------------------------------------------------------------- tensors and second order
def _square(seed: int = 0) -> np.ndarray:
    """A well-conditioned 3×3 matrix with a positive determinant, drawn as ``_draw`` draws."""
    return _draw({"X": (3, 3)}, seed)["X"]


def test_eq_60_derivative_of_the_inverse_entrywise():
    """(60) ∂(X⁻¹)ₖₗ/∂Xᵢⱼ = −(X⁻¹)ₖᵢ (X⁻¹)ⱼₗ: the 4-D derivative of inv(X) against the Cookbook's
    formula, and the formula against central differences."""
    X = _square()
    got = matcalc.derive("inv(X)", "X", shapes={"X": (3, 3)}).numpy()(X=X)   # [k, l, i, j]
    Y = inv(X)
    want = -np.einsum("ki,jl->klij", Y, Y)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    for i, j in np.ndindex(3, 3):
        np.testing.assert_allclose(_central_entry(inv, X, i, j), want[:, :, i, j], rtol=1e-6, atol=1e-8)


def _central_entry(F, X: np.ndarray, i: int, j: int, h: float = 1e-6) -> np.ndarray:
    """(F(X + h Eᵢⱼ) − F(X − h Eᵢⱼ)) / 2h for an array-valued F."""
    E = np.zeros_like(X)
    E[i, j] = h
    return (F(X + E) - F(X - E)) / (2 * h)


HESSIANS = [
    # (what it is, expr, sizes, the Hessian in NumPy, the Cookbook's gradient in NumPy, printed text)
    ("(81) differentiated again", "x'*B*x", {"x": (3,), "B": (3, 3)},
     lambda x, B: B + B.T, lambda x, B: (B + B.T) @ x, "B + B'"),
    ("(78) differentiated again", "(B*x+b)'*C*(D*x+d)",
     {"B": (2, 3), "x": (3,), "b": (2,), "C": (2, 4), "D": (4, 3), "d": (4,)},
     lambda B, x, b, C, D, d: B.T @ C @ D + D.T @ C.T @ B,
     lambda B, x, b, C, D, d: B.T @ C @ (D @ x + d) + D.T @ C.T @ (B @ x + b), "B'*C*D + D'*C'*B"),
    ("(131) differentiated again", "norm(x)^2", {"x": (3,)},
     lambda x: 2 * np.eye(3), lambda x: 2 * x, "2*eye(n)"),
    ("(130): ∂/∂x of (129)", "norm(x-a)", {"x": (3,), "a": (3,)},
     lambda x, a: np.eye(3) / np.linalg.norm(x - a) - outer(x - a, x - a) / np.linalg.norm(x - a) ** 3,
     lambda x, a: (x - a) / np.linalg.norm(x - a),
     "t1 = x - a; t2 = norm(t1); eye(n)/t2 - t1*t1'/t2^3"),
]


@pytest.mark.parametrize("what,expr,sizes,hess,grad,text", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_cookbook_hessians(what, expr, sizes, hess, grad, text):
    """The Hessian equals the Cookbook's formula, which equals central differences of the
    Cookbook's gradient; it prints as recorded."""
    h = matcalc.hessian(expr, "x")
    assert h.text() == text
    values = _draw(sizes, 0)
    want = hess(**values)
    x = values["x"]
    fd = np.stack([_central_entry(lambda v: grad(**{**values, "x": v[:, 0]}), x[:, None], k, 0)
                   for k in range(len(x))], axis=1)
    np.testing.assert_allclose(fd, want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(h.numpy()(**values), want, rtol=1e-9, atol=1e-11)


def test_eq_57_and_60_the_hessian_of_logdet():
    """Differentiating (57) ∂ log det X/∂X = X⁻ᵀ entrywise with (60):
    ∂²/∂Xᵢⱼ∂Xₖₗ log det X = −(X⁻¹)ⱼₖ (X⁻¹)ₗᵢ; matcalc prints it in vec form, −(X⁻¹ ⊗ X⁻ᵀ) K."""
    h = matcalc.hessian("logdet(X)", "X", shapes={"X": (3, 3)})
    assert h.text() == "-kron(inv(X), inv(X)')*commutation(3, 3)"
    X = _square()
    Y = inv(X)
    want = -np.einsum("jk,li->ijkl", Y, Y)
    for k, l_ in np.ndindex(3, 3):
        np.testing.assert_allclose(_central_entry(lambda v: inv(v).T, X, k, l_), want[:, :, k, l_],
                                   rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(h.numpy()(X=X), want, rtol=1e-9, atol=1e-12)
