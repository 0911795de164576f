"""Generated backward's memory: the caller's gradient buffers (``out=``), ``Model``'s own, the
gradients computed early and the dead temporaries released (``generate.buffers``).

Sizes only, never timings (those are in benchmarks/bench_codegen.py).  Every module
``matcalc.codegen`` returns has also passed ``gradcheck.buffered`` (the out= path and Model
against the fresh gradients): tests/test_codegen_catalogue.py runs that over the rule table.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from matcalc import codegen
from matcalc.core.errors import VerificationError
from matcalc.generate.buffers import early_gradients, into_buffers, release
from matcalc.generate.gradcheck import load
from matcalc.generate.verify import verify_generated

LAYER = ("s = u'*tanh(W*x + b)", "W,b", {"u": (5,), "W": (5, 4), "x": (4,), "b": (5,)})
MLP = "h1 = tanh(X*W1); h2 = tanh(h1*W2); h3 = tanh(h2*W3); L = sum(h3*W4)"
MLP_SHAPES = {"X": (32, 64), **{f"W{i}": (64, 64) for i in range(1, 5)}}
PROGRAMS = [
    LAYER,
    ("L = sum(-Y .* log_softmax(X*W, 2))", "W", {"X": (6, 20), "W": (20, 3), "Y": (6, 3)}),
    ("norm(W*X)^2", "W", {"W": (5, 4), "X": (4, 3)}),
    ("c*norm(x)^2 + sum(A*x)", "c,x,A", {"c": (), "x": (3,), "A": (2, 3)}),
    (MLP, "W1,W2,W3,W4", {"X": (3, 4), **{f"W{i}": (4, 4) for i in range(1, 5)}}),
]


def _module(expr, wrt, shapes, dtype=None):
    return load(codegen(expr, wrt, shapes, dtype=dtype))


def _inputs(shapes, rng, dtype=np.float64):
    return {k: rng.standard_normal(s).astype(dtype) / 2 for k, s in shapes.items()}


@pytest.mark.parametrize("expr,wrt,shapes", PROGRAMS, ids=[p[0] for p in PROGRAMS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_fills_and_returns_the_given_arrays(expr, wrt, shapes, dtype):
    mod = _module(expr, wrt, shapes, dtype.__name__)
    _, cache = mod["forward"](**_inputs(shapes, np.random.default_rng(0), dtype))
    fresh = mod["backward"](cache, 0.5)
    kept = {k: np.array(v, copy=True) for k, v in fresh.items()}
    bufs = {k: np.full(np.shape(v), np.nan, dtype=dtype) for k, v in fresh.items()}
    got = mod["backward"](cache, 0.5, out=bufs)
    assert set(got) == set(fresh)
    for k, v in kept.items():
        assert got[k] is bufs[k]
        np.testing.assert_allclose(bufs[k], v, rtol=1e-6 if dtype == np.float32 else 1e-13)
        np.testing.assert_array_equal(fresh[k], v)                  # what it returned before: untouched
    again = mod["backward"](cache, 0.5, out=bufs)                  # the same buffers, passed back
    assert all(again[k] is bufs[k] for k in bufs)
    np.testing.assert_allclose(again[next(iter(kept))], kept[next(iter(kept))], rtol=1e-5)


def test_out_may_name_some_gradients_and_any_memory_layout():
    expr, wrt, shapes = LAYER
    mod = _module(expr, wrt, shapes)
    _, cache = mod["forward"](**_inputs(shapes, np.random.default_rng(1)))
    fresh = mod["backward"](cache)
    buf = np.asfortranarray(np.zeros((5, 4)))
    got = mod["backward"](cache, out={"W": buf})
    assert got["W"] is buf and got["b"] is not fresh["b"]
    np.testing.assert_allclose(buf, fresh["W"], rtol=1e-13)
    np.testing.assert_allclose(got["b"], fresh["b"], rtol=1e-13)


@pytest.mark.parametrize("bad,message", [
    ({"W": np.zeros((4, 5))}, "shape"),
    ({"W": np.zeros((5, 4), dtype=np.float32)}, "float64"),
    ({"W": np.zeros((5, 4))[:, ::-1].copy()[:, :]}, None),          # a well-formed array: accepted
    ({"V": np.zeros((5, 4))}, "no gradient named 'V'"),
    ({"b": np.zeros(5)[::1], "W": np.zeros((5, 4)).view()}, None),
])
def test_buffers_are_checked_before_anything_is_written(bad, message):
    expr, wrt, shapes = LAYER
    mod = _module(expr, wrt, shapes)
    _, cache = mod["forward"](**_inputs(shapes, np.random.default_rng(2)))
    if message is None:
        mod["backward"](cache, out=bad)
        return
    with pytest.raises(ValueError, match=message):
        mod["backward"](cache, out=bad)


def test_read_only_overlapping_or_cached_buffers_are_refused():
    expr, wrt, shapes = LAYER
    mod = _module(expr, wrt, shapes)
    _, cache = mod["forward"](**_inputs(shapes, np.random.default_rng(3)))
    frozen = np.zeros((5, 4))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        mod["backward"](cache, out={"W": frozen})
    block = np.zeros((6, 5))
    with pytest.raises(ValueError, match="shares memory"):
        mod["backward"](cache, out={"W": block[:5, :4], "b": block[4]})
    with pytest.raises(ValueError, match="shares memory"):              # the cache's own array
        mod["backward"](cache, out={"b": next(v.reshape(-1) for k, v in cache.items() if k == "u")})


def test_model_reuses_its_gradient_arrays_and_the_module_never_does():
    expr, wrt, shapes = LAYER
    mod = _module(expr, wrt, shapes)
    rng = np.random.default_rng(4)
    model = mod["Model"]()
    a, b = _inputs(shapes, rng), _inputs(shapes, rng)
    model.forward(**a)
    first = model.backward()
    first_values = {k: v.copy() for k, v in first.items()}
    model.forward(**b)
    second = model.backward()
    for k in first:
        assert second[k] is first[k]                                   # the Model's own arrays, overwritten
    _, cache_b = mod["forward"](**b)
    want = mod["backward"](cache_b)
    for k in want:
        np.testing.assert_allclose(second[k], want[k], rtol=1e-13)
        assert not np.allclose(first_values[k], second[k])
    module_once, module_twice = mod["backward"](cache_b), mod["backward"](cache_b)
    assert all(module_once[k] is not module_twice[k] for k in module_once)


def test_model_makes_new_arrays_when_the_inputs_change_shape():
    mod = _module("norm(W*X)^2", "W", {"W": ("n", "m"), "X": ("m", "k")})
    rng = np.random.default_rng(5)
    model = mod["Model"]()
    model.forward(W=rng.standard_normal((3, 2)), X=rng.standard_normal((2, 4)))
    small = model.backward()["W"]
    W, X = rng.standard_normal((5, 2)), rng.standard_normal((2, 4))
    model.forward(W=W, X=X)
    big = model.backward()["W"]
    assert big is not small and big.shape == (5, 2)
    np.testing.assert_allclose(big, 2 * W @ X @ X.T, rtol=1e-12)
    model.forward(W=W, X=X)
    assert model.backward()["W"] is big


def test_a_module_whose_out_path_is_wrong_is_refused():
    """Testing the tester: a backward that ignores the caller's buffer fails verification."""
    expr, wrt, shapes = LAYER
    good = codegen(expr, wrt, shapes, verify=False)
    broken = good.replace("else _give(out, ", "else _give(None, ")
    assert broken != good
    with pytest.raises(VerificationError, match="out="):
        verify_generated(broken, codegen, expr, wrt, shapes, None, "float64")


