"""Matrix-by-matrix derivatives through a transpose: the commutation matrix (issue 6, item 2).

K₍ₘ,ₙ₎ is the mn × mn permutation with K₍ₘ,ₙ₎ vec(X) = vec(Xᵀ) for X m×n (Matrix Cookbook §9.3,
eq. 520ff).  Every printed result below is also checked numerically: ``.numpy()`` against central
differences of the function, ``verify()``, and the ``.text()`` form parsed back and evaluated
against the same numbers (column-major vec).  Index-form results (no Kronecker form) and the
differential fallback are checked the same way.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from matcalc.core import algebra as A
from matcalc import derive
from matcalc import check
from matcalc import hessian
from matcalc.language.program import typed_program
from matcalc.core.errors import ShapeError
from matcalc.core.graph import dim
from matcalc.second_order.kronecker import kmatmul
from matcalc.numeric.evaluate import evaluate, to_internal
from matcalc.core.rules import commutation_matrix
from matcalc.output.to_sympy import to_sympy

RNG = np.random.default_rng(11)
STEP = 1e-6
LEGEND = "K₍{},{}₎ vec(X) = vec(Xᵀ), the commutation matrix"


def vec(M):
    return np.asarray(M).reshape(-1, 1, order="F")


def close(got, want, tol=1e-6):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    assert float(np.max(np.abs(got - want), initial=0.0)) / scale < tol


def values(shapes, spd=()):
    v = {n: RNG.standard_normal(s) if s else float(RNG.standard_normal()) for n, s in shapes.items()}
    for n in spd:
        B = RNG.standard_normal(shapes[n])
        v[n] = B @ B.T + shapes[n][0] * np.eye(shapes[n][0])
    return v


def fd_derivative(expr, wrt, v, shapes):
    """d out[i,j] / d X[k,l] (external shapes) by central differences of the program."""
    typed = typed_program(expr, shapes, None)

    def f(vals):
        env = {n: to_internal(vals[n], x.attrs[1]) for n, x in typed.variables.items()}
        return evaluate([typed.output], env)[0]
    X = np.asarray(v[wrt], dtype=float)
    r, c = np.shape(f(v))
    out_shape = () if typed.output.is_scalar else (r,) if typed.output.is_column else (r, c)
    out = np.zeros(out_shape + X.shape)
    for idx in np.ndindex(*X.shape):
        E = np.zeros(X.shape)
        E[idx] = 1.0
        diff = (f({**v, wrt: X + STEP * E}) - f({**v, wrt: X - STEP * E})) / (2 * STEP)
        out[(...,) + idx] = diff.reshape(out_shape)
    return out


def fd_hessian(expr, wrt, v, shapes):
    grad = derive(expr, wrt, shapes=shapes).numpy()
    X = np.asarray(v[wrt], dtype=float)
    out = np.zeros(X.shape + X.shape)
    for idx in np.ndindex(*X.shape):
        E = np.zeros(X.shape)
        E[idx] = 1.0
        out[(...,) + idx] = (grad(**{**v, wrt: X + STEP * E}) - grad(**{**v, wrt: X - STEP * E})) / (2 * STEP)
    return out


def eval_text(text, v, shapes):
    """A printed ``.text()`` form, parsed back by matcalc's grammar and evaluated at ``v``."""
    typed = typed_program(text, {n: s for n, s in shapes.items()}, None)
    env = {n: to_internal(v[n], x.attrs[1]) for n, x in typed.variables.items()}
    return evaluate([typed.output], env)[0]


def as_vec_matrix(T4, out_shape, var_shape):
    """The 4-D array [i, j, k, l] as the matrix ∂vec(F)/∂vec(X)ᵀ (column-major)."""
    r, c = (out_shape + (1, 1))[:2] if len(out_shape) < 2 else out_shape
    p, q = (var_shape + (1, 1))[:2] if len(var_shape) < 2 else var_shape
    return T4.reshape(r, c, p, q).transpose(1, 0, 3, 2).reshape(r * c, p * q)


