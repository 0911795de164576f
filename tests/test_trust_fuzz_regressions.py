"""Regressions found by the differential fuzzer (tests/fuzz): each printed result parses back and
matches central differences, or the input is refused cleanly."""
import numpy as np
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