def test_each_layer_gradient_follows_its_delta_which_is_then_released():
    src = codegen(MLP, "W1,W2,W3,W4", MLP_SHAPES)
    body = src[src.index("def backward"):src.index("class Model")]
    lines = [ln.strip() for ln in body.splitlines()]
    for i in (3, 2):
        grad = lines.index(next(ln for ln in lines if ln.startswith(f"dL_dW{i} =")))
        down = lines.index(next(ln for ln in lines if ln.startswith(f"dL_dz{i - 1} =")))
        dead = lines.index(f"del dL_dz{i}")
        assert grad < dead and down < dead < lines.index(f"dL_dz{i - 1} *= 1.0 - h{i - 1} ** 2")


def _hand_mlp(X, W1, W2, W3, W4):
    h1 = np.tanh(X @ W1)
    h2 = np.tanh(h1 @ W2)
    h3 = np.tanh(h2 @ W3)
    cache = (X, W2, W3, h1, h2, h3, h3.sum(axis=0), W4.sum(axis=1))

    def backward():
        X, W2, W3, h1, h2, h3, h_sum, w_sum = cache
        grads = {"W4": np.repeat(h_sum[:, None], W4.shape[1], axis=1)}
        dz = w_sum * (1.0 - h3 * h3)
        grads["W3"] = h2.T @ dz
        dz = (dz @ W3.T) * (1.0 - h2 * h2)
        grads["W2"] = h1.T @ dz
        dz = (dz @ W2.T) * (1.0 - h1 * h1)
        grads["W1"] = X.T @ dz
        return grads
    return backward


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak


