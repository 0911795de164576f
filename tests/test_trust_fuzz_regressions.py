"""Regressions found by the differential fuzzer (tests/fuzz): each printed result parses back and
matches central differences, or the input is refused cleanly."""
import numpy as np
import pytest
from central import central_gradient

import matcalc


def test_unvec_of_a_kronecker_product_prints_as_an_outer_product():
    expr = "kron(x', (x').^3) * vec(exp(W))"
    d = matcalc.derive(expr, "W", shapes={"x": (2,), "W": (2, 2)})
    assert "unvec" not in d.text()                # not part of the language: it would not parse back
    x, W = np.array([0.5, -1.2]), np.array([[0.1, 0.2], [-0.3, 0.4]])

    def f(Wv):
        return float(np.kron(x, x ** 3) @ np.exp(Wv).reshape(-1, order="F"))
    np.testing.assert_allclose(d.numpy()(x=x, W=W), central_gradient(f, W), rtol=1e-7)


def test_transposes_move_through_powers_and_functions():
    d = matcalc.derive("kron(x', (x').^3) * vec(W)", "W", shapes={"x": (2,), "W": (2, 2)})
    assert d.text() == "x.^3*x'"


def test_a_size_only_a_cancelled_input_fixes():
    """logsumexp(v − v) = log(m): v cancels, its size m stays; checking must still bind m."""
    v = matcalc.check("logsumexp(v2 - v2) + log(softplus(c))", "c", "sigmoid(c)/softplus(c)",
                      shapes={"c": (), "v2": ("m",)})
    assert v.correct


def test_unvec_prints_as_language_text():
    """A gradient through vec(B) is unvec(·): the text writes it with kron, vec and eye
    (X = (vec(Iₙ)ᵀ ⊗ Iₘ)(Iₙ ⊗ vec X)), which parses back, and the grader accepts its own text."""
    for shapes in ({"g": (4,), "B": (2, 2)}, {"g": (6,), "B": (2, 3)}):
        d = matcalc.derive("g'*vec(B)", "B", shapes=shapes)
        assert "unvec" not in d.text()
        g = np.arange(1.0, 1.0 + shapes["g"][0])
        B = np.zeros(shapes["B"])
        np.testing.assert_allclose(d.numpy()(g=g, B=B), g.reshape(shapes["B"], order="F"))
        assert matcalc.check("g'*vec(B)", "B", d.text(), shapes=shapes).correct


@pytest.mark.parametrize("expr,wrt,shapes", [
    ("z = max(B ./ B, 3.0); sum((W * z) * A)", ["A"], {"A": ("n", "m"), "B": ("k", "n"), "W": ("k", "k")}),
    ("g(sum(W, 1)) * max(diag(eye(2)), lam)", ["W"], {"W": (4, 2), "lam": ()}),
    ("h = det(W); dot(log_softmax(diag(V)), min(diag(eye(3)), h))", ["W"], {"W": (2, 2), "V": (3, 3)}),
])
def test_codegen_max_of_a_broadcast_constant_keeps_its_shape(expr, wrt, shapes):
    """max(𝟏, s) is a full array, not the scalar max(1, s): codegen verification used to reject the
    module it had generated (exit 3)."""
    src = matcalc.codegen(expr, wrt, shapes=shapes)
    assert "def backward" in src


def test_grader_sees_both_sides_of_a_far_kink():
    """hardtanh'(sum(W)) is 0 unless |sum(W)| < 1, which ordinary draws of 9 entries rarely give:
    the doubled answer must still be wrong (points at magnitudes 0.1 and 0.01 reach the inside)."""
    expr, shapes = "logsumexp(d + d) * hardtanh(sum(W))", {"d": (4,), "W": (3, 3)}
    right = "logsumexp(2*d)*hardtanh'(sum(W))*ones(3, 3)"
    assert matcalc.check(expr, "W", right, shapes=shapes).correct
    assert not matcalc.check(expr, "W", f"2*({right})", shapes=shapes).correct


def test_own_text_accepted_where_far_points_underflow():
    expr, shapes = "(sqrt(exp(x')) * a) * sum(sigmoid'(P), 2)", {"a": (), "x": (2,), "P": (2, 4)}
    d = matcalc.derive(expr, "x", shapes=shapes, assume={"P": "positive"})
    assert matcalc.check(expr, "x", d.text(), shapes=shapes, assume={"P": "positive"}).correct
