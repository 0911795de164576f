"""erf on arrays, vectorised: NumPy has no erf and SciPy is not a dependency.

Small arrays go entry by entry through ``math.erf`` (correctly rounded, and cheapest below
``SMALL`` entries); larger ones through a piecewise polynomial: ``erf(x) = x h(x)`` with
``h(x) = erf(x)/x`` smooth and even, interpolated on ``PIECES`` pieces of [0, 6) at Chebyshev
nodes by degree ``DEGREE`` polynomials (fitted once, from ``math.erf`` itself), and
``erf(x) = ±1`` from |x| = 6 on (erfc(6) ≈ 2e-17 is below double precision).  Relative error
under 3e-15 everywhere (tests/test_erf.py compares with ``math.erf`` on a fine grid), about
2× faster than ``math.erf`` per entry on 10⁶ entries (benchmarks/erf.py: 2.1×, quartiles 2.0–2.3).

``ERF_CODE`` is the same function as generated code writes it (self-contained: its table is
built on the first large call).
"""
from __future__ import annotations

import math

import numpy as np

SMALL = 64                 # entries: below this, math.erf per entry is faster than the pieces
TOP = 6.0                  # erf(x) rounds to ±1 from here on
PIECES = 96
DEGREE = 8
_WIDTH = TOP / PIECES


def _table() -> list[np.ndarray]:
    """Power-basis coefficients (in t ∈ [-1, 1] across each piece), one array per power."""
    cheb = np.polynomial.chebyshev
    k = np.arange(DEGREE + 1)
    t = np.cos(np.pi * (k + 0.5) / (DEGREE + 1))
    rows = []
    for i in range(PIECES):
        x = (i + 0.5 + 0.5 * t) * _WIDTH
        power = cheb.cheb2poly(cheb.chebfit(t, [math.erf(v) / v for v in x], DEGREE))
        rows.append(np.pad(power, (0, DEGREE + 1 - len(power))))   # NumPy ≥ 2.4 trims zeros
    table = np.array(rows)
    return [np.ascontiguousarray(table[:, j]) for j in range(DEGREE + 1)]


_COLUMNS = _table()
_PER_ENTRY = np.frompyfunc(math.erf, 1, 1)


def erf(z) -> np.ndarray:
    """erf(z) entrywise, in float64."""
    z = np.asarray(z, dtype=float)
    if z.size <= SMALL:
        return np.asarray(_PER_ENTRY(z), dtype=float)
    x = np.fmin(np.abs(z), TOP)                           # NaN becomes TOP here, and is put back
    i = np.minimum((x * (1.0 / _WIDTH)).astype(np.intp), PIECES - 1)
    t = (x - i * _WIDTH) * (2.0 / _WIDTH) - 1.0
    h = _COLUMNS[DEGREE].take(i)
    for j in range(DEGREE - 1, -1, -1):                   # Horner, each entry with its piece's row
        h *= t
        h += _COLUMNS[j].take(i)
    out = np.where(x < TOP, x * h, 1.0)
    return np.where(np.isnan(z), z, np.copysign(out, z))


ERF_CODE = '''_ERF_TABLE = []


def _erf(z):
    """erf entrywise (NumPy has no erf, SciPy is not required): math.erf per entry on small
    arrays; on large ones erf(x) = x h(x), h = erf(x)/x interpolated by degree-8 polynomials on
    96 pieces of [0, 6) at Chebyshev nodes (relative error < 3e-15), and ±1 from |x| = 6 on."""
    import math
    z = np.asarray(z)
    dtype = z.dtype if z.dtype.kind == "f" else DTYPE
    if z.size <= 64:
        return np.asarray(np.frompyfunc(math.erf, 1, 1)(z), dtype=dtype)
    if not _ERF_TABLE:
        cheb = np.polynomial.chebyshev
        t = np.cos(np.pi * (np.arange(9) + 0.5) / 9)
        rows = [cheb.cheb2poly(cheb.chebfit(t, [math.erf(v) / v for v in (i + 0.5 + 0.5 * t) / 16], 8))
                for i in range(96)]
        rows = [np.pad(row, (0, 9 - len(row))) for row in rows]    # NumPy >= 2.4 trims zeros
        _ERF_TABLE.extend(np.ascontiguousarray(np.array(rows)[:, j]) for j in range(9))
    x = np.fmin(np.abs(z.astype(np.float64)), 6.0)
    i = np.minimum((x * 16.0).astype(np.intp), 95)
    t = (x - i / 16.0) * 32.0 - 1.0
    h = _ERF_TABLE[8].take(i)
    for j in range(7, -1, -1):
        h *= t
        h += _ERF_TABLE[j].take(i)
    out = np.where(np.isnan(z), z, np.copysign(np.where(x < 6.0, x * h, 1.0), z))
    return out.astype(dtype, copy=False)


def _erf1(z):
    """erf'(z) = 2 exp(-z²)/√π."""
    return 1.1283791670955126 * np.exp(-(z * z))'''
