"""derive(): textbook output, numeric correctness, conventions, and the API's promises."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

import matcalc
import matcalc.language.program
from matcalc.core.errors import MatcalcError, NameError_, ShapeError

TEXTBOOK = [
    # (expr, wrt, shapes, assume, unicode result the issue asks for)
    ("norm(W*x)^2", "W", None, None, "2 W x xᵀ"),
    ("norm(W*x)^2", "x", None, None, "2 Wᵀ W x"),
    ("u'*f(W*x+b)", "W", None, None, "(u ∘ f'(W x + b)) xᵀ"),
    ("u'*f(W*x+b)", "b", None, None, "u ∘ f'(W x + b)"),
    ("a'*X*b", "X", None, None, "a bᵀ"),
    ("tr(A*X)", "X", None, None, "Aᵀ"),
    ("logdet(X)", "X", None, None, "X⁻ᵀ"),
    ("det(X)", "X", None, None, "det(X) X⁻ᵀ"),
    ("x'*A*x", "x", None, None, "(A + Aᵀ) x"),
    ("-y'*log_softmax(W*x)", "W", None, {"y": "onehot"}, "(softmax(W x) − y) xᵀ"),
    ("norm(A*X - B)^2", "X", None, None, "2 Aᵀ(A X − B)"),
    ("logdet(X)", "X", None, {"X": "spd"}, "X⁻¹"),
    ("tr(X^3)", "X", None, None, "3(X²)ᵀ"),
    ("norm(x)", "x", None, None, "x/‖x‖"),
    ("sum(-Y .* log_softmax(Z))", "Z", None, {"Y": "onehot"}, "softmax(Z) − Y"),
]


@pytest.mark.parametrize("expr,wrt,shapes,assume,want", TEXTBOOK)
def test_textbook_forms(expr, wrt, shapes, assume, want):
    d = matcalc.derive(expr, wrt, shapes=shapes, assume=assume)
    assert str(d).splitlines()[-1].split(" = ", 1)[1] == want
    assert d.verify().status == "ok"


def test_program_uses_its_own_intermediate_names():
    d = matcalc.derive("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W2")
    assert str(d).splitlines() == ["h = σ(X W1)", "Yp = h W2", "∂L/∂W2 = 2 hᵀ(Yp − Y)"]
    assert d.text() == "h = sigmoid(X*W1); Yp = h*W2; 2*h'*(Yp - Y)"


@pytest.mark.parametrize("expr,wrt,shapes,assume,want", TEXTBOOK)
def test_text_round_trips(expr, wrt, shapes, assume, want):
    """The ASCII form parses back to the same function (checked numerically)."""
    d = matcalc.derive(expr, wrt, shapes=shapes, assume=assume)
    back = matcalc.derive(expr, wrt, shapes=shapes, assume=assume)
    program = d.text()
    typed_shapes = {n: _shape_of(v) for n, v in d.typed.variables.items()}
    g = matcalc.language.program.typed_program(program, typed_shapes, assume)
    rng = np.random.default_rng(0)
    from matcalc.numeric.finite_differences import generic_functions, sample_point
    from matcalc.numeric.evaluate import evaluate
    roots = [d.results[wrt], g.output]
    functions = generic_functions(roots, None)
    env = sample_point(roots + [back.typed.output], d.typed.variables, rng, functions)
    a, b = evaluate(roots, env, functions)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _shape_of(v):
    r, c = v.shape
    nd = v.attrs[1]
    return () if nd == 0 else (str(r),) if nd == 1 else (str(r), str(c))


def test_numpy_follows_conventions():
    d = matcalc.derive("norm(W*x)^2", "W,x", shapes={"W": (3, 2), "x": (2,)})
    W, x = np.arange(6.0).reshape(3, 2), np.array([1.0, -2.0])
    out = d.numpy()(W=W, x=x)
    np.testing.assert_allclose(out["W"], 2 * np.outer(W @ x, x))
    np.testing.assert_allclose(out["x"], 2 * W.T @ W @ x)
    assert out["x"].shape == (2,)
    s = matcalc.derive("lam*norm(x)^2", "lam").numpy()(lam=2.0, x=np.ones(3))
    assert isinstance(s, float) and s == pytest.approx(3.0)


def test_jacobian_of_vector_output():
    d = matcalc.derive("exp(W*x)", "x", shapes={"W": (4, 2), "x": (2,)})
    assert d.kind == "jacobian"
    assert str(d).endswith("diag(exp(W x)) W")
    W, x = np.random.default_rng(0).standard_normal((4, 2)), np.array([0.3, -0.1])
    np.testing.assert_allclose(d.numpy()(W=W, x=x), np.diag(np.exp(W @ x)) @ W)


def test_wrt_forms_are_equivalent():
    a = matcalc.derive("u'*tanh(W*x + b)", "W,b")
    b = matcalc.derive("u'*tanh(W*x + b)", ["W", "b"])
    assert str(a) == str(b) and a.wrt == ["W", "b"]


def test_declared_but_unused_variable_gets_zero_and_a_note():
    d = matcalc.derive("norm(x)^2", "y", shapes={"y": (3,), "x": (3,)})
    assert "does not depend on y" in d.notes[0]
    assert np.all(d.numpy()(x=np.ones(3), y=np.ones(3)) == 0)


def test_undeclared_missing_wrt_is_a_clear_error():
    with pytest.raises(NameError_, match="does not occur"):
        matcalc.derive("norm(x)^2", "y")


def test_sympy_faces():
    d = matcalc.derive("a'*X*b", "X")
    assert isinstance(d.gradient, sympy.MatrixExpr)
    assert d.gradient.shape == d.jacobian.shape[::-1]
    assert "aligned" in d._repr_latex_()


def test_generic_function_with_given_pair():
    d = matcalc.derive("sum(g(A*x))", "x", shapes={"A": (3, 2), "x": (2,)})
    A, x = np.ones((3, 2)), np.array([0.1, 0.2])
    got = d.numpy(functions={"g": (np.sin, np.cos)})(A=A, x=x)
    np.testing.assert_allclose(got, A.T @ np.cos(A @ x))


def test_scalar_inference_retry():
    d = matcalc.derive("(x+y)*z", "x")
    assert d.kind == "gradient" and str(d) == "∂f/∂x = z"


def test_shape_clash_names_both_operands():
    with pytest.raises(ShapeError) as e:
        matcalc.derive("W*x", "W", shapes={"W": ("n", "m"), "x": ("k",)})
    assert "W is n×m but x is k×1" in str(e.value)


def test_unknown_function_with_two_arguments():
    with pytest.raises(MatcalcError, match="unknown function"):
        matcalc.derive("g(x, y)", "x")


def test_misspelt_function_is_generic_with_a_note():
    d = matcalc.derive("sum(sigmiod(x))", "x")
    assert any("sigmoid" in n for n in d.notes)


def test_relu_gradient_is_checked_away_from_the_kink():
    d = matcalc.derive("u'*relu(W*x + b)", "W")
    assert d.verify().status == "ok"


@pytest.mark.parametrize("layers", [1, 2, 8, 32])
def test_deep_chain_prints_linearly_with_names(layers):
    inner = "x"
    for i in range(1, layers + 1):
        inner = f"tanh(W_{i}*{inner})"
    d = matcalc.derive(f"sum({inner})", "W_1")
    text = d.text()
    assert len(text) < 200 * layers + 100
    assert d.verify().status == "ok"


def test_partly_declared_shapes_unify_with_inferred_ones():
    d = matcalc.derive("norm(W*x)^2", "W", shapes={"W": ("n", "m")})
    assert str(d) == "∂f/∂W = 2 W x xᵀ"
    assert str(d.typed.variables["x"].shape[0]) == "m"
    d = matcalc.derive("W*x + b", "x", shapes={"W": (3, 4)})
    assert d.kind == "jacobian" and d.verify().status == "ok"
