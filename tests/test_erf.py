"""erf on arrays: the vectorised pieces agree with ``math.erf`` (correctly rounded) to a few units
in the last place on a fine grid, keep the special values, and generated code's helper is the
same function (float32 in, float32 out)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from matcalc.core.rules.erf import ERF_CODE, SMALL, TOP, erf


def _generated():
    ns = {"np": np, "DTYPE": np.float64}
    exec(ERF_CODE, ns)                  # our own helper text, as generated modules paste it
    return ns["_erf"]


GRID = np.linspace(-7.0, 7.0, 200_001)
REFERENCE = np.array([math.erf(v) for v in GRID])


@pytest.mark.parametrize("f", [erf, _generated()], ids=["runtime", "generated"])
def test_erf_matches_math_erf_on_a_fine_grid(f):
    got = f(GRID)
    rel = np.abs(got - REFERENCE) / np.maximum(np.abs(REFERENCE), 1e-300)
    assert rel.max() < 3e-15


@pytest.mark.parametrize("f", [erf, _generated()], ids=["runtime", "generated"])
def test_erf_special_values_and_tiny_arguments(f):
    z = np.array([0.0, -0.0, 1e-300, -1e-12, 3e-8, TOP, -TOP, 50.0, np.inf, -np.inf, np.nan]
                 + [0.5] * SMALL)                      # large enough for the vectorised path
    got = f(z)
    want = np.array([math.erf(v) for v in z])
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.all(np.abs(got[ok] - want[ok]) <= 3e-15 * np.abs(want[ok]))
    assert math.copysign(1.0, got[1]) == -1.0          # erf(−0) = −0


def test_small_arrays_are_exact_and_large_ones_agree():
    z = np.random.default_rng(0).normal(scale=2.0, size=SMALL)
    assert np.array_equal(erf(z), np.array([math.erf(v) for v in z]))
    big = np.random.default_rng(1).normal(scale=2.0, size=(50, 40))
    assert np.allclose(erf(big), np.vectorize(math.erf)(big), rtol=3e-15, atol=0)
    assert np.array_equal(_generated()(big), erf(big))


def test_generated_helper_keeps_float32():
    z = np.linspace(-3, 3, 500, dtype=np.float32)
    got = _generated()(z)
    assert got.dtype == np.float32
    assert np.allclose(got, np.vectorize(math.erf)(z.astype(float)), atol=1e-7)