def test_mlp_backward_peak_memory_is_no_more_than_hand_written():
    """Bytes, not seconds: tracemalloc counts what NumPy asks for while backward runs."""
    mod = load(codegen(MLP, "W1,W2,W3,W4", MLP_SHAPES))
    inputs = _inputs(MLP_SHAPES, np.random.default_rng(6))
    _, cache = mod["forward"](**inputs)
    hand = _hand_mlp(**inputs)
    generated = min(_peak(lambda: mod["backward"](cache)) for _ in range(2))
    written = min(_peak(hand) for _ in range(2))
    assert generated <= written * 1.0, (generated, written)


# ---------------------------------------------------------------- the passes on their own
def test_early_gradients_moves_a_block_only_past_lines_it_does_not_depend_on():
    lines = ["    a = x @ y", "    b = a * 2.0", "    c = b @ y", "    g = a @ y", "    g *= 2.0", "    h = g"]
    assert early_gradients(lines, ["g"]) == ["    a = x @ y", "    g = a @ y", "    g *= 2.0", "    b = a * 2.0",
                                             "    c = b @ y", "    h = g"]
    updated = ["    a = x @ y", "    np.tanh(a, out=a)", "    b = a", "    g = a @ y"]
    assert early_gradients(updated, ["g"]) == updated[:2] + updated[3:] + [updated[2]]   # after a's update
    assert early_gradients(["    t = f(a)", "    g = a @ y"], ["g"]) == ["    g = a @ y", "    t = f(a)"]


def test_release_deletes_after_the_last_use_and_keeps_results():
    lines = ["    a = x @ y", "    b = a * 2.0", "    g = b @ y", "    b *= 3.0", "    h = b"]
    assert release(lines, {"a", "b", "g", "h"}, {"g", "h"}) == [
        "    a = x @ y", "    b = a * 2.0", "    del a", "    g = b @ y", "    b *= 3.0", "    h = b", "    del b"]


@pytest.mark.parametrize("line,want", [
    ("    g = a @ b.T", "    g = np.matmul(a, b.T, out=o)"),
    ("    g = d * x.T", "    g = np.multiply(d, x.T, out=o)"),
    ("    g = (a + b) - c", "    g = np.subtract((a + b), c, out=o)"),
    ('    g = np.einsum("ik,kj->ij", d, x.T)', '    g = np.einsum("ik,kj->ij", d, x.T, out=o)'),
    ("    g = np.full((3, 4), s, dtype=DTYPE)", "    g = _fill(o, (3, 4), s)"),
    ("    g = a * b * c", None), ("    g = a ** 2", None), ("    g = -a * b", None), ("    g = (a.T @ b).T", None),
    ("    g = t", None),
])
def test_into_buffers_writes_only_forms_with_an_out_argument(line, want):
    assert into_buffers([line, "    g *= 2.0"], {"g": "o"}) == [want or line, "    g *= 2.0"]


def test_a_large_product_with_few_columns_is_computed_transposed():
    """X W with a narrow W and a large or tall X is (Wᵀ Xᵀ)ᵀ, the faster orientation for OpenBLAS from
    about 2¹⁹ entries or 1000 rows of X (bench_codegen.py --orientations); small ones stay X W.
    All gradchecked."""
    expr, assume = "L = sum(-Y .* log_softmax(X*W, 2))", {"Y": "onehot_rows"}
    big = codegen(expr, "W", {"X": (256, 3072), "W": (3072, 10), "Y": (256, 10)}, assume)
    small = codegen(expr, "W", {"X": (64, 100), "W": (100, 10), "Y": (64, 10)}, assume)
    tall = codegen(expr, "W", {"X": (2048, 64), "W": (64, 10), "Y": (2048, 10)}, assume)
    assert "z1 = (W.T @ X.T).T" in big and "z1 = (W.T @ X.T).T" in tall and "z1 = X @ W" in small
    assert "Verified by matcalc" in big and "Verified by matcalc" in small
