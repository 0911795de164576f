"""float32 generated code: finite where float32 can represent the answer, float32 all the way through,
and as accurate as float32 allows.

The reference is the float64 generated code run on the same (float32-rounded) inputs, so the only
difference is the arithmetic.  The bounds are normwise relative errors, ``‖g32 - g64‖ / ‖g64‖``:
float32 rounds at u = 2**-24 ≈ 6e-8; the 2-layer net's forward sums D = 1000 products and its
saturated sigmoid, ``h(1 - h) ≈ exp(-|z|)`` with |z| up to ~100, turns an absolute error in z into that
much relative error, so a few 1e-6 is what correct float32 code gets (measured: 4e-6 for W1, 3e-7 for
W2) and the bound leaves room for a different BLAS, not for a wrong formula.

A checker that cannot fail proves nothing, so the last tests feed it float32 code that overflows
(the naive ``1/(1 + exp(-z))`` sigmoid, whose backward divides inf by inf) and code that claims
float32 but computes in float64, and expect it to reject both.
"""
from __future__ import annotations

import numpy as np
import pytest

from matcalc import codegen
from matcalc.generate.gradcheck import load

TWO_LAYER = "h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2"
NAIVE_SIGMOID = "h = 1 ./ (1 + exp(-(X*W1))); Yp = h*W2; L = norm(Yp - Y)^2"
TWO_LAYER_SHAPES = {"X": (64, 1000), "W1": (1000, 100), "W2": (100, 10), "Y": (64, 10)}  # N, D, H, D_out
SOFTMAX_CE = "L = sum(-Y .* log_softmax(X*W, 2))"
SOFTMAX_SHAPES = {"X": (128, 300), "W": (300, 10), "Y": (128, 10)}
TOL = 1e-4


def lecture_inputs(seed: int = 0) -> dict:
    """The lecture's ``randn`` inputs, weights unscaled (so X W1 has entries of size ~30), in float32."""
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in TWO_LAYER_SHAPES.items()}


