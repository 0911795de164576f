"""Broadcasting of row and column vectors against matrices (LANGUAGE.md v2), end to end, and the
notes matcalc writes wherever it guesses a kind or a function.

A row vector 1×m combines with an n×m matrix (every row), a column vector n×1 with an n×m matrix
(every column), in + - .* ./ max min; inference tries this before it retries names as scalars;
a row and a column never make a matrix.  The gradient by a broadcast vector sums over the
broadcast axis (``sum(G, 1)ᵀ`` / ``Gᵀ𝟏``).  Every part: derive (three styles, text parsed back),
codegen (gradchecked, NumPy broadcasting, no materialised ones), check, steps, picture, Hessian.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matcalc
from matcalc.api import graph_model
from matcalc.core.errors import ShapeError
from matcalc.output.explain import explain
from matcalc.output.picture import to_dot
from central import central_gradient

AFFINE = "norm(X*W + b' - Y)^2"
AFFINE_SHAPES = {"X": (5, 3), "W": (3, 2), "b": (2,), "Y": (5, 2)}


def _point(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) if s else float(rng.standard_normal()) for k, s in shapes.items()}


# ------------------------------------------------------------------ inference
def test_inference_broadcasts_a_row_bias_before_any_scalar_retry():
    d = matcalc.derive("sum(G .* relu(X*W1 + b1'))", "b1")
    v = d.typed.variables
    assert v["b1"].shape == (v["W1"].cols, 1) and v["b1"].rows != 1
    assert not d.notes                                   # b1 came from its spelling: no guess
    col = matcalc.derive("sum(G .* (X - m))", "m", shapes={"G": (3, 5)})
    assert col.typed.variables["m"].shape == (3, 1)        # a column: one entry per row of X


def test_a_row_and_a_column_never_broadcast():
    for expr, fix in [("x + y'", "x*ones(1, m) + ones(n)*y'"), ("y' - x", "ones(n)*y' - x*ones(1, m)"),
                      ("x .* y'", "(x*ones(1, m)) .* (ones(n)*y')")]:
        with pytest.raises(ShapeError) as e:
            matcalc.derive(expr, "x")
        assert "never broadcast" in str(e.value) and fix in str(e.value) and "^" in str(e.value)


def test_cli_row_and_column_is_exit_2_with_a_caret():
    r = subprocess.run([sys.executable, "-m", "matcalc", "derive", "x + y'", "--wrt", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "ones(n)*y'" in r.stderr and "^^^" in r.stderr


# ------------------------------------------------------------------ derive, every style
def test_bias_gradient_reads_as_a_column_sum_in_every_style():
    d = matcalc.derive(AFFINE, "b", shapes=AFFINE_SHAPES)
    assert d.render("unicode") == "∂f/∂b = 2 sum(X W + 𝟏 bᵀ − Y, 1)ᵀ"
    assert d.text() == "2*sum(X*W + b' - Y, 1)'"               # the course's own spelling
    assert r"\mathbf{1} \, b^\top" in d.latex()
    assert not d.notes                                   # verified: the text parsed back and agreed
    relu = matcalc.derive("sum(G .* relu(X*W1 + b1'))", "b1")
    assert relu.render("unicode") == "∂f/∂b1 = sum(G ∘ 𝟙[X W1 + 𝟏 b1ᵀ > 0], 1)ᵀ"     # not (…)ᵀ 𝟏


@pytest.mark.parametrize("expr, wrt", [
    ("sum(G .* (X*W + b'))", "b"), ("sum(G .* (X - m))", "m"), ("sum(exp(b' - X))", "b"),
    ("sum(G .* (X .* c))", "c"), ("sum(X ./ exp(b'))", "b"), ("sum(G .* max(X, b'))", "b"),
    ("sum(G .* min(c, X))", "c"), ("sum(G .* leaky_relu(X + b', 0.1))", "b"),
    ("sum(tanh(X*W + b' + c))", "c"), ("sum(tanh(X*W + b' + c))", "W"),
])
def test_broadcast_gradients_agree_with_central_differences(expr, wrt):
    shapes = {"G": (4, 3), "X": (4, 3), "W": (3, 3), "b": (3,), "m": (4,), "c": (4,)}
    d = matcalc.derive(expr, wrt, shapes=shapes)
    used = {k: v for k, v in shapes.items() if k in d.typed.variables}
    p = _point(used, seed=1)
    g = d.numpy()(**p)

    def value(v):
        return _value(expr, used, dict(p, **{wrt: v}))
    np.testing.assert_allclose(g, central_gradient(value, np.asarray(p[wrt])), rtol=1e-6, atol=1e-7)
    assert matcalc.check(expr, wrt, d.text(), shapes=used).correct       # the printed text is the answer


def _value(expr, shapes, point):
    """The function's value through matcalc's own forward (generated code), not its derivative."""
    return float(_forward(expr, tuple(sorted(shapes.items())))(**point)[0])


_FORWARDS: dict = {}


def _forward(expr, shapes):
    if (expr, shapes) not in _FORWARDS:
        ns: dict = {}
        exec(matcalc.codegen(expr, wrt=[k for k, _ in shapes][:1], shapes=dict(shapes)), ns)   # noqa: S102
        _FORWARDS[(expr, shapes)] = ns["forward"]
    return _FORWARDS[(expr, shapes)]


# ------------------------------------------------------------------ codegen
def test_codegen_broadcasts_without_materialising_ones():
    src = matcalc.codegen(AFFINE, ["W", "b"], shapes={"X": ("n", "k"), "W": ("k", "m"), "b": ("m",), "Y": ("n", "m")})
    assert "Verified by matcalc" in src
    assert "b.T" in src and "np.full" not in src and "np.ones" not in src
    assert ".sum(axis=0, keepdims=True)" in src                           # db: the column sums
    col = matcalc.codegen("sum(G .* max(X - m, 0))", ["m"])
    assert "X - m" in col and "np.full" not in col
    assert matcalc.gradcheck("sum(G .* relu(X*W1 + b1'))", ["W1", "b1"]).ok


# ------------------------------------------------------------------ check
def test_check_accepts_the_course_forms_and_rejects_the_wrong_axis():
    assert matcalc.check(AFFINE, "b", "2*sum(X*W + b' - Y, 1)'").correct
    assert matcalc.check(AFFINE, "b", "2*(X*W + b' - Y)'*ones(n)").correct
    axis = matcalc.check(AFFINE, "b", "2*sum(X*W + b' - Y, 2)")      # the wrong axis (and so the wrong shape)
    assert not axis.correct and axis.diagnosis == "axis"
    assert "sum(X*W + b' - Y, 2) should be sum(X*W + b' - Y, 1) (along each column), transposed" in axis.reason
    twice = matcalc.check(AFFINE, "b", "sum(X*W + b' - Y, 1)'")
    assert not twice.correct


# ------------------------------------------------------------------ steps, picture, Hessian
def test_steps_show_the_broadcast_and_its_column_sum():
    text = explain(matcalc.derive(AFFINE, "b", steps=True))
    assert "z₂ = 𝟏 bᵀ" in text and "G ↦ 𝟏ᵀ G" in text and "∂f/∂b = 2 sum(z₃, 1)ᵀ" in text


def test_picture_with_values_of_a_broadcast_program():
    g = graph_model("sum(exp(X*W + b'))", at={"X": np.ones((2, 3)), "W": np.ones((3, 2)), "b": np.ones(2)})
    dot = to_dot(g)
    assert "𝟏" in dot


def test_hessian_by_a_broadcast_bias():
    h = matcalc.hessian(AFFINE, "b", shapes=AFFINE_SHAPES)
    assert h.render("unicode") == "∂²f/∂b∂bᵀ = 10 I"                      # 2 𝟏ᵀ𝟏 I with n = 5
    h2 = matcalc.hessian("sum(exp(X*W + b'))", "b", shapes={"X": (4, 3), "W": (3, 2), "b": (2,)})
    p = _point({"X": (4, 3), "W": (3, 2), "b": (2,)}, seed=3)
    expected = np.diag(np.exp(p["X"] @ p["W"] + p["b"]).sum(axis=0))
    np.testing.assert_allclose(h2.numpy()(**p), expected, rtol=1e-10)


# ------------------------------------------------------------------ property: random broadcasts
_OPS = ["+", "-", ".*", "max", "min"]


@settings(max_examples=25, derandomize=True, deadline=None)
@given(op=st.sampled_from(_OPS), row=st.booleans(), vector_first=st.booleans(), seed=st.integers(0, 10_000))
def test_random_broadcasts_derive_right(op, row, vector_first, seed):
    v = "b'" if row else "c"
    m = "(X*W)"
    a, b = (v, m) if vector_first else (m, v)
    inner = f"{op}({a}, {b})" if op in ("max", "min") else f"({a} {op} {b})"
    expr = f"sum(G .* tanh({inner}))"
    wrt = "b" if row else "c"
    shapes = {"G": (4, 3), "X": (4, 2), "W": (2, 3), "b": (3,), "c": (4,)}
    shapes = {k: s for k, s in shapes.items() if k != ("c" if row else "b")}
    p = _point(shapes, seed)
    d = matcalc.derive(expr, wrt, shapes=shapes)
    got = d.numpy()(**p)
    X, W, G = p["X"], p["W"], p["G"]
    vec = p["b"][None, :] if row else p["c"][:, None]

    def f(x):
        vv = x[None, :] if row else x[:, None]
        l, r = (vv, X @ W) if vector_first else (X @ W, vv)
        z = {"+": np.add, "-": np.subtract, ".*": np.multiply, "max": np.maximum, "min": np.minimum}[op](l, r)
        return float(np.sum(G * np.tanh(z)))
    if op in ("max", "min") and np.min(np.abs(X @ W - vec)) < 1e-3:
        return                                           # too near the kink for differences
    np.testing.assert_allclose(got, central_gradient(f, np.asarray(p[wrt])), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ notes wherever matcalc guesses
def test_a_scalar_retry_is_noted():
    d = matcalc.derive("x'*A*x", "A", shapes={"A": ("n", "m")})
    assert "x was taken as a scalar because it did not fit as a vector; declare --shape x=... to change that" in d.notes
    assert not matcalc.derive("x'*A*x", "A").notes        # square A: x is a vector, nothing guessed


def test_every_generic_function_is_noted_once():
    d = matcalc.derive("u'*mean2(W*x) + sum(mean2(x))", "x")
    assert len([n for n in d.notes if n.startswith("mean2 is not a known function: taken as a generic elementwise "
                                                  "function mean2(z) with derivative mean2'(z)")]) == 1   # (mean is known)
    close = matcalc.derive("u'*sigmiod(W*x)", "W").notes
    assert any(n.startswith("sigmiod is not a known function") and n.endswith("did you mean sigmoid?") for n in close)


def test_cli_prints_the_notes_on_stderr():
    r = subprocess.run([sys.executable, "-m", "matcalc", "derive", "x'*A*x", "--wrt", "A", "--shape", "A=n,m"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert "note: x was taken as a scalar" in r.stderr
    r = subprocess.run([sys.executable, "-m", "matcalc", "derive", "sum(mean2(x))", "--wrt", "x"],
                       capture_output=True, text=True)
    assert "note: mean2 is not a known function" in r.stderr


def test_text_writes_broadcast_vectors_bare_only_where_they_parse_back():
    shapes = {"G": (4, 3), "X": (4, 3), "b": (3,), "c": (4,)}
    assert matcalc.derive("sum(G .* (X .* b' .* c))", "X", shapes=shapes).text() == "G .* b' .* c"
    assert matcalc.derive("sum(exp(X + b' + c))", "X", shapes=shapes).text() == "exp(X + b' + c)"
    lone = matcalc.derive("sum(G .* (X ./ b'))", "X", shapes=shapes)
    assert lone.text() == "G ./ b'"                      # a full matrix leads: the row broadcasts back
    alone = matcalc.derive("sum(X ./ b')", "X", shapes=shapes)
    assert alone.text() == "1 ./ (ones(4)*b')"           # the vector leads nothing: kept spread
    for d in (lone, matcalc.derive("sum(G .* (X .* b' .* c))", "c", shapes=shapes)):
        assert not d.notes                                # every printed text was parsed back and agreed


def test_hessians_by_a_bias_are_diagonal_column_or_row_sums():
    row = matcalc.hessian("sum(exp(X*W + b'))", "b")
    assert row.render("unicode") == "∂²f/∂b∂bᵀ = diag(sum(exp(X W + 𝟏 bᵀ), 1)ᵀ)"
    col = matcalc.hessian("sum(exp(W*X + b))", "b")             # a column bias, features × batch
    assert col.text() == "diag(sum(exp(W*X + b), 2))"
    p = _point({"W": (3, 2), "X": (2, 5), "b": (3,)}, seed=4)
    np.testing.assert_allclose(col.numpy()(**p), np.diag(np.exp(p["W"] @ p["X"] + p["b"][:, None]).sum(axis=1)),
                               rtol=1e-10)
    symbolic = matcalc.hessian(AFFINE, "b")                      # 2 n I with n the batch size
    assert not symbolic.notes
    q = _point({"X": (3, 2), "W": (2, 2), "b": (2,), "Y": (3, 2)}, seed=5)
    np.testing.assert_allclose(symbolic.numpy()(**q), 6 * np.eye(2))


def test_guesses_are_noted_in_every_output_style_and_by_check():
    for style in ("--text", "--latex"):
        r = subprocess.run([sys.executable, "-m", "matcalc", "derive", "u'*mean2(W*x)", "--wrt", "W", style],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "note: mean2 is not a known function" in r.stderr
    v = matcalc.check("u'*sigmiod(W*x)", "W", "(u .* sigmiod'(W*x))*x'")
    assert v.correct and any(n.startswith("sigmiod is not a known function") for n in v.notes)
