"""Derivatives of any output by any variable (LANGUAGE.md v2): by a scalar (the output's shape),
row-vector outputs (the column of their entries), vector by matrix and matrix by vector
(out.shape + var.shape, printed in vec form); each through derive (three styles), the printed
text parsed back, numbers against central differences, and check."""
import numpy as np
import pytest

import matcalc

RNG = np.random.default_rng(11)


def _central(f, x, h=1e-6):
    """d f(x) / d x as an array f.shape + x.shape (x may be a float)."""
    x = np.asarray(x, dtype=float)
    out = np.asarray(f(x))
    J = np.zeros(out.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        J[(...,) + i] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    return J


def _values(shapes):
    return {k: (float(RNG.normal()) if s == () else RNG.normal(size=s)) for k, s in shapes.items()}


# expr, wrt, shapes, forward (NumPy), the printed text
BY_SCALAR = [
    ("sin(s*v)", "s", {"s": (), "v": (4,)}, lambda s, v: np.sin(s * v), "v .* cos(s*v)"),
    ("exp(s*M)", "s", {"s": (), "M": (2, 3)}, lambda s, M: np.exp(s * M), "M .* exp(s*M)"),
    ("(u + s*v)'*B", "s", {"u": (3,), "v": (3,), "s": (), "B": (3, 2)},
     lambda u, v, s, B: (u + s * v) @ B, "v'*B"),
    ("s^2*C + s*D", "s", {"s": (), "C": (2, 2), "D": (2, 2)}, lambda s, C, D: s ** 2 * C + s * D, None),
]


@pytest.mark.parametrize("expr, wrt, shapes, f, text", BY_SCALAR)
def test_by_a_scalar_has_the_outputs_shape(expr, wrt, shapes, f, text):
    d = matcalc.derive(expr, wrt, shapes=shapes)
    assert d.kind == "jacobian"
    vals = _values(shapes)
    got = d.numpy()(**vals)
    want = _central(lambda t: f(**{**vals, wrt: t}), vals[wrt])
    assert got.shape == want.shape
    assert np.allclose(got, want, atol=1e-6)
    if text is not None:
        assert d.text() == text
    assert str(d).startswith(f"∂f/∂{wrt} = ")
    assert d.latex()
    # the text parses back and is the same derivative
    assert matcalc.check(expr, wrt, d.text(), shapes=shapes).correct


def test_by_a_scalar_transposed_answer_is_the_other_layout():
    shapes = {"s": (), "v": (4,)}
    v = matcalc.check("sin(s*v)", "s", "(v .* cos(s*v))'", shapes=shapes)
    assert not v.correct and v.diagnosis == "layout"
    assert "output's shape" in v.reason
    row = matcalc.check("(u + s*v)'*B", "s", "B'*v", shapes={"u": (3,), "v": (3,), "s": (), "B": (3, 2)})
    assert not row.correct and row.diagnosis == "layout"
    wrong = matcalc.check("exp(s*M)", "s", "exp(s*M)", shapes={"s": (), "M": (2, 3)})
    assert not wrong.correct and wrong.diagnosis != "layout"


def test_a_row_output_is_the_column_of_its_entries():
    shapes = {"w": (3,), "X": (3, 4), "c": (4,)}
    d = matcalc.derive("exp(w'*X + c')", "w", shapes=shapes)
    vals = _values(shapes)
    got = d.numpy()(**vals)
    want = _central(lambda w: np.exp(w @ vals["X"] + vals["c"]), vals["w"])
    assert got.shape == (4, 3)
    assert np.allclose(got, want, atol=1e-6)
    assert matcalc.check("exp(w'*X + c')", "w", "diag(exp(X'*w + c))*X'", shapes=shapes).correct
    assert not matcalc.check("exp(w'*X + c')", "w", "X*diag(exp(X'*w + c))", shapes=shapes).correct


def test_a_row_output_through_a_sum_and_a_scaling():
    shapes = {"x": (3,), "W": (3, 2)}
    d = matcalc.derive("(x'*x)*(x'*W)", "x", shapes=shapes)
    vals = _values(shapes)
    want = _central(lambda x: (x @ x) * (x @ vals["W"]), vals["x"])
    assert np.allclose(d.numpy()(**vals), want, atol=1e-6)


@pytest.mark.parametrize("expr, wrt, shapes, f, shape", [
    ("B*Y*v", "Y", {"B": (2, 3), "Y": (3, 4), "v": (4,)}, lambda B, Y, v: B @ Y @ v, (2, 3, 4)),
    ("Y'*u", "Y", {"Y": (3, 2), "u": (3,)}, lambda Y, u: Y.T @ u, (2, 3, 2)),
    ("u*v'*B", "u", {"u": (3,), "v": (2,), "B": (2, 4)}, lambda u, v, B: np.outer(u, v) @ B, (3, 4, 3)),
    ("tanh(Y)*v", "Y", {"Y": (2, 3), "v": (3,)}, lambda Y, v: np.tanh(Y) @ v, (2, 2, 3)),
])
def test_vector_by_matrix_and_matrix_by_vector(expr, wrt, shapes, f, shape):
    d = matcalc.derive(expr, wrt, shapes=shapes)
    vals = _values(shapes)
    got = d.numpy()(**vals)
    want = _central(lambda t: f(**{**vals, wrt: t}), vals[wrt])
    assert got.shape == shape == want.shape
    assert np.allclose(got, want, atol=1e-6)
    # the vec/Kronecker form printed is accepted by check
    assert matcalc.check(expr, wrt, d.text(), shapes=shapes).correct


def test_check_grades_a_vec_form():
    shapes = {"B": (2, 3), "Y": (3, 4), "v": (4,)}
    assert matcalc.check("B*Y*v", "Y", "kron(v', B)", shapes=shapes).correct
    wrong = matcalc.check("B*Y*v", "Y", "kron(B, v')", shapes=shapes)
    assert not wrong.correct
    shape = matcalc.check("B*Y*v", "Y", "kron(v, B)", shapes=shapes)
    assert not shape.correct and shape.diagnosis == "wrong_shape"


def test_a_row_output_prints_in_columns():
    # the transpose goes inside the elementwise functions: σ(wᵀX)ᵀ = σ(Xᵀw), as a course writes it
    d = matcalc.derive("tanh(w'*X)", "w", shapes={"w": (3,), "X": (3, 4)})
    assert d.text() == "diag(1 - tanh(X'*w).^2)*X'"
    assert str(d) == "∂f/∂w = diag(1 − tanh(Xᵀ w)²) Xᵀ"


def test_by_a_scalar_through_the_command_line(capsys):
    from matcalc.cli.main import main
    code = main(["derive", "exp(s*M)", "--wrt", "s", "--shape", "s=scalar", "--shape", "M=2,3"])
    assert code in (0, None)
    assert capsys.readouterr().out.strip() == "∂f/∂s = M ∘ exp(s M)"


def test_check_grades_a_derivative_without_a_kronecker_form_by_numbers():
    # ∂(W diag(x))/∂x has an index form only; a vec-form answer is graded at random points
    shapes = {"W": (2, 3), "x": (3,)}
    assert matcalc.derive("W*diag(x)", "x", shapes=shapes).forms["x"] != "vec"
    right = matcalc.check("W*diag(x)", "x", "diag(vec(W))*kron(eye(3), ones(2, 1))", shapes=shapes)
    assert right.correct
    wrong = matcalc.check("W*diag(x)", "x", "kron(eye(3), W)*ones(9, 3)", shapes=shapes)
    assert not wrong.correct and wrong.counterexample