# ---------------------------------------------------------------------- K itself
@pytest.mark.parametrize("m,n", [(2, 3), (3, 2), (4, 4), (1, 5), (5, 1)])
def test_commutation_matrix_identities(m, n):
    """Cookbook §9.3: K vec(X) = vec(Xᵀ); Kᵀ = K₍ₙ,ₘ₎ = K⁻¹; K₍₁,ₙ₎ = K₍ₙ,₁₎ = I."""
    K = commutation_matrix(m, n)
    X = RNG.standard_normal((m, n))
    close(K @ vec(X), vec(X.T))
    close(K.T, commutation_matrix(n, m))
    close(K @ commutation_matrix(n, m), np.eye(m * n))
    assert sorted(K.sum(axis=0)) == [1.0] * (m * n) and sorted(K.sum(axis=1)) == [1.0] * (m * n)
    if m == 1 or n == 1:
        close(K, np.eye(m * n))


@pytest.mark.parametrize("m,n,p,q", [(2, 3, 4, 2), (3, 3, 2, 2), (1, 2, 3, 1)])
def test_commutation_swaps_kronecker_factors(m, n, p, q):
    """K₍ₚ,ₘ₎ (A ⊗ B) K₍q,n₎ = B ⊗ A for A m×n, B p×q (Magnus & Neudecker; Cookbook 9.3)."""
    Am, Bm = RNG.standard_normal((m, n)), RNG.standard_normal((p, q))
    close(commutation_matrix(p, m) @ np.kron(Am, Bm) @ commutation_matrix(n, q), np.kron(Bm, Am))
    close(commutation_matrix(p, m) @ np.kron(Am, Bm), np.kron(Bm, Am) @ commutation_matrix(n, q).T)


def test_commutation_constructor_simplifies():
    m, n = dim("m"), dim("n")
    K = A.commutation(m, n)
    assert K.shape == (m * n, m * n)
    assert A.commutation(dim(1), n).op == "eye" and A.commutation(n, dim(1)).op == "eye"
    assert A.transpose(K) is A.commutation(n, m)
    assert A.inv(K) is A.commutation(n, m)
    assert A.matmul(K, A.commutation(n, m)).op == "eye"
    assert A.transpose(A.commutation(n, n)) is A.commutation(n, n)
    assert A.is_symmetric(A.commutation(n, n)) and not A.is_symmetric(K)


def test_commutation_moves_right_through_kronecker_products():
    """kmatmul's normal form: K (A ⊗ B) = (B ⊗ A) K, K diag(vec(C)) = diag(vec(Cᵀ)) K."""
    sizes = {"m": 2, "n": 3, "p": 4, "q": 2}
    Am = A.var("Am", (dim("m"), dim("n")), 2)
    Bm = A.var("Bm", (dim("p"), dim("q")), 2)
    C = A.var("C", (dim("p"), dim("m")), 2)
    K = A.commutation(dim("p"), dim("m"))
    v = {"Am": RNG.standard_normal((2, 3)), "Bm": RNG.standard_normal((4, 2)), "C": RNG.standard_normal((4, 2))}
    Kn = commutation_matrix(sizes["p"], sizes["m"])
    moved = kmatmul(K, A.kron(Am, Bm))
    assert [f.op for f in (moved.args if moved.op == "matmul" else [moved])] == ["kron", "commutation"]
    close(evaluate([moved], v)[0], Kn @ np.kron(v["Am"], v["Bm"]))
    moved = kmatmul(K, A.diag(A.vec(C)))
    assert moved.op == "matmul" and moved.args[1].op == "commutation"
    close(evaluate([moved], v)[0], Kn @ np.diag(vec(v["C"]).ravel()))
    assert kmatmul(K, A.commutation(dim("m"), dim("p"))).op == "eye"


