"""tanh of large float64 arrays out of NumPy arithmetic, for generated code.

NumPy's float64 ``np.tanh`` has SIMD kernels only for AVX-512; on an AVX2 machine it runs libm's
scalar tanh, about 15–25 ns an entry, where one NumPy ufunc pass costs about 0.4 ns.  ``_tanh``
spends about 20 passes instead: ``z`` clipped to [-20, 20] (tanh(±20) rounds to ±1), rounded to
the nearest ``k/64``, ``d = z - k/64`` (exact, |d| ≤ 1/128), and

    tanh z = (T + t) / (1 + T t),   T = tanh(k/64) from a table,  t = tanh d = d (1 + d² p(d²)),

with ``p`` the Taylor series to d⁶ (its first omitted term, 62 d⁹/2835, is below 2e-21).  Within
4 ulp of ``np.tanh`` on 10⁶ points (tiny, huge, ±0, ±inf, NaN and every table boundary: see
tests/test_tanh.py), the signs of zeros kept (the table holds −0 at 0, and ``t`` is a product).
It works on blocks of ``BLOCK`` entries with four scratch arrays made per call, so every pass
stays in the core's cache (thread-safe: nothing is shared between calls).

Paired against ``np.tanh`` on this repository's AMD EPYC machine (one core, CPU time, 15
interleaved repeats, under load): 1.08 at 4096 entries, 0.71 at 8192, 0.60 at 16,384 (the MLP's
64 × 256 activations), 0.68 at 65,536.  Hence ``LARGE``: the emitter writes ``_tanh`` for a tanh
whose declared size is at least that, and ``np.tanh`` otherwise; ``_tanh`` itself also hands
anything but a C-contiguous float64 array of that size to ``np.tanh`` (float32's ``np.tanh`` is
SIMD already).
"""
from __future__ import annotations

LARGE = 8192               # entries: from here on _tanh is faster than np.tanh (measured above)
BLOCK = 16384              # entries per block: 4 scratch arrays of 128 KiB stay in L2

TANH_CODE = '''_TANH_TABLE = []


def _tanh(z, out=None):
    """tanh entrywise.  NumPy's float64 tanh is scalar libm speed on CPUs without AVX-512, so a
    large C-contiguous float64 array is done in NumPy passes instead, 16384 entries at a time:
    z clipped to [-20, 20], k/64 its nearest multiple of 1/64, d = z - k/64 (exact) and
    tanh z = (T + t) / (1 + T t), T = tanh(k/64) from a table, t = tanh d = d (1 - d²/3 + 2d⁴/15
    - 17d⁶/315); within 4 ulp of np.tanh, NaN, ±inf and -0 kept.  Anything else: np.tanh."""
    z = np.asarray(z)
    if z.dtype != np.float64 or z.size < 8192 or not z.flags.c_contiguous \\
            or not (out is None or out.flags.c_contiguous and out.dtype == np.float64):
        return np.tanh(z, out=out)
    if not _TANH_TABLE:
        import math
        table = np.array([math.tanh(i / 64) for i in range(-1280, 1281)])
        table[1280] = -0.0                        # T + t is then t exactly at 0, -0 included
        _TANH_TABLE.append(table)
    table = _TANH_TABLE[0]
    out = np.empty_like(z) if out is None else out
    flat_z, flat_out = z.reshape(-1), out.reshape(-1)
    t, d, y, T = np.empty((4, min(z.size, 16384)))
    for i in range(0, z.size, 16384):
        x, o = flat_z[i:i + 16384], flat_out[i:i + 16384]
        t, d, y, T = t[:x.size], d[:x.size], y[:x.size], T[:x.size]
        np.clip(x, -20.0, 20.0, out=o)            # tanh(±20) rounds to ±1; NaN stays NaN
        np.multiply(o, 64.0, out=t)
        t += 6755399441055744.0                   # 1.5·2⁵²: k = round(64 z) is t's low bits
        np.subtract(t, 6755399441055744.0, out=d)
        d *= -0.015625
        d += o                                    # d = z - k/64
        k = t.view(np.int64)
        k -= 4843621399236967168                  # (the bits of 1.5·2⁵²) - 1280: k's row
        table.take(k, out=T, mode="clip")         # T = tanh(k/64) (NaN's row is any: d is NaN)
        np.multiply(d, d, out=o)
        np.multiply(o, -0.05396825396825397, out=y)
        y += 0.13333333333333333
        y *= o
        y -= 0.3333333333333333
        y *= o
        y += 1.0
        y *= d                                    # t = tanh d, a product: -0 stays -0
        np.multiply(T, y, out=o)
        o += 1.0
        y += T
        np.divide(y, o, out=o)
    return out'''