def softmax_inputs(seed: int = 0, logit_scale: float = 1000.0) -> dict:
    """Logits of size ~``logit_scale``: exp overflows float32 beyond 88 and float64 beyond 709."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(SOFTMAX_SHAPES["X"]).astype(np.float32)
    W = (rng.standard_normal(SOFTMAX_SHAPES["W"]) * logit_scale / np.sqrt(300)).astype(np.float32)
    Y = np.zeros(SOFTMAX_SHAPES["Y"], dtype=np.float32)
    Y[np.arange(128), rng.integers(10, size=128)] = 1.0
    return {"X": X, "W": W, "Y": Y}


def run(source: str, inputs: dict, strict: bool) -> tuple[object, dict, dict]:
    """(value, cache, gradients) of a generated module; with ``strict``, overflow and NaN raise."""
    ns = load(source)
    with np.errstate(over="raise", invalid="raise", divide="raise") if strict else np.errstate(all="ignore"):
        value, cache = ns["forward"](**inputs)
        grads = ns["backward"](cache)
    return value, cache, grads


def check_float32(source32: str, source64: str, inputs: dict, tol: float = TOL) -> dict:
    """Assert the float32 module is finite, float32 throughout and within ``tol`` of float64.

    Returns the normwise relative error of each gradient (and of the value, under ``"value"``)."""
    value, cache, grads = run(source32, inputs, strict=True)
    value64, _, grads64 = run(source64, inputs, strict=False)
    assert isinstance(value, np.float32), type(value)
    for name, a in cache.items():
        if isinstance(a, (np.ndarray, np.generic)):
            assert a.dtype == np.float32, f"cache {name} is {a.dtype}: the float32 code computes in {a.dtype}"
    errors = {"value": abs(float(value) - float(value64)) / abs(float(value64))}
    for name, g in grads.items():
        assert g.dtype == np.float32, f"d/d{name} is {g.dtype}"
        assert np.all(np.isfinite(g)), f"d/d{name} has {np.sum(~np.isfinite(g))} non-finite entries"
        ref = grads64[name]
        assert ref.dtype == np.float64 and np.all(np.isfinite(ref))
        errors[name] = float(np.linalg.norm(g.astype(np.float64) - ref) / np.linalg.norm(ref))
    bad = {k: e for k, e in errors.items() if not e <= tol}
    assert not bad, f"relative errors above {tol:.0e}: {bad}"
    return errors


def sources(expr: str, wrt: str, shapes: dict, assume: dict | None = None) -> tuple[str, str]:
    return (codegen(expr, wrt, shapes, assume, dtype="float32"), codegen(expr, wrt, shapes, assume, dtype="float64"))


def test_two_layer_net_unscaled_randn_weights():
    inputs = lecture_inputs()
    z = inputs["X"].astype(np.float64) @ inputs["W1"]
    assert np.abs(z).max() > 89, "the inputs must drive exp(-z) past float32's overflow at 88.7"
    errors = check_float32(*sources(TWO_LAYER, "W1,W2", TWO_LAYER_SHAPES), inputs)
    assert errors["W1"] > 0 and errors["W2"] > 0  # float32 arithmetic really happened


@pytest.mark.parametrize("seed", [1, 2])
def test_two_layer_net_other_seeds(seed):
    check_float32(*sources(TWO_LAYER, "W1,W2", TWO_LAYER_SHAPES), lecture_inputs(seed))


def test_two_layer_net_upstream_and_repeat_calls_stay_float32():
    ns = load(codegen(TWO_LAYER, "W1,W2", TWO_LAYER_SHAPES, dtype="float32"))
    _, cache = ns["forward"](**lecture_inputs())
    first = ns["backward"](cache)
    scaled = ns["backward"](cache, upstream=np.float64(0.5))
    for k in first:
        assert scaled[k].dtype == np.float32
        np.testing.assert_allclose(scaled[k], 0.5 * first[k], rtol=1e-6, atol=1e-6 * np.abs(first[k]).max())


@pytest.mark.parametrize("logit_scale", [10.0, 1000.0])
def test_softmax_cross_entropy_large_logits(logit_scale):
    inputs = softmax_inputs(logit_scale=logit_scale)
    errors = check_float32(*sources(SOFTMAX_CE, "W", SOFTMAX_SHAPES, {"Y": "onehot_rows"}), inputs)
    assert errors["W"] > 0


def test_softmax_cross_entropy_large_logits_float64_reference_is_finite():
    """Logits of 1000 overflow exp even in float64: the reference itself must subtract the max."""
    inputs = {k: v.astype(np.float64) for k, v in softmax_inputs(logit_scale=1000.0).items()}
    assert np.abs(inputs["X"] @ inputs["W"]).max() > 710
    value, _, grads = run(codegen(SOFTMAX_CE, "W", SOFTMAX_SHAPES, {"Y": "onehot_rows"}), inputs, strict=True)
    assert np.isfinite(value) and np.all(np.isfinite(grads["W"]))


# ---------------------------------------------------------------- the checker catches what it should
def test_checker_rejects_the_naive_sigmoid():
    naive32, naive64 = sources(NAIVE_SIGMOID, "W1,W2", TWO_LAYER_SHAPES)
    with pytest.raises(FloatingPointError):
        check_float32(naive32, naive64, lecture_inputs())
    # without the floating-point traps, the non-finite gradient itself is caught
    _, _, grads = run(naive32, lecture_inputs(), strict=False)
    assert not np.all(np.isfinite(grads["W1"]))


def test_checker_rejects_float32_code_that_computes_in_float64():
    source32, source64 = sources(TWO_LAYER, "W1,W2", TWO_LAYER_SHAPES)
    assert "DTYPE = np.float32" in source32
    with pytest.raises(AssertionError, match="float64"):
        check_float32(source32.replace("DTYPE = np.float32", "DTYPE = np.float64"), source64, lecture_inputs())