def test_commutation_in_the_language():
    """commutation(m, n) is a dimension function like eye(k); its text form parses back."""
    d = derive("commutation(m, n)*vec(X)", "X", shapes={"X": ("m", "n")})
    assert str(d).splitlines()[0] == "∂vec(K₍ₘ,ₙ₎ vec(X))/∂vec(X)ᵀ = K₍ₘ,ₙ₎"
    assert d.text() == "commutation(m, n)"
    rows = d.latex().splitlines()                  # the result and the legend: one aligned block
    assert rows[0] == r"\begin{aligned}" and rows[1].startswith(r"\frac{\partial \operatorname{vec}(f)}")
    assert rows[1].endswith(r"&= K_{(m,n)} \\") and rows[2].startswith(r"&\text{where } K_{(m,n)}")
    X = RNG.standard_normal((3, 2))
    close(eval_text("commutation(3, 2)*vec(X)", {"X": X}, {"X": (3, 2)}), vec(X.T))
    with pytest.raises(ShapeError, match="two dimensions"):
        typed_program("commutation(3)*vec(X)", {"X": (3, 1)}, None)


def test_commutation_to_sympy():
    K = to_sympy(A.commutation(dim(2), dim(3)))
    assert isinstance(K, sympy.ImmutableMatrix)
    close(np.array(K.tolist(), dtype=float), commutation_matrix(2, 3))
    sym = to_sympy(A.commutation(dim("m"), dim("n")))
    assert str(sym) == "K_(m,n)" and [str(d) for d in sym.shape] == ["m*n", "m*n"]


# ---------------------------------------------------------------------- derive: vec/Kronecker form
# expr, wrt, symbolic shapes (for the printed form), concrete shapes, unicode, text
DERIVE = [
    ("X'", "X", {"X": ("m", "n")}, {"X": (3, 2)},
     "∂vec(Xᵀ)/∂vec(X)ᵀ = K₍ₘ,ₙ₎", "commutation(m, n)"),
    ("X'*A", "X", {"X": ("m", "n"), "A": ("m", "p")}, {"X": (3, 2), "A": (3, 4)},
     "∂vec(Xᵀ A)/∂vec(X)ᵀ = (Aᵀ ⊗ I) K₍ₘ,ₙ₎", "kron(A', eye(n))*commutation(m, n)"),
    ("X'*A*X", "X", {"X": ("m", "n"), "A": ("m", "m")}, {"X": (3, 2), "A": (3, 3)},
     "∂vec(Xᵀ A X)/∂vec(X)ᵀ = ((Xᵀ Aᵀ) ⊗ I) K₍ₘ,ₙ₎ + I ⊗ (Xᵀ A)",
     "kron(X'*A', eye(n))*commutation(m, n) + kron(eye(n), X'*A)"),
    ("A*X'*B", "X", {"A": ("p", "n"), "X": ("m", "n"), "B": ("m", "q")}, {"A": (4, 2), "X": (3, 2), "B": (3, 5)},
     "∂vec(A Xᵀ B)/∂vec(X)ᵀ = (Bᵀ ⊗ A) K₍ₘ,ₙ₎", "kron(B', A)*commutation(m, n)"),
    ("X'*X", "X", {"X": ("m", "n")}, {"X": (4, 3)},
     "∂vec(Xᵀ X)/∂vec(X)ᵀ = (Xᵀ ⊗ I) K₍ₘ,ₙ₎ + I ⊗ Xᵀ", "kron(X', eye(n))*commutation(m, n) + kron(eye(n), X')"),
    ("X.*X'", "X", {"X": ("n", "n")}, {"X": (3, 3)},
     "∂vec(X ∘ Xᵀ)/∂vec(X)ᵀ = diag(vec(Xᵀ)) + diag(vec(X)) K₍ₙ,ₙ₎", "diag(vec(X')) + diag(vec(X))*commutation(n, n)"),
    ("inv(X)'", "X", {"X": ("n", "n")}, {"X": (3, 3)},
     "∂vec(X⁻ᵀ)/∂vec(X)ᵀ = −(X⁻¹ ⊗ X⁻ᵀ) K₍ₙ,ₙ₎", "-kron(inv(X), inv(X)')*commutation(n, n)"),
    ("(X*X)'", "X", {"X": ("n", "n")}, {"X": (3, 3)},
     "∂vec(Xᵀ Xᵀ)/∂vec(X)ᵀ = (X ⊗ I + I ⊗ Xᵀ) K₍ₙ,ₙ₎", "(kron(X, eye(n)) + kron(eye(n), X'))*commutation(n, n)"),
    ("lam*X'", "X", {"X": ("m", "n"), "lam": ()}, {"X": (2, 4), "lam": ()},
     "∂vec(lam Xᵀ)/∂vec(X)ᵀ = lam K₍ₘ,ₙ₎", "lam*commutation(m, n)"),
    # no commutation matrix: unchanged, and K₍₁,ₙ₎ = I keeps vector outputs free of it
    ("W*X", "X", {"W": ("p", "m"), "X": ("m", "n")}, {"W": (4, 3), "X": (3, 2)},
     "∂vec(W X)/∂vec(X)ᵀ = I ⊗ W", "kron(eye(n), W)"),
    ("A*X*B", "X", {"A": ("p", "m"), "X": ("m", "n"), "B": ("n", "q")}, {"A": (2, 3), "X": (3, 4), "B": (4, 2)},
     "∂vec(A X B)/∂vec(X)ᵀ = Bᵀ ⊗ A", "kron(B', A)"),
    ("inv(X)", "X", {"X": ("n", "n")}, {"X": (3, 3)}, "∂vec(X⁻¹)/∂vec(X)ᵀ = −X⁻ᵀ ⊗ X⁻¹", "-kron(inv(X)', inv(X))"),
    ("X.*X", "X", {"X": ("m", "n")}, {"X": (3, 2)}, "∂vec(X^∘2)/∂vec(X)ᵀ = 2 diag(vec(X))", "2*diag(vec(X))"),
    ("X'*a", "X", {"X": ("m", "n"), "a": ("m",)}, {"X": (3, 2), "a": (3,)}, "∂vec(Xᵀ a)/∂vec(X)ᵀ = I ⊗ aᵀ",
     "kron(eye(n), a')"),
]


