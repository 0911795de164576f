"""Issue 10, generated code: names that Python would bind wrongly, shapes known only at run
time, verification by default, and numbers that stay finite where the maths is finite."""
import numpy as np
import pytest

import matcalc
from matcalc.codegen_hessian import codegen_hessian
from matcalc.gradcheck import load


def run(expr, wrt, inputs, functions=None, **kw):
    mod = load(matcalc.codegen(expr, wrt, **kw))
    extra = {"functions": functions} if functions else {}
    out, cache = mod["forward"](**inputs, **extra)
    return out, mod["backward"](cache)


X = np.array([1.0, 2.0, 3.0])


def test_greek_scalar_is_read():
    out, g = run("α*sum(x)", ["x", "α"], {"α": 2.0, "x": X})
    assert out == pytest.approx(12.0)
    assert np.allclose(g["x"], 2.0) and g["α"] == pytest.approx(6.0)


def test_greek_intermediate_is_read():
    W = np.arange(6.0).reshape(2, 3)
    out, g = run("δ = W*x; s = sum(δ)", ["W"], {"W": W, "x": X})
    assert out == pytest.approx(np.sum(W @ X))
    assert np.allclose(g["W"], np.outer(np.ones(2), X))


def test_fullwidth_name_is_its_own_variable():
    out, g = run("x'*ｘ", ["x", "ｘ"], {"x": X, "ｘ": 10 * X})
    assert out == pytest.approx(140.0)
    assert np.allclose(g["x"], 10 * X) and np.allclose(g["ｘ"], X)


def test_fullwidth_np_does_not_bind_numpy():
    src = matcalc.codegen("sum(ｎｐ .* x)", ["x"])
    out, g = run("sum(ｎｐ .* x)", ["x"], {"ｎｐ": 2 * X, "x": X})
    assert out == pytest.approx(2 * X @ X)
    assert np.allclose(g["x"], 2 * X)
    assert "inputs['ｎｐ']" in src          # the API key stays the user's name


def test_variable_named_like_a_function_slot():
    ff = np.array([1.0, 10.0, 100.0])
    out, g = run("sum(fn_f .* f(x))", ["x", "fn_f"], {"x": X, "fn_f": ff}, functions={"f": (np.sin, np.cos)})
    assert out == pytest.approx(ff @ np.sin(X))
    assert np.allclose(g["x"], ff * np.cos(X)) and np.allclose(g["fn_f"], np.sin(X))


def test_inferred_dimension_in_backward():
    out, g = run("3*x^2*y", ["x"], {"x": 2.0, "y": X})
    assert np.allclose(out, 12 * X)
    assert g["x"] == pytest.approx(np.sum(6 * 2.0 * X))


def test_hessian_module_with_unicode_names():
    mod = load(codegen_hessian("β*sum(x.^2) + x'*ｘ", ["x"]))
    H = mod["hessian"](**{"β": 3.0, "x": X, "ｘ": X})
    assert np.allclose(H, 6 * np.eye(3))
