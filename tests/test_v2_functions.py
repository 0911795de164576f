"""The v2 functions (LANGUAGE.md "More functions"), each one rule-table entry, end to end:
derive in every style, the text round trip, gradchecked code, grading, steps and Hessians."""
from __future__ import annotations

import math

import numpy as np
import pytest

import matcalc
from matcalc.core.errors import MatcalcError
from matcalc.output.explain import explain

# expression, variable, right answer, wrong answer
GRADIENTS = [
    ("sum(asin(x))", "x", "1 ./ sqrt(1 - x.^2)", "1 ./ sqrt(1 + x.^2)"),
    ("sum(arcsin(x))", "x", "1 ./ sqrt(1 - x.^2)", "-1 ./ sqrt(1 - x.^2)"),
    ("sum(acos(x))", "x", "-1 ./ sqrt(1 - x.^2)", "1 ./ sqrt(1 - x.^2)"),
    ("sum(arctan(W*x))", "x", "W'*(1 ./ (1 + (W*x).^2))", "W'*(1 ./ (1 - (W*x).^2))"),
    ("sum(sinh(x))", "x", "cosh(x)", "sinh(x)"),
    ("sum(cosh(x))", "x", "sinh(x)", "cosh(x)"),
    ("sum(log1p(x.^2))", "x", "2*x ./ (1 + x.^2)", "x ./ (1 + x.^2)"),
    ("sum(expm1(2*x))", "x", "2*exp(2*x)", "2*expm1(2*x)"),
    ("sum(erf(W*x))", "x", "W'*(2*exp(-(W*x).^2)/sqrt(3.141592653589793))", "W'*exp(-(W*x).^2)"),
    ("u'*gelu(W*x)", "W", "(u .* gelu'(W*x))*x'", "(u .* gelu(W*x))*x'"),
    ("sum(silu(x))", "x", "sigmoid(x) .* (1 + x .* (1 - sigmoid(x)))", "sigmoid(x)"),
    ("sum(clip(X*W, -1, 0.5))", "W", "X'*clip'(X*W, -1, 0.5)", "X'*clip(X*W, -1, 0.5)"),
    ("norm1(x)", "x", "sign(x)", "abs(x)"),
    ("norm2(x)", "x", "x/norm(x)", "x"),
    ("sum(sign(x) .* x)", "x", "sign(x)", "ones(n)"),
]


@pytest.mark.parametrize("expr,wrt,right,wrong", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_derive_prints_parses_back_generates_and_grades(expr, wrt, right, wrong):
    d = matcalc.derive(expr, wrt)
    for style in ("unicode", "text", "latex"):
        assert d.render(style)
    assert matcalc.check(expr, wrt, d.text()).correct          # the printed text grades as right
    assert matcalc.check(expr, wrt, right).correct
    verdict = matcalc.check(expr, wrt, wrong)
    assert not verdict.correct
    assert matcalc.gradcheck(expr, wrt).ok
    assert "Verified by matcalc" in matcalc.codegen(expr, wrt)


def test_printed_forms():
    assert matcalc.derive("sum(asin(x))", "x").text() == "1 ./ sqrt(1 - x.^2)"
    assert matcalc.derive("u'*gelu(W*x + b)", "W").text() == "(u .* gelu'(W*x + b))*x'"
    assert matcalc.derive("sum(erf(W*x))", "x").text() == "W'*erf'(W*x)"
    assert matcalc.derive("sum(clip(X*W, -1, 1))", "W").text() == "X'*clip'(X*W, -1, 1)"
    d = matcalc.derive("norm(X*w - y)^2 + lam*norm1(w)", "w")
    assert d.text() == "lam*sign(w) + 2*X'*(X*w - y)"
    assert r"\operatorname{sign}" in d.latex()


def test_numbers_are_exact():
    z = np.linspace(-3, 3, 7)
    f = matcalc.derive("sum(gelu(x))", "x", shapes={"x": (7,)}).numpy()
    phi = np.array([0.5 * (1 + math.erf(t / math.sqrt(2))) for t in z])
    want = phi + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    assert np.allclose(f(x=z), want, rtol=1e-13, atol=0)
    g = matcalc.derive("sum(erf(x))", "x", shapes={"x": (7,)}).numpy()
    assert np.allclose(g(x=z), 2 / math.sqrt(math.pi) * np.exp(-z * z), rtol=1e-13, atol=0)


def test_generated_code_for_erf_gelu_silu_clip_runs_and_matches():
    ns: dict = {}
    exec(matcalc.codegen("sum(gelu(W*x)) + sum(erf(W*x)) + sum(silu(W*x)) + sum(clip(W*x, -0.5, 0.5))", "W",
                         shapes={"W": (3, 2), "x": (2,)}), ns)
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((3, 2)), rng.standard_normal(2)
    out, cache = ns["forward"](W=W, x=x)
    grads = ns["backward"](cache)
    d = matcalc.derive("sum(gelu(W*x)) + sum(erf(W*x)) + sum(silu(W*x)) + sum(clip(W*x, -0.5, 0.5))", "W",
                       shapes={"W": (3, 2), "x": (2,)})
    assert np.allclose(grads["W"], d.numpy()(W=W, x=x), rtol=1e-12)


@pytest.mark.parametrize("expr,text", [
    ("sum(gelu(x))", "diag(gelu''(x))"),
    ("sum(erf(x))", "diag(x .* erf'(x))"),
    ("sum(clip(x, -1, 2) .* x)", "diag(clip'(x, -1, 2))"),
    ("norm1(x)", "0"),
])
def test_hessians(expr, text):
    h = matcalc.hessian(expr, "x")
    assert text in h.text()
    assert matcalc.codegen_hessian(expr, "x")


def test_steps_name_the_function():
    out = explain(matcalc.derive("sum(clip(X*W, -1, 1))", "W", steps=True))
    assert "clip(z₁, -1, 1)" in out and "clip'(z₁, -1, 1)" in out


@pytest.mark.parametrize("bad,needle", [
    ("norm2(X)", "norm(A) (the Frobenius norm)"),
    ("clip(x, a, 1)", "constant number"),
    ("clip(x, 2, 1)", "lo < hi"),
    ("clip(x, 1)", "takes 3 arguments"),
])
def test_errors_are_clear(bad, needle):
    with pytest.raises(MatcalcError) as e:
        matcalc.derive(bad, "x" if "x" in bad else "X")
    assert needle in str(e.value)
