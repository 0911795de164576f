"""Means and sizes (LANGUAGE.md v2), end to end: ``mean(A)``, ``mean(A, 1)``, ``mean(A, 2)``,
``size(A, k)`` and ``numel(A)`` as scalar constants with no derivative, and ``size(A, k)`` /
``numel(A)`` as dimension arguments (``ones(size(X, 1))``).

A size is a leaf of the rule table (one per dimension symbol, a number when known), a mean is
composed in the table as a sum over that count, so a mean's factor comes out as ``/n`` and
prints back as ``mean(B)``; the simplifier knows that a centred vector sums to zero.  Every
part: derive (three styles, text parsed back), codegen (gradchecked, a mean is a NumPy
reduction, no ones materialised), check, steps, Hessian, errors with a caret.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matcalc
from matcalc.core.errors import ShapeError
from matcalc.output.explain import explain
from central import central_gradient

MSE = "mean((X*w - y).^2)"


def _point(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) if s else float(rng.standard_normal()) for k, s in shapes.items()}


# ------------------------------------------------------------------ derive, every style
def test_a_means_factor_is_factored_out_as_over_n():
    d = matcalc.derive(MSE, "w")
    assert str(d) == "∂f/∂w = 2 Xᵀ(X w − y)/n"
    assert d.text() == "2*X'*(X*w - y)/n"          # read back as the size n
    assert r"\frac{2 \, X^\top" in d.latex() and "{n}" in d.latex()


def test_a_known_size_prints_as_the_count_not_a_decimal():
    d = matcalc.derive(MSE, "w", shapes={"X": (6, 3)})
    assert str(d) == "∂f/∂w = 2 Xᵀ(X w − y)/6" and d.text() == "2*X'*(X*w - y)/6"


def test_the_per_sample_softmax_loss_is_over_n():
    d = matcalc.derive("-sum(Y .* log_softmax(X*W, 2))/size(X, 1)", "W", assume={"Y": "onehot_rows"})
    assert str(d) == "∂f/∂W = Xᵀ(softmax(X W, 2) − Y)/n"


def test_the_mean_prints_as_written_and_a_centred_vector_sums_to_zero():
    assert str(matcalc.derive("sum(x - mean(x))", "x")) == "∂f/∂x = 0"
    d = matcalc.derive("sum((x - mean(x)).^2)", "x")
    assert str(d) == "∂f/∂x = 2(x − mean(x))" and d.text() == "2*(x - mean(x))"
    assert r"\operatorname{mean}" in d.latex()


def test_column_and_row_means():
    assert str(matcalc.derive("mean(X, 1)*w", "X")) == "∂f/∂X = 𝟏 wᵀ/n"
    d = matcalc.derive("sum(G .* (X - mean(X, 2)))", "X")
    assert str(d) == "∂f/∂X = G − mean(G, 2) 𝟏ᵀ" and d.text() == "G - mean(G, 2)"


BATCHNORM = "mu = mean(X, 1); xc = X - mu; v = mean(xc.^2, 1); s = sqrt(v + 1e-5); Xh = xc ./ s; L = sum(G .* (Xh .* g'))"


def test_batchnorm_backward_drops_the_centred_column_sums():
    d = matcalc.derive(BATCHNORM, "X")
    assert "xc = X − 𝟏 mean(X, 1)" in str(d)
    final = str(d).splitlines()[-1]
    assert "sum(X, 1)" not in final and "mean(X, 1)" not in final and final.count(" − ") == 2
    assert matcalc.gradcheck(BATCHNORM, ["X", "g"], shapes={"X": (5, 3)}).ok


@pytest.mark.parametrize("expr, wrt, shapes", [
    (MSE, "w", {"X": (6, 3), "w": (3,), "y": (6,)}),
    ("norm(X - Y)^2/numel(X)", "X", {"X": (3, 4), "Y": (3, 4)}),
    ("mean(X, 1)*w + sum(mean(X, 2))", "X", {"X": (4, 3), "w": (3,)}),
    ("xc = x - mean(x); s = sqrt(mean(xc.^2) + 1e-5); L = u'*xc/s", "x", {"x": (5,), "u": (5,)}),
    ("v = mean((X - mean(X, 1)).^2, 1); L = v*c", "X", {"X": (6, 3), "c": (3,)}),
    ("S = Q*K'/sqrt(size(K, 2)); L = sum(G .* softmax(S, 2))", "Q", {"Q": (3, 4), "K": (5, 4), "G": (3, 5)}),
])
def test_gradients_match_central_differences_and_parse_back(expr, wrt, shapes):
    d = matcalc.derive(expr, wrt, shapes=shapes)
    p = _point(shapes, 1)
    f = matcalc.derive(expr, wrt, shapes=shapes).numpy()
    grad = d.numpy()(**p)
    grad = grad[0] if isinstance(grad, tuple) else grad

    def value(x):
        return float(_value(expr, shapes)(**{**p, wrt: x}))
    assert np.allclose(grad, central_gradient(value, p[wrt]), rtol=1e-5, atol=1e-7)
    back = matcalc.derive(d.text(), wrt, shapes=shapes) if ";" not in d.text() else None
    assert f is not None and (back is None or back.verify is not None)


def _value(expr, shapes):
    ns: dict = {}
    exec(matcalc.codegen(expr, wrt=[next(iter(shapes))], shapes=shapes), ns)   # noqa: S102
    return lambda **kw: ns["forward"](**kw)[0]


# ------------------------------------------------------------------ sizes as dimensions
def test_size_and_numel_are_dimension_arguments():
    r = matcalc.check("mu = mean(X, 1); L = mu*w", "X", "ones(size(X, 1))*w'/size(X, 1)",
                      shapes={"X": (5, 3), "w": (3,)})
    assert r.correct
    assert str(matcalc.derive("sum(eye(numel(x))*x)", "x")) == "∂f/∂x = 𝟏"


@pytest.mark.parametrize("expr, message", [
    ("sum(ones(size(X)))", "a dimension is a positive integer, a name, size(A, k) or numel(A)"),
    ("sum(ones(size(X, 3)))", "the k of size(A, k) is the number 1 (rows) or 2 (columns)"),
    ("sum(ones(x + 1))", "a dimension is"),
])
def test_bad_dimension_arguments_are_clear_errors(expr, message):
    with pytest.raises(ShapeError) as e:
        matcalc.derive(expr, "x" if "x" in expr else "X")
    assert message in str(e.value) and "^" in str(e.value)


def test_cli_bad_size_is_exit_2():
    r = subprocess.run([sys.executable, "-m", "matcalc", "derive", "sum(ones(size(X, 3)))", "--wrt", "X"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "^" in r.stderr


def test_a_size_has_no_derivative():
    d = matcalc.derive("size(X, 1)*sum(X)", "X", shapes={"X": ("n", "m")})
    assert str(d) == "∂f/∂X = n 𝟏ₙ𝟏ₘᵀ"          # the n×m matrix of ones


# ------------------------------------------------------------------ codegen
def test_codegen_a_mean_is_a_reduction_without_ones():
    src = matcalc.codegen(MSE, ["w"], shapes={"X": ("n", "d")})
    assert "Verified by matcalc" in src and "np.ones" not in src and "np.full" not in src
    assert "X.shape[0]" in src
    src = matcalc.codegen("v = mean((X - mean(X, 1)).^2, 1); L = v*c", ["X"])
    assert "np.ones" not in src
    assert matcalc.gradcheck("-sum(Y .* log_softmax(X*W, 2))/size(X, 1)", ["W"]).ok


# ------------------------------------------------------------------ check
def test_check_accepts_over_n_and_rejects_a_missing_or_wrong_count():
    shapes = {"X": (6, 3), "w": (3,), "y": (6,)}
    assert matcalc.check(MSE, "w", "2*X'*(X*w - y)/size(X, 1)", shapes=shapes).correct
    assert matcalc.check(MSE, "w", "2*X'*(X*w - y)/numel(y)", shapes=shapes).correct
    assert not matcalc.check(MSE, "w", "2*X'*(X*w - y)", shapes=shapes).correct
    assert not matcalc.check(MSE, "w", "2*X'*(X*w - y)/size(X, 2)", shapes=shapes).correct


def test_check_layernorm_compact_form():
    expr = "xc = x - mean(x); s = sqrt(mean(xc.^2) + 1e-5); h = xc/s; L = u'*h"
    assert matcalc.check(expr, "x", "(u - mean(u) - h*mean(u .* h))/s", shapes={"x": (6,), "u": (6,)}).correct
    assert not matcalc.check(expr, "x", "(u - mean(u))/s", shapes={"x": (6,), "u": (6,)}).correct


# ------------------------------------------------------------------ steps, Hessian
def test_steps_show_the_mean():
    text = explain(matcalc.derive(MSE, "w", steps=True))
    assert "z₁ = n⁻¹" in text and "∂f/∂w = Xᵀ δᵀ = 2 Xᵀ z₃/n" in text
    assert "    upstream  dz₃ = ∂f/∂z₃ = 2 z₃/n" in text.splitlines()     # the mean's 1/n written out, not named


def test_hessian_of_a_mean():
    h = matcalc.hessian(MSE, "w")
    assert str(h).endswith("2 Xᵀ X/n")
    p = _point({"X": (6, 3), "w": (3,), "y": (6,)}, 2)
    assert np.allclose(matcalc.hessian(MSE, "w", shapes={"X": (6, 3)}).numpy()(**p), 2 * p["X"].T @ p["X"] / 6)


# ------------------------------------------------------------------ properties
@settings(max_examples=15, derandomize=True, deadline=None)
@given(st.integers(2, 5), st.integers(2, 5), st.sampled_from([None, 1, 2]))
def test_mean_gradient_is_one_over_the_count(n, m, axis):
    arg = "" if axis is None else f", {axis}"
    expr = f"sum(G .* mean(X{arg}))" if axis else f"g*mean(X{arg})"
    shapes = {"X": (n, m), "G": (1, m) if axis == 1 else (n, 1), "g": ()}
    shapes = {k: v for k, v in shapes.items() if k in expr}
    p = _point(shapes, n * 10 + m)
    grad = matcalc.derive(expr, "X", shapes=shapes).numpy()(**p)
    count = n * m if axis is None else n if axis == 1 else m
    up = p["g"] if axis is None else p["G"]
    assert np.allclose(grad, np.broadcast_to(np.asarray(up).reshape(-1 if axis == 2 else 1, 1 if axis == 2 else -1)
                                             if axis else up, (n, m)) / count)