@pytest.mark.parametrize("expr,wrt,symbolic,shapes,pretty,text", DERIVE, ids=[c[0] for c in DERIVE])
def test_derive_vec_form(expr, wrt, symbolic, shapes, pretty, text):
    d = derive(expr, wrt, shapes=symbolic)
    lines = str(d).splitlines()
    assert lines[0] == pretty
    if "K₍" in pretty:                              # a legend under results that use K
        m, n = pretty.split("K₍")[1].split("₎")[0].split(",")
        assert lines[1:] == [LEGEND.format(m, n)]
        assert "K_{(" in d.latex() and "commutation matrix" in d.latex()
    else:
        assert len(lines) == 1
    assert d.text() == text
    assert "∂f/∂" not in str(d)

    c = derive(expr, wrt, shapes=shapes)            # the same with numbers
    assert c.kind == "tensor" and c.forms[wrt] == "vec"
    v = values(shapes, spd=["X"] if "inv" in expr else [])
    got = c.numpy()(**v)
    want = fd_derivative(expr, wrt, v, shapes)
    close(got, want)                                # out.shape + X.shape
    assert got.shape == np.shape(want)
    out_shape = got.shape[:got.ndim - len(shapes[wrt])]
    M = eval_text(c.text(), v, shapes)              # the printed form, parsed back and evaluated
    close(M, as_vec_matrix(want, out_shape, shapes[wrt]))
    assert c.verify().ok
    assert c.jacobian is not None and c.jacobian.shape == (M.shape[0], M.shape[1])


