"""Regression: a product of all-ones matrices keeps its inner size (𝟏ₘₖ 𝟏ₖₙ = k 𝟏ₘₙ).

The bias of a batch written ``ones(n)*b'`` has the gradient n·𝟏 (the column sums of an all-ones
upstream); folding 𝟏 𝟏 to 𝟏 dropped the factor n, in the API, the grader and generated code.
"""
import numpy as np
import pytest
from central import central_gradient

import matcalc

RNG = np.random.default_rng(7)



@pytest.mark.parametrize("expr,shapes,sizes", [
    ("sum(X*W + ones(n)*b')", {"X": ("n", "d"), "W": ("d", "h"), "b": ("h",)}, {"n": 4, "d": 3, "h": 2}),
    ("sum(X*W + ones(5)*b')", {"X": (5, 3), "W": (3, 2), "b": (2,)}, {"n": 5, "d": 3, "h": 2}),
    ("sum(ones(3, 4)*ones(4, 2)*b)", {"b": (2,)}, {"n": 3, "k": 4, "m": 2}),
])
def test_bias_through_ones_keeps_the_batch_size(expr, shapes, sizes):
    n, d, h = sizes.get("n"), sizes.get("d"), sizes.get("h")
    deriv = matcalc.derive(expr, "b", shapes=shapes)
    if "X" in shapes:
        X, W, b = RNG.normal(size=(n, d)), RNG.normal(size=(d, h)), RNG.normal(size=h)
        got = deriv.numpy()(X=X, W=W, b=b)
        want = central_gradient(lambda bb: np.sum(X @ W + np.outer(np.ones(n), bb)), b)
    else:
        b = RNG.normal(size=sizes["m"])
        got = deriv.numpy()(b=b)
        want = central_gradient(lambda bb: np.sum(np.ones((sizes["n"], sizes["k"])) @ np.ones((sizes["k"], sizes["m"])) @ bb), b)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7)
    assert deriv.verify().status == "ok"
