"""Regression: numbers and results of the core that were quietly off.

- ``1 − σ(z)`` rounded to 0 for z ≳ 37 (σ(40) is 1 in float64), so the gradient of ``log σ(x)``
  and σ' = σ (1 − σ) lost every digit there; it is evaluated as σ(−z).  References come from
  mpmath as σ(−z) (a reference written 1 − σ(z) rounds the same way and hides the loss).
- ``log(exp(z))`` overflowed (∞ − ∞ = NaN in a sum) where its value is z.
- ``log`` and ``logdet`` of an exactly-zero argument gave a zero derivative with exit 0 (the zero
  derivative of a constant −∞); they are bad input (exit 2) like a zero denominator.
"""
import mpmath
import numpy as np
import pytest

import matcalc
from matcalc.language.program import typed_program
from matcalc.core.errors import UndefinedError
from matcalc.numeric.evaluate import evaluate

mpmath.mp.dps = 50
Z = np.array([-745.0, -40.0, -37.5, -1.0, 0.0, 0.5, 37.5, 40.0, 700.0])


def _sig(z):
    return 1 / (1 + mpmath.exp(-mpmath.mpf(z)))


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("expr,reference", [
    ("sum(log(sigmoid(x)))", lambda z: _sig(-z)),              # 1 − σ(z), exactly
    ("sum(log(1 - sigmoid(x)))", lambda z: -_sig(z)),
    ("sum(sigmoid(x))", lambda z: _sig(z) * _sig(-z)),
    ("sum(log(sigmoid(-x)))", lambda z: -_sig(z)),
    ("sum(softplus(x))", _sig),
])
def test_sigmoid_gradients_keep_their_digits(expr, reference):
    got = matcalc.derive(expr, "x").numpy()(x=Z)
    want = np.array([float(reference(z)) for z in Z])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_sigmoid_gradient_agrees_with_central_differences_at_moderate_points():
    x = np.array([-3.0, -0.2, 0.7, 4.0])
    got = matcalc.derive("sum(log(sigmoid(x)) + sigmoid(x))", "x").numpy()(x=x)
    f = lambda v: np.sum(-np.logaddexp(0, -v) + 1 / (1 + np.exp(-v)))
    np.testing.assert_allclose(got, _fd(f, x), rtol=1e-7)


def test_log_of_exp_does_not_overflow():
    typed = typed_program("sum(log(exp(x)))", None, None)
    x = np.array([-800.0, 1.5, 800.0])
    (value,) = evaluate([typed.output], {"x": x.reshape(-1, 1)})
    assert float(np.asarray(value).reshape(())) == pytest.approx(1.5)


@pytest.mark.parametrize("expr,wrt", [("sum(log(x-x))", "x"), ("logdet(W-W)", "W"), ("sum(log(0*x))", "x"),
                                      ("logdet(0*W) + sum(W)", "W"), ("sum(log(W*(x-x)))", "x")])
def test_log_of_exact_zero_is_bad_input(expr, wrt):
    with pytest.raises(UndefinedError) as info:
        matcalc.derive(expr, wrt)
    assert info.value.exit_code == 2
    assert "^" in str(info.value)


@pytest.mark.parametrize("expr,wrt", [("sum(log(x-x+1))", "x"), ("det(W-W)", "W"), ("sum(log(exp(x)-exp(x)+1))", "x")])
def test_constants_that_are_not_zero_inside_a_log_still_differentiate(expr, wrt):
    d = matcalc.derive(expr, wrt)
    shape = (3, 3) if wrt == "W" else (3,)
    np.testing.assert_array_equal(d.numpy()(**{wrt: np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)}),
                                  np.zeros(shape))


@pytest.mark.parametrize("expr,shapes", [
    ("sum(X*W*B + ones(n)*ones(h)'*B)", {"X": ("n", "d"), "W": ("d", "h"), "B": ("h", "p")}),
    ("sum(X*W*B + ones(n, d)*ones(d, h)*B)", {"X": ("n", "d"), "W": ("d", "h"), "B": ("h", "p")}),
    ("sum(X*W*B + ones(4, 3)*ones(3, 2)*B)", {"X": (4, 3), "W": (3, 2), "B": (2, 3)}),
])
def test_ones_product_times_a_matrix_keeps_the_inner_size(expr, shapes):
    """𝟏ₙₖ 𝟏ₖₕ B: the gradient by B carries the inner size k (k = 1 for an outer product)."""
    rng = np.random.default_rng(11)
    n, d, h, p = 4, 3, 2, 3
    deriv = matcalc.derive(expr, "B", shapes=shapes)
    X, W, B = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=(h, p))
    k = 1 if "'" in expr else d
    ones = np.ones((n, k)) @ np.ones((k, h))
    f = lambda b: np.sum(X @ W @ b.reshape(h, p) + ones @ b.reshape(h, p))
    got = deriv.numpy()(X=X, W=W, B=B)
    np.testing.assert_allclose(got.ravel(), _fd(f, B.ravel()), rtol=1e-7, atol=1e-7)
    assert deriv.verify().status == "ok"


def test_hessian_of_log_sigmoid_keeps_its_digits():
    """The Hessian's own evaluator (diagonals kept lazily) uses the same stable forms."""
    x = np.array([-40.0, 0.3, 40.0])
    got = matcalc.hessian("sum(log(sigmoid(x)) + log(1 - sigmoid(x)))", "x").numpy()(x=x)
    want = np.diag([float(-2 * _sig(z) * _sig(-z)) for z in x])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