def test_non_square_shapes_name_k_by_the_variable():
    """X is 2×5: K₍₂,₅₎ vec(X) = vec(Xᵀ), so ∂vec(Xᵀ)/∂vec(X)ᵀ = K₍₂,₅₎ (10×10)."""
    d = derive("X'", "X", shapes={"X": (2, 5)})
    assert str(d) == "∂vec(Xᵀ)/∂vec(X)ᵀ = K₍₂,₅₎\n" + LEGEND.format("₂", "₅")
    X = RNG.standard_normal((2, 5))
    T4 = d.numpy()(X=X)
    assert T4.shape == (5, 2, 2, 5)
    close(as_vec_matrix(T4, (5, 2), (2, 5)), commutation_matrix(2, 5))
    close(T4, np.einsum("il,jk->ijkl", np.eye(5), np.eye(2)))    # ∂(Xᵀ)ᵢⱼ/∂Xₖₗ = δᵢₗ δⱼₖ


def test_legend_names_a_commutation_matrix_of_another_size():
    """K₍₂,₃₎ for a 3×2 X is not 'K vec(X)': the legend then says what it does to any M."""
    h = hessian("v = vec(X); sum((commutation(3, 2)*v) .* v)", "X", shapes={"X": (3, 2)})
    assert str(h).splitlines()[1:] == [LEGEND.format("₃", "₂"),
                                       "K₍₂,₃₎ vec(M) = vec(Mᵀ), the commutation matrix for any 2×3 matrix M"]
    assert h.verify().ok


