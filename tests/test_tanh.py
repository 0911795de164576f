"""The generated-code tanh (``rules.tanh``): within a few ulp of ``np.tanh`` on more than 10⁶
points of the whole real line (tiny and subnormal, huge, ±0, ±inf, NaN, and both sides of every
boundary between table rows and of the clip at ±20), signs of zeros kept, in place and into a
buffer, over several blocks and a ragged last one; small, float32 and strided arrays go to
``np.tanh`` itself."""
from __future__ import annotations

import math

import numpy as np
import pytest

from matcalc.core.rules.tanh import BLOCK, LARGE, TANH_CODE


def _generated():
    ns = {"np": np, "DTYPE": np.float64}
    exec(TANH_CODE, ns)                 # our own helper text, as generated modules paste it
    return ns["_tanh"]


_tanh = _generated()


def _points() -> np.ndarray:
    rng = np.random.default_rng(0)
    edges = (np.arange(-1280, 1281) + 0.5) / 64          # where round(64 z) changes row
    around = [np.nextafter(edges, -np.inf), edges, np.nextafter(edges, np.inf)]
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 2.2e-308, 1e-300,
                         -1e-200, 1e-17, 19.99, 20.0, -20.0, np.nextafter(20.0, 0), 20.01, 1e300, -1e308,
                         np.finfo(float).max, -np.finfo(float).max])
    return np.concatenate([rng.standard_normal(400_000), rng.uniform(-30, 30, 300_000),
                           np.exp(rng.uniform(-745, 709, 300_000)) * rng.choice([-1.0, 1.0], 300_000),
                           *around, specials, specials[::-1]])


def test_tanh_is_within_a_few_ulp_of_numpy_everywhere():
    z = _points()
    assert z.size > 1_000_000 and z.size >= LARGE
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = _tanh(z)
    want = np.tanh(z)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    err = np.abs(got[ok] - want[ok])
    assert err.max() <= 4.5e-16                                   # absolute
    assert (err / np.maximum(np.abs(want[ok]), 1e-308)).max() <= 7e-16   # relative
    assert (err / np.spacing(np.abs(want[ok]))).max() <= 4.0      # ulp
    assert np.array_equal(np.signbit(got[ok]), np.signbit(want[ok]))


def test_tanh_against_math_tanh_near_the_table_and_the_clip():
    z = np.concatenate([np.linspace(-21, 21, 200_001), np.linspace(-1e-3, 1e-3, 20_001)])
    got = _tanh(z)
    want = np.array([math.tanh(v) for v in z])
    assert (np.abs(got - want) / np.spacing(np.abs(want) + 1e-300)).max() <= 4.0


def test_tanh_in_place_into_a_buffer_and_across_blocks():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((3, BLOCK + 123))                     # four blocks, a ragged last one
    want = np.tanh(z)
    out = np.empty_like(z)
    assert _tanh(z, out=out) is out and np.abs(out - want).max() <= 4.5e-16
    h = z.copy()
    assert _tanh(h, out=h) is h and np.array_equal(h, out)
    assert np.array_equal(_tanh(z), out)


@pytest.mark.parametrize("z", [np.linspace(-3, 3, LARGE - 1), np.linspace(-3, 3, 2 * LARGE).astype(np.float32),
                               np.linspace(-3, 3, 4 * LARGE)[::2], np.float64(0.5)],
                         ids=["small", "float32", "strided", "scalar"])
def test_tanh_leaves_the_rest_to_numpy(z):
    got = _tanh(z)
    assert np.array_equal(got, np.tanh(z)) and np.asarray(got).dtype == np.asarray(z).dtype
