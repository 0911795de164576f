"""Generated forward/backward code: gradcheck over a catalogue, ruff, cache safety (float32: test_codegen_float32)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcalc import codegen
from matcalc import gradcheck
from matcalc.generate.gradcheck import load

# (expr, wrt, shapes, assume): every differentiable op of the rule table, small shapes,
# and the worked-example style functions.
CATALOGUE = [
    ("sum(W)", "W", {"W": (3, 2)}, None),
    ("2*norm(x)^2 + 3", "x", {"x": (4,)}, None),
    ("alpha*sum(x .* x)", "alpha,x", {"x": (3,)}, None),
    ("sum(X + Y)", "X,Y", {"X": (2, 3), "Y": (2, 3)}, None),
    ("c'*A*B*d", "A,B", {"c": (3,), "A": (3, 4), "B": (4, 2), "d": (2,)}, None),
    ("sum(A' .* B)", "A", {"A": (3, 2), "B": (2, 3)}, None),
    ("sum(X .* Y .* X)", "X,Y", {"X": (2, 3), "Y": (2, 3)}, None),
    ("sum(X.^3) + sum(sqrt(Y)) + sum(Y.^(-1))", "X,Y", {"X": (2, 2), "Y": (2, 2)}, {"Y": "positive"}),
    ("tr(X^3)", "X", {"X": (3, 3)}, None),
    ("sum(exp(x)) + sum(log(y)) + sum(sin(x) .* cos(x))", "x,y", {"x": (3,), "y": (3,)}, {"y": "positive"}),
    ("sum(sigmoid(x)) + sum(softplus(x)) + sum(tanh(x))", "x", {"x": (4,)}, None),
    ("sum(relu(x)) + sum(abs(x)) + sum(hardtanh(x)) + sum(elu(x))", "x", {"x": (6,)}, None),
    ("sum(max(x, y)) + sum(min(x, y)) + sum(leaky_relu(x, 0.1))", "x,y", {"x": (5,), "y": (5,)}, None),
    ("sum(X, 1)*a + b'*sum(X, 2)", "X", {"X": (3, 4), "a": (4,), "b": (3,)}, None),
    ("tr(A*X) + tr(X)", "X", {"A": (3, 3), "X": (3, 3)}, None),
    ("det(X)", "X", {"X": (3, 3)}, {"X": "invertible"}),
    ("logdet(X)", "X", {"X": (3, 3)}, {"X": "spd"}),
    ("sum(inv(X))", "X", {"X": (3, 3)}, {"X": "invertible"}),
    ("norm(X) + norm(x)", "X,x", {"X": (3, 2), "x": (3,)}, None),
    ("u'*diag(x)*v + sum(diag(A))", "x,A", {"u": (3,), "v": (3,), "x": (3,), "A": (3, 3)}, None),
    ("sum(diag(x)*A)", "x,A", {"x": (3,), "A": (3, 2)}, None),
    ("y'*softmax(z) + sum(log_softmax(Z, 2) .* Y)", "z,Z", {"y": (3,), "z": (3,), "Z": (2, 3), "Y": (2, 3)}, None),
    ("sum(logsumexp(Z)) + logsumexp(z)", "Z,z", {"Z": (3, 4), "z": (3,)}, None),
    ("sum(vec(X) .* v)", "X", {"X": (2, 3), "v": (6,)}, None),
    ("sum(f(A*x))", "A,x", {"A": (3, 2), "x": (2,)}, None),
    ("lambda*norm(w)^2", "lambda,w", {"w": (3,)}, None),
    # worked-example style functions
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2",
     {"X": (5, 4), "W1": (4, 3), "W2": (3, 2), "Y": (5, 2)}, None),
    ("z = W*x + b; L = -y'*log_softmax(z)", "W,b", {"W": (3, 4), "x": (4,), "b": (3,), "y": (3,)},
     {"y": "onehot"}),
    ("L = sum(-Y .* log_softmax(X*W, 2))", "W", {"X": (4, 5), "W": (5, 3), "Y": (4, 3)}, {"Y": "onehot_rows"}),
    ("sum(max(0, X*W - s*ones(1, 3) + 1))", "W", {"X": (4, 5), "W": (5, 3), "s": (4,)}, None),
    ("s = u'*tanh(W*x + b)", "W,b,u,x", {"u": (4,), "W": (4, 3), "x": (3,), "b": (4,)}, None),
    ("norm(W*X)^2", "W,X", {"W": (3, 4), "X": (4, 2)}, None),
    ("h1 = tanh(X*W1); h2 = tanh(h1*W2); L = sum(h2*W3)", "W1,W2,W3",
     {"X": (3, 4), "W1": (4, 5), "W2": (5, 5), "W3": (5, 2)}, None),
]


@pytest.mark.parametrize("expr,wrt,shapes,assume", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_gradcheck_catalogue(expr, wrt, shapes, assume):
    report = gradcheck(expr, wrt, shapes=shapes, assume=assume, points=1)
    assert report.ok, str(report)


def test_gradcheck_catches_a_wrong_gradient():
    """Testing the tester: a backward that is off by 0.1% must fail."""
    src = codegen("norm(W*x)^2", "W", {"W": (3, 2), "x": (2,)})
    ns = load(src.replace("{'W': dL_dW}", "{'W': 1.001 * dL_dW}"))
    W, x = np.ones((3, 2)), np.arange(2.0)
    _, cache = ns["forward"](W=W, x=x)
    g = ns["backward"](cache)["W"]
    assert not np.allclose(g, 2 * np.outer(W @ x, x), rtol=1e-7)


def test_keyword_names_are_renamed():
    src = codegen("lambda*norm(w)^2", "lambda,w", {"w": (3,)})
    assert "lambda_" in src
    ns = load(src)
    out, cache = ns["forward"](**{"lambda": 2.0, "w": np.ones(3)})
    assert out == pytest.approx(6.0)
    grads = ns["backward"](cache)
    assert grads["lambda"] == pytest.approx(3.0)
    assert np.allclose(grads["w"], 4.0 * np.ones(3))


def test_generated_modules_pass_ruff(tmp_path):
    pytest.importorskip("ruff")
    for i, (expr, wrt, shapes, assume) in enumerate(CATALOGUE):
        (tmp_path / f"m{i}.py").write_text(codegen(expr, wrt, shapes, assume))
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_numpy_is_imported():
    src = codegen("s = u'*tanh(W*x + b)", "W,b", {"u": (4,), "W": (4, 3), "x": (3,), "b": (4,)})
    imports = [ln for ln in src.splitlines() if ln.startswith(("import", "from"))]
    assert imports == ["import numpy as np"]
    assert "s = u'*tanh(W*x + b)" in src and "1.0 - " in src      # tanh' reuses the cached h


def test_backward_twice_gives_identical_fresh_arrays():
    ns = load(codegen("sum(A .* X) + sum(X)", "X,A", {"A": (2, 3), "X": (2, 3)}))
    rng = np.random.default_rng(1)
    A, X = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    _, cache = ns["forward"](A=A, X=X)
    snapshot = {k: np.array(v, copy=True) for k, v in cache.items() if isinstance(v, np.ndarray)}
    g1 = ns["backward"](cache)
    g1_copy = {k: v.copy() for k, v in g1.items()}
    g2 = ns["backward"](cache, upstream=3.0)
    for k in g1:
        assert g1[k] is not g2[k] and not np.shares_memory(g1[k], g2[k])
        assert np.array_equal(g1[k], g1_copy[k])
        for v in cache.values():
            if isinstance(v, np.ndarray):
                assert not np.shares_memory(g1[k], v)
    for k, v in snapshot.items():
        assert np.array_equal(cache[k], v)
    assert np.allclose(g2["X"], 3.0 * g1["X"])
    assert np.array_equal(g1["X"], A + 1)


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(st.floats(min_value=-10, max_value=10, allow_nan=False))
def test_upstream_scales_gradients(u):
    ns = load(codegen("z = W*x + b; h = sigmoid(z); s = c'*h", "W,b", {"W": (3, 2), "x": (2,), "b": (3,), "c": (3,)}))
    rng = np.random.default_rng(0)
    inputs = {"W": rng.standard_normal((3, 2)), "x": rng.standard_normal(2), "b": rng.standard_normal(3),
              "c": rng.standard_normal(3)}
    _, cache = ns["forward"](**inputs)
    g1, gu = ns["backward"](cache), ns["backward"](cache, upstream=u)
    for k in g1:
        assert np.allclose(gu[k], u * g1[k], rtol=1e-12, atol=1e-12)


def test_vector_output_and_model_class():
    ns = load(codegen("A*x + b", "x", {"A": (2, 3), "x": (3,), "b": (2,)}))
    A, x, b = np.arange(6.0).reshape(2, 3), np.ones(3), np.ones(2)
    m = ns["Model"]()
    assert np.allclose(m.forward(A=A, x=x, b=b), A @ x + b)
    assert np.allclose(m.backward(upstream=np.array([1.0, 2.0]))["x"], A.T @ np.array([1.0, 2.0]))


def test_no_diagonal_or_identity_is_built():
    src = codegen("sum(diag(x)*A)", "x,A", {"x": (3,), "A": (3, 2)})
    assert "diagflat" not in src and "np.eye" not in src