# ---------------------------------------------------------------------- Hessians by a matrix
# expr, symbolic shapes, concrete shapes, unicode (first line), text
HESSIANS = [
    ("trace(X*X)", {"X": ("n", "n")}, {"X": (3, 3)}, "∂²f/∂vec(X)∂vec(X)ᵀ = 2 K₍ₙ,ₙ₎", "2*commutation(n, n)"),
    ("sum(X.*X')", {"X": ("n", "n")}, {"X": (3, 3)}, "∂²f/∂vec(X)∂vec(X)ᵀ = 2 K₍ₙ,ₙ₎", "2*commutation(n, n)"),
    ("trace(X*X*X)", {"X": ("n", "n")}, {"X": (3, 3)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = 3(X ⊗ I + I ⊗ Xᵀ) K₍ₙ,ₙ₎", "3*(kron(X, eye(n)) + kron(eye(n), X'))*commutation(n, n)"),
    ("trace(A*X*B*X)", {"X": ("m", "n"), "A": ("n", "m"), "B": ("n", "m")}, {"X": (3, 2), "A": (2, 3), "B": (2, 3)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = (A ⊗ Bᵀ + B ⊗ Aᵀ) K₍ₘ,ₙ₎", "(kron(A, B') + kron(B, A'))*commutation(m, n)"),
    ("trace(A*X'*B*X')", {"X": ("m", "n"), "A": ("m", "n"), "B": ("m", "n")}, {"X": (3, 2), "A": (3, 2), "B": (3, 2)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = (Bᵀ ⊗ A + Aᵀ ⊗ B) K₍ₘ,ₙ₎", "(kron(B', A) + kron(A', B))*commutation(m, n)"),
    ("logdet(X)", {"X": ("n", "n")}, {"X": (3, 3)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = −(X⁻¹ ⊗ X⁻ᵀ) K₍ₙ,ₙ₎", "-kron(inv(X), inv(X)')*commutation(n, n)"),
    # the commutation matrix cancels or never appears
    ("trace(A*X')^2", {"X": ("m", "n"), "A": ("m", "n")}, {"X": (3, 2), "A": (3, 2)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = 2 vec(A) vec(A)ᵀ", "2*vec(A)*vec(A)'"),
    ("trace(A*X')", {"X": ("m", "n"), "A": ("m", "n")}, {"X": (3, 2), "A": (3, 2)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = 0", "0*kron(ones(m, m), ones(n, n))"),
    ("trace(X'*A*X)", {"X": ("m", "n"), "A": ("m", "m")}, {"X": (3, 2), "A": (3, 3)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = I ⊗ (A + Aᵀ)", "kron(eye(n), A + A')"),
    ("norm(X'*A)^2", {"X": ("m", "n"), "A": ("m", "p")}, {"X": (3, 2), "A": (3, 4)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = 2(I ⊗ (A Aᵀ))", "2*kron(eye(n), A*A')"),
    ("trace(X*A*X'*B)", {"X": ("m", "n"), "A": ("n", "n"), "B": ("m", "m")}, {"X": (3, 2), "A": (2, 2), "B": (3, 3)},
     "∂²f/∂vec(X)∂vec(X)ᵀ = Aᵀ ⊗ B + A ⊗ Bᵀ", "kron(A', B) + kron(A, B')"),
]


@pytest.mark.parametrize("expr,symbolic,shapes,pretty,text", HESSIANS, ids=[c[0] for c in HESSIANS])
def test_hessian_vec_form(expr, symbolic, shapes, pretty, text):
    h = hessian(expr, "X", shapes=symbolic)
    lines = str(h).splitlines()
    assert lines[0] == pretty
    assert lines[1:] == ([LEGEND.format(*pretty.split("K₍")[1].split("₎")[0].split(","))] if "K₍" in pretty else [])
    assert h.text() == text and h.forms["X"] == "vec"

    c = hessian(expr, "X", shapes=shapes)
    v = values(shapes, spd=["X"] if "logdet" in expr else [])
    got = c.numpy()(**v)
    assert got.shape == shapes["X"] + shapes["X"]
    close(got, fd_hessian(expr, "X", v, shapes))
    M = eval_text(c.text(), v, shapes)
    N = int(np.prod(shapes["X"]))
    close(np.broadcast_to(M, (N, N)), as_vec_matrix(got, shapes["X"], shapes["X"]))
    assert c.verify().ok


def test_hessian_answers_with_the_commutation_matrix_are_checked():
    shapes = {"X": (3, 3)}
    assert check("trace(X*X)", "X", "2*commutation(3, 3)", shapes=shapes, form="hessian").correct
    assert check("trace(X*X)", "X", "commutation(3, 3)' + commutation(3, 3)", shapes=shapes, form="hessian").correct
    wrong = check("trace(X*X)", "X", "2*eye(9)", shapes=shapes, form="hessian")
    assert not wrong.correct and wrong.diagnosis == "wrong"
    assert check("trace(X*X)", "X", "2*commutation(n, n)", shapes={"X": ("n", "n")}, form="hessian").correct
    shapes = {"X": (3, 2), "A": (2, 3), "B": (2, 3)}
    other = "commutation(2, 3)*(kron(A', B) + kron(B', A))"     # K on the left: the same matrix
    assert check("trace(A*X*B*X)", "X", other, shapes=shapes, form="hessian").correct
    # an index-form Hessian is checked by its numbers
    assert check("sum(diag(X).^3)", "X", "6*diag(vec(X .* eye(3)))", shapes={"X": (3, 3)}, form="hessian").correct
    assert not check("sum(diag(X).^3)", "X", "6*diag(vec(X))", shapes={"X": (3, 3)}, form="hessian").correct


# ---------------------------------------------------------------------- index form and what remains
INDEXED = [
    ("diag(X)", "X", {"X": (3, 3)}, "∂(diag(X))ᵢ/∂Xₖₗ = δᵢₖ δᵢₗ", "d(diag(X))[i]/dX[k,l] = delta[i,k]*delta[i,l]"),
    ("diag(x)", "x", {"x": (3,)}, "∂(diag(x))ᵢⱼ/∂xₖ = δᵢⱼ δᵢₖ", "d(diag(x))[i,j]/dx[k] = delta[i,j]*delta[i,k]"),
    ("diag(X)*diag(X)'", "X", {"X": (3, 3)}, "∂(diag(X) diag(X)ᵀ)ᵢⱼ/∂Xₖₗ = diag(X)ⱼ δᵢₖ δᵢₗ + diag(X)ᵢ δⱼₖ δⱼₗ",
     "d(diag(X)*diag(X)')[i,j]/dX[k,l] = diag(X)[j]*delta[i,k]*delta[i,l] + diag(X)[i]*delta[j,k]*delta[j,l]"),
    ("Y = X'*A; Z = diag(Y)", "X", {"X": (3, 2), "A": (3, 2)}, "∂Zᵢ/∂Xₖₗ = Aₖᵢ δᵢₗ", "dZ[i]/dX[k,l] = A[k,i]*delta[i,l]"),
    ("diag(X'*A*x)", "X", {"X": (3, 3), "A": (3, 3), "x": (3,)}, "∂(diag(Xᵀ A x))ᵢⱼ/∂Xₖₗ = (A x)ₖ δᵢⱼ δᵢₗ",
     "d(diag(X'*A*x))[i,j]/dX[k,l] = (A*x)[k]*delta[i,j]*delta[i,l]"),
]


@pytest.mark.parametrize("expr,wrt,shapes,pretty,text", INDEXED, ids=[c[0] for c in INDEXED])
def test_derive_index_form(expr, wrt, shapes, pretty, text):
    d = derive(expr, wrt, shapes=shapes)
    assert d.forms[wrt] == "index"
    assert str(d) == pretty and d.text() == text
    assert r"\delta_{" in d.latex()
    v = values(shapes)
    got = d.numpy()(**v)                            # evaluated from the index form itself
    close(got, fd_derivative(expr, wrt, v, shapes))
    assert d.verify().ok


def test_hessian_index_form():
    h = hessian("sum(diag(X).^3)", "X", shapes={"X": (3, 3)})
    assert h.forms["X"] == "index"
    assert str(h) == "∂²f/∂Xᵢⱼ∂Xₖₗ = 6 diag(X)ᵢ δᵢⱼ δᵢₖ δᵢₗ"
    assert h.text() == "d2f/dX[i,j]dX[k,l] = 6*diag(X)[i]*delta[i,j]*delta[i,k]*delta[i,l]"
    v = values({"X": (3, 3)})
    close(h.numpy()(**v), fd_hessian("sum(diag(X).^3)", "X", v, {"X": (3, 3)}))
    assert h.verify().ok
    mixed = hessian("y'*diag(X)", "X,y", shapes={"X": (3, 3), "y": (3,)})
    assert str(mixed) == "∂²f/∂Xᵢⱼ∂yₖ = δᵢⱼ δᵢₖ" and mixed.verify().ok


@pytest.mark.parametrize("expr,wrt,shapes,pretty", [
    ("kron(X, B)", "X", {"X": (2, 3), "B": (2, 2)}, "d(X ⊗ B) = ∂X ⊗ B"),
    ("diag(vec(X))", "X", {"X": (2, 2)}, "d(diag(vec(X))) = diag(vec(∂X))"),
])
def test_what_remains_a_differential(expr, wrt, shapes, pretty):
    """No Kronecker form and no index form (entries need index arithmetic): the differential,
    labelled as one, with exact numbers from the differential applied to each basis matrix."""
    d = derive(expr, wrt, shapes=shapes)
    assert d.forms[wrt] == "jvp" and str(d) == pretty
    v = values(shapes)
    close(d.numpy()(**v), fd_derivative(expr, wrt, v, shapes))
    assert d.verify().ok


def test_numpy_shapes_follow_the_language():
    """.numpy() is out.shape + X.shape: vectors 1-D, scalars dropped."""
    assert derive("X'*a", "X", shapes={"X": (3, 2), "a": (3,)}).numpy()(X=np.ones((3, 2)), a=np.ones(3)).shape == (2, 3, 2)
    assert derive("x*x'", "x", shapes={"x": (3,)}).numpy()(x=np.ones(3)).shape == (3, 3, 3)
    assert derive("lam*X'", "lam", shapes={"X": (2, 3), "lam": ()}).numpy()(X=np.ones((2, 3)), lam=1.0).shape == (3, 2)
