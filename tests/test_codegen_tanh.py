"""Generated NumPy code uses the vectorised ``_tanh`` (``rules.tanh``) for a tanh whose declared
size is at least ``LARGE`` entries and ``np.tanh`` otherwise; both gradcheck, the module's forward
agrees with an ``np.tanh`` forward to a few ulp, and float32 modules still work (``_tanh`` hands
float32 to ``np.tanh``)."""
from __future__ import annotations

import re

import numpy as np

from matcalc import codegen, gradcheck
from matcalc.core.rules.tanh import LARGE

MLP = "h1 = tanh(X*W1); h2 = tanh(h1*W2); L = sum(h2*W3)"
BIG = {"X": (64, 256), "W1": (256, 256), "W2": (256, 256), "W3": (256, 3)}     # 64 × 256 = 16384 ≥ LARGE
TALL = {"X": (LARGE, 2), "W1": (2, 2), "W2": (2, 2), "W3": (2, 1)}             # large activations, few weights


def _load(src: str) -> dict:
    ns: dict = {}
    exec(compile(src, "<generated>", "exec"), ns)
    return ns


def test_large_declared_tanh_uses_the_helper_and_gradchecks():
    assert 64 * 256 >= LARGE
    src = codegen(MLP, "W1,W2,W3", BIG)
    assert "def _tanh(z, out=None):" in src
    assert len(re.findall(r"^    _tanh\((\w+), out=\1\)$", src, re.M)) == 2     # in place, as np.tanh was
    assert src.count("np.tanh(") == 1                  # only the helper's own fallback
    tall = codegen(MLP, "W1,W2,W3", TALL)              # central differences entry by entry: few weights
    assert "def _tanh(z, out=None):" in tall
    report = gradcheck(MLP, "W1,W2,W3", shapes=TALL, points=1, source=tall)
    assert report.ok, str(report)


def test_the_helper_forward_matches_numpy_tanh():
    rng = np.random.default_rng(0)
    inp = {k: rng.standard_normal(s) / 8 for k, s in BIG.items()}
    value, cache = _load(codegen(MLP, "W1,W2,W3", BIG))["forward"](**inp)
    h1 = np.tanh(inp["X"] @ inp["W1"])
    want = np.sum(np.tanh(h1 @ inp["W2"]) @ inp["W3"])
    assert abs(value - want) <= 1e-12 * max(1.0, abs(want))


def test_small_or_undeclared_tanh_keeps_numpy():
    small = codegen(MLP, "W1,W2,W3", {"X": (3, 4), "W1": (4, 5), "W2": (5, 5), "W3": (5, 2)})
    assert "_tanh" not in small and "np.tanh(" in small
    assert "_tanh" not in codegen("s = u'*tanh(W*x + b)", "W,b")


def test_float32_module_with_the_helper():
    report = gradcheck(MLP, "W1,W2,W3", shapes=TALL, dtype="float32", points=1)
    assert report.ok, str(report)
