"""Stable numbers in ``numpy()`` and the checks: no underflow of σ, no log of a rounded 0 or 1,
and a singular point is a clear error rather than NumPy's raw ``LinAlgError``."""
import mpmath
import numpy as np
import pytest

import matcalc
from matcalc.language.program import typed_program
from matcalc.numeric.evaluate import evaluate


def _forward(expr, **values):
    typed = typed_program(expr, None, None)
    env = {k: np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) == 1 else np.asarray(v, dtype=float)
           for k, v in values.items()}
    return float(evaluate([typed.output], env)[0].reshape(()))


def _mp_log_sigmoid(z):
    return float(-mpmath.log(1 + mpmath.exp(-mpmath.mpf(z))))


@pytest.mark.parametrize("z", [-745.0, -40.0, -37.5, -1.0, 0.0, 1.0, 40.0, 700.0])
def test_log_sigmoid_and_log_one_minus_sigmoid(z):
    assert _forward("sum(log(sigmoid(x)))", x=[z]) == pytest.approx(_mp_log_sigmoid(z), rel=1e-13)
    assert _forward("sum(log(1 - sigmoid(x)))", x=[z]) == pytest.approx(_mp_log_sigmoid(-z), rel=1e-13)


def test_sigmoid_does_not_underflow():
    d = matcalc.derive("sum(log(sigmoid(x)))", "x")
    got = d.numpy()(x=np.array([-40.0, 40.0]))
    with mpmath.workdps(50):                 # 1 − σ(40) ≈ 4.2e-18 needs more than 15 digits
        want = [float(1 - 1 / (1 + mpmath.exp(40))), float(1 - 1 / (1 + mpmath.exp(-40)))]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_logistic_loss_at_large_margins():
    expr = "-y'*log(sigmoid(X*w)) - (1-y)'*log(1-sigmoid(X*w))"
    X, y, w = np.array([[40.0, 0.0], [-40.0, 0.0]]), np.array([0.0, 1.0]), np.array([1.0, 0.0])
    assert _forward(expr, X=X, y=y, w=w) == pytest.approx(80.0, rel=1e-12)
    grad = matcalc.derive(expr, "w").numpy()(X=X, y=y, w=w)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [80.0, 0.0], rtol=1e-12)


def test_log_of_softmax_far_apart():
    assert _forward("-y'*log(softmax(z))", y=[1.0, 0.0], z=[-800.0, 800.0]) == pytest.approx(1600.0)


@pytest.mark.parametrize("expr,wrt,values", [
    ("logdet(X)", "X", {"X": np.zeros((2, 2))}),
    ("sum(inv(X)*x)", "x", {"X": np.ones((2, 2)), "x": np.ones(2)}),
])
def test_singular_point_is_a_clear_error(expr, wrt, values):
    with pytest.raises(matcalc.MatcalcError, match="singular") as info:
        matcalc.derive(expr, wrt).numpy()(**values)
    assert info.value.exit_code == 2
