"""The v2 worked examples (worked_examples/generate.py) against the courses' own NumPy code: each
gradient matcalc prints is evaluated at a random point and compared with the backward pass as
CS231n / CS224n write it by hand, and its printed text is checked to be the textbook form."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc

RNG = np.random.default_rng(7)
N, D, H, C = 5, 4, 3, 3


def _onehot_rows(n, c, rng):
    Y = np.zeros((n, c))
    Y[np.arange(n), rng.integers(0, c, n)] = 1
    return Y


def _softmax_rows(S):
    e = np.exp(S - S.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


TWO_LAYER = ("h = relu(X*W1 + b1'); S = h*W2 + b2'; "
             "L = -sum(sum(Y .* log_softmax(S, 2)))/size(X, 1) + lam*(sum(sum(W1 .* W1)) + sum(sum(W2 .* W2)))")


def test_cs231n_two_layer_net_with_biases_matches_the_assignment_code():
    d = matcalc.derive(TWO_LAYER, ["W1", "b1", "W2", "b2"], assume={"Y": "onehot_rows"}, shapes={"lam": ()})
    assert "∂L/∂b2 = sum(t2, 1)ᵀ/n" in str(d) and "∂L/∂W1 = 2 lam W1 + Xᵀ t3/n" in str(d)
    X, Y = RNG.normal(size=(N, D)), _onehot_rows(N, C, RNG)
    W1, b1, W2, b2, reg = RNG.normal(size=(D, H)), RNG.normal(size=H), RNG.normal(size=(H, C)), RNG.normal(size=C), 0.3
    got = d.numpy()(X=X, Y=Y, W1=W1, b1=b1, W2=W2, b2=b2, lam=reg)
    hidden = np.maximum(0, X @ W1 + b1)                        # the assignment's backward pass
    dscores = (_softmax_rows(hidden @ W2 + b2) - Y) / N
    dW2, db2 = hidden.T @ dscores + 2 * reg * W2, dscores.sum(axis=0)
    dhidden = dscores @ W2.T
    dhidden[hidden <= 0] = 0
    dW1, db1 = X.T @ dhidden + 2 * reg * W1, dhidden.sum(axis=0)
    for name, want in {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}.items():
        np.testing.assert_allclose(got[name], want, rtol=1e-10, atol=1e-12)


def test_softmax_loss_averaged_over_the_batch_is_X_transpose_P_minus_Y_over_N():
    expr = "L = -sum(sum(Y .* log_softmax(X*W, 2)))/size(X, 1)"
    d = matcalc.derive(expr, "W", assume={"Y": "onehot_rows"}, shapes={"X": ("N", "D"), "W": ("D", "C")})
    assert str(d) == "∂L/∂W = Xᵀ(softmax(X W, 2) − Y)/N"
    assert d.text() == "X'*(softmax(X*W, 2) - Y)/N"            # parsed back as the batch size
    v = matcalc.check(expr, "W", "X'*(softmax(X*W, 2) - Y)/N", assume={"Y": "onehot_rows"},
                      shapes={"X": ("N", "D"), "W": ("D", "C")})
    assert v.correct and v.expected == "X'*(softmax(X*W, 2) - Y)/N"


def test_svm_with_broadcast_margins_matches_the_vectorised_assignment_code():
    expr = "S = X*W; M = max(0, S - sum(S .* Y, 2) + 1) .* (1 - Y); L = sum(sum(M))/size(X, 1)"
    d = matcalc.derive(expr, "W", assume={"Y": "onehot_rows"})
    assert str(d).endswith("∂L/∂W = Xᵀ(t1 − (t1 𝟏 𝟏ᵀ) ∘ Y)/n")     # the /n of the mean factored out
    X, Y, W = RNG.normal(size=(N, D)), _onehot_rows(N, C, RNG), RNG.normal(size=(D, C))
    scores = X @ W
    y = Y.argmax(axis=1)
    margins = np.maximum(0, scores - scores[np.arange(N), y][:, None] + 1)
    margins[np.arange(N), y] = 0
    binary = (margins > 0).astype(float)
    binary[np.arange(N), y] = -binary.sum(axis=1)
    np.testing.assert_allclose(d.numpy()(X=X, Y=Y, W=W), X.T @ binary / N, rtol=1e-10, atol=1e-12)


BATCHNORM = ("mu = mean(X, 1); xc = X - mu; v = mean(xc.^2, 1); s = sqrt(v + 1e-5); Xh = xc ./ s; "
             "L = sum(sum(G .* (Xh .* g' + b')))")
LAYERNORM = "xc = X - mean(X, 2); s = sqrt(mean(xc.^2, 2) + 1e-5); Xh = xc ./ s; L = sum(sum(G .* (Xh .* g' + b')))"


def test_batchnorm_backward_is_the_known_compact_form():
    d = matcalc.derive(BATCHNORM, ["X", "g", "b"])
    assert "∂L/∂X = (𝟏(gᵀ ⊘ s)) ∘ (G − Xh ∘ (𝟏 mean(t1, 1)) − 𝟏 mean(G, 1))" in str(d)
    assert "t1 = G ∘ Xh" in str(d) and "∂L/∂g = sum(t1, 1)ᵀ" in str(d)
    X, G, g, b = RNG.normal(size=(N, D)), RNG.normal(size=(N, D)), RNG.normal(size=D), RNG.normal(size=D)
    got = d.numpy()(X=X, G=G, g=g, b=b)
    sigma = np.sqrt(X.var(axis=0) + 1e-5)
    xhat = (X - X.mean(axis=0)) / sigma
    dX = g / sigma * (G - G.mean(axis=0) - xhat * (G * xhat).mean(axis=0))
    np.testing.assert_allclose(got["X"], dX, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["g"], (G * xhat).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(got["b"], G.sum(axis=0), rtol=1e-12)


def test_layernorm_backward_is_the_known_compact_form():
    d = matcalc.derive(LAYERNORM, "X")
    assert str(d).endswith("∂L/∂X = ((1 ⊘ s) 𝟏ₘᵀ) ∘ (t2 − Xh ∘ (mean(Xh ∘ t2, 2) 𝟏ₘᵀ) − mean(t2, 2) 𝟏ₘᵀ)")
    X, G, g, b = RNG.normal(size=(N, D)), RNG.normal(size=(N, D)), RNG.normal(size=D), RNG.normal(size=D)
    sigma = np.sqrt(X.var(axis=1, keepdims=True) + 1e-5)
    xhat = (X - X.mean(axis=1, keepdims=True)) / sigma
    Gg = G * g
    dX = (Gg - Gg.mean(axis=1, keepdims=True) - xhat * (Gg * xhat).mean(axis=1, keepdims=True)) / sigma
    np.testing.assert_allclose(d.numpy()(X=X, G=G, g=g, b=b), dX, rtol=1e-9, atol=1e-12)


def test_word2vec_naive_softmax_with_an_index():
    d = matcalc.derive("ŷ = softmax(U'*v); J = -log(ŷ[o])", ["v", "U"], shapes={"o": "index"})
    assert str(d) == "ŷ = softmax(Uᵀ v)\n∂J/∂v = U(ŷ − eₒ)\n∂J/∂U = v(ŷ − eₒ)ᵀ"
    U, v, o = RNG.normal(size=(D, 7)), RNG.normal(size=D), 2             # o counts from 0 in NumPy
    got = d.numpy()(U=U, v=v, o=o)
    yhat = np.exp(U.T @ v) / np.exp(U.T @ v).sum()
    y = np.eye(7)[o]
    np.testing.assert_allclose(got["v"], U @ (yhat - y), rtol=1e-10)
    np.testing.assert_allclose(got["U"], np.outer(v, yhat - y), rtol=1e-10)


def test_word2vec_negative_sampling():
    d = matcalc.derive("J = -log(sigmoid(uo'*v)) - sum(log(sigmoid(-K'*v)))", ["v", "uo", "K"])
    assert str(d) == ("t1 = σ(−Kᵀ v)\nt2 = 1 − σ(uoᵀv)\n∂J/∂v = K(1 − t1) − t2 uo\n∂J/∂uo = −t2 v\n"
                      "∂J/∂K = v(1 − t1)ᵀ")                  # 1 − σ(−Kᵀv) = σ(Kᵀv), the handout's
    sig = lambda z: 1 / (1 + np.exp(-z))                                      # noqa: E731
    v, uo, K = RNG.normal(size=D), RNG.normal(size=D), RNG.normal(size=(D, 6))
    got = d.numpy()(v=v, uo=uo, K=K)
    np.testing.assert_allclose(got["v"], -(1 - sig(uo @ v)) * uo + K @ sig(K.T @ v), rtol=1e-10)
    np.testing.assert_allclose(got["uo"], -(1 - sig(uo @ v)) * v, rtol=1e-10)
    np.testing.assert_allclose(got["K"], np.outer(v, sig(K.T @ v)), rtol=1e-10)


def test_attention_backward():
    expr = "A = softmax(Q*K'/sqrt(size(Q, 2)), 2); O = A*V; L = sum(sum(G .* O))"
    d = matcalc.derive(expr, ["Q", "K", "V"])
    assert "∂L/∂V = Aᵀ G" in str(d)
    T, dk, dv = 4, 3, 2
    Q, K, V, G = (RNG.normal(size=s) for s in [(T, dk), (T, dk), (T, dv), (T, dv)])
    got = d.numpy()(Q=Q, K=K, V=V, G=G)
    A = _softmax_rows(Q @ K.T / np.sqrt(dk))
    dA = G @ V.T
    dS = A * (dA - (dA * A).sum(axis=1, keepdims=True)) / np.sqrt(dk)
    np.testing.assert_allclose(got["V"], A.T @ G, rtol=1e-10)
    np.testing.assert_allclose(got["Q"], dS @ K, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["K"], dS.T @ Q, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("expr,wrt,kw", [
    (TWO_LAYER, ["W1", "b1", "W2", "b2"], {"assume": {"Y": "onehot_rows"}, "shapes": {"lam": ()}}),
    (BATCHNORM, ["X", "g", "b"], {}), (LAYERNORM, ["X"], {}),
    ("ŷ = softmax(U'*v); J = -log(ŷ[o])", ["v", "U"], {"shapes": {"o": "index"}}),
])
def test_every_printed_form_round_trips(expr, wrt, kw):
    """derive verifies its printed text (parsed back, against central differences): no note."""
    d = matcalc.derive(expr, wrt, **kw)
    assert d.check.status == "ok" and not [n for n in d.notes if "not verified" in n]
