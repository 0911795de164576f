"""Checking generated second-order code: ``hessian()`` and ``hvp()`` against finite differences.

``gradcheck_hessian(expr, wrt)`` generates the module (``codegen_hessian``), draws random inputs
inside the function's domain (``fdcheck.sample_point``) and compares, per variable or block:

- ``backward``: the gradient with central differences of ``forward`` (as ``gradcheck`` does);
- ``hessian a,b``: every block of ``hessian()`` with central differences of the generated
  gradient, column by column (the reference module is float64 whatever the dtype);
- ``hvp a vs hessian``: ``hvp(cache, v)`` with ``hessian()`` applied to the same random ``v``;
- ``hvp a vs fd``: ``hvp(cache, v)`` with the central difference of the gradient along ``v``.

Errors are relative to the largest entry of the whole Hessian (or of the whole ``H v``), so a
block that is zero is not judged by rounding noise alone.  Each comparison with differences
passes below the dtype's tolerance or, where the differences cannot resolve that much at the
point (a deep network's vanishing gradient), below what they are measured to resolve
(``resolution.compare``).  It also checks that neither ``hessian_from_cache`` nor ``hvp``
writes into the cache.
"""
from __future__ import annotations

import numpy as np

from matcalc.generate.gradcheck import TOL, GradcheckReport, buffered, central_difference, prepare, sample_inputs
from matcalc.generate.hessian_program import block_keys, codegen_hessian_source
from matcalc.generate.resolution import compare


def gradcheck_hessian(expr: str, wrt, shapes: dict | None = None, assume: dict | None = None,
                      dtype: str | None = None, functions: dict | None = None, seed: int = 0,
                      h: float = 1e-5, tol: float | None = None, points: int = 2,
                      source: str | None = None) -> GradcheckReport:
    """Check backward(), hessian() and hvp() of the generated module against central differences."""
    names, typed, variables, mod, ref, functions, dtype = prepare(codegen_hessian_source, expr, wrt, shapes, assume,
                                                                  dtype, functions, source)
    tol = TOL[dtype] if tol is None else tol
    kw = {"functions": functions} if functions else {}
    rng = np.random.default_rng(seed)
    report = GradcheckReport(expr, tol=tol, dtype=dtype)
    several = len(names) > 1

    def value(values):
        return float(np.sum(ref["forward"](**values, **kw)[0]))

    def gradient(values):
        _, c = ref["forward"](**values, **kw)
        g = ref["backward"](c)
        return {n: np.asarray(g[n], dtype=float) for n in names}

    def note(key, got, difference_at, scale, size):
        """``got`` against the central differences ``difference_at(step)`` (``resolution``)."""
        want = difference_at(h)
        got = np.asarray(got, dtype=float)
        if got.shape != want.shape:
            report.detail = f"{key}: shape {got.shape}, expected {want.shape}"
            got = got.reshape(want.shape) if got.size == want.size else np.full(want.shape, np.nan)
        report.record(key, *compare(got, difference_at, h, max(scale, 1e-12), tol, size, first=want))

    for _, inputs in sample_inputs(typed, variables, rng, functions, points):
        x = {n: np.array(inputs[n], dtype=float) for n in names}
        _, cache = mod["forward"](**inputs, **kw)
        snapshot = {k: np.array(v, copy=True) for k, v in cache.items() if isinstance(v, np.ndarray)}
        grads = mod["backward"](cache)
        H = mod["hessian_from_cache"](cache)
        H = H if several else {names[0]: H}
        H_again = mod["hessian"](**inputs, **kw)
        H_again = H_again if several else {names[0]: H_again}

        # first order: backward against central differences of forward
        size = abs(value(inputs))
        for n in names:
            fd = central_difference(value, inputs, n, h)
            got = np.asarray(grads[n], dtype=float)
            note(f"backward {n}", got, lambda s, n=n, fd=fd, inputs=inputs: fd if s == h else central_difference(value, inputs, n, s),
                 max(np.max(np.abs(fd), initial=0.0), np.max(np.abs(got), initial=0.0)), size)

        # second order: each block against central differences of the gradient
        gsize = max(float(np.max(np.abs(g), initial=0.0)) for g in gradient(inputs).values())
        blocks: dict[float, dict] = {}

        def blocks_at(step, inputs=inputs, x=x, blocks=blocks):
            if step not in blocks:
                blocks[step] = _gradient_differences(gradient, inputs, x, names, step)
            return blocks[step]
        fd_blocks = blocks_at(h)
        scale = max(max(float(np.max(np.abs(np.asarray(H.get(k, 0.0), dtype=float)), initial=0.0)) for k, _, _ in
                        block_keys(names)),
                    max(float(np.max(np.abs(f), initial=0.0)) for f in fd_blocks.values()))
        for key, a, b in block_keys(names):
            if key not in H:
                report.detail = f"hessian() has no block {key!r}"
                report.record(f"hessian {key}", float("inf"))
                continue
            note(f"hessian {key}", H[key], lambda s, a=a, b=b: blocks_at(s)[(a, b)], scale, gsize)
            if not np.array_equal(np.asarray(H[key]), np.asarray(H_again[key])):
                report.detail = f"hessian(**inputs) and hessian_from_cache(cache) differ in block {key}"

        # the Hessian-vector product, against H v and against the gradient's directional derivative
        v = {n: rng.standard_normal(x[n].shape) for n in names}
        hv = mod["hvp"](cache, v if several else v[names[0]])
        hv = hv if several else {names[0]: hv}
        along: dict[float, dict] = {}

        def along_at(step, inputs=inputs, x=x, v=v, along=along):
            if step not in along:
                gp = gradient({**inputs, **{n: x[n] + step * v[n] for n in names}})
                gm = gradient({**inputs, **{n: x[n] - step * v[n] for n in names}})
                along[step] = {a: (gp[a] - gm[a]) / (2 * step) for a in names}
            return along[step]
        fd = along_at(h)
        Hv = {}
        for a in names:
            Hv[a] = sum(np.tensordot(np.asarray(H[key], dtype=float), v[b], axes=v[b].ndim)
                        for key, a_, b in block_keys(names) if a_ == a and key in H)
            Hv[a] = np.asarray(Hv[a], dtype=float).reshape(x[a].shape)
        hscale = max(max(float(np.max(np.abs(t), initial=0.0)) for t in Hv.values()),
                     max(float(np.max(np.abs(t), initial=0.0)) for t in fd.values()))
        for a in names:
            note(f"hvp {a} vs hessian", hv[a], lambda s, a=a, Hv=Hv: Hv[a], hscale, 0.0)
            note(f"hvp {a} vs fd", hv[a], lambda s, a=a: along_at(s)[a], hscale, gsize)
        for k, s in snapshot.items():
            if not np.array_equal(np.asarray(cache[k]), s, equal_nan=True):
                report.detail = f"backward, hessian_from_cache or hvp wrote into the cache entry {k}"
        trouble = buffered(mod, cache, grads, inputs, kw)
        if trouble:
            report.detail = trouble
        report.point = inputs
    return report


def _gradient_differences(gradient, inputs: dict, x: dict, names: list[str], h: float) -> dict:
    """Every block ∂g_a/∂b by central differences of the gradient with step ``h``, column by column."""
    out = {}
    for b in names:
        cols = {a: np.zeros(x[a].shape + (x[b].size,)) for a in names}
        for i in range(x[b].size):
            plus, minus = x[b].copy(), x[b].copy()
            plus.reshape(-1)[i] += h
            minus.reshape(-1)[i] -= h
            gp, gm = gradient({**inputs, b: plus}), gradient({**inputs, b: minus})
            for a in names:
                cols[a][..., i] = (gp[a] - gm[a]) / (2 * h)
        for a in names:
            out[(a, b)] = cols[a].reshape(x[a].shape + x[b].shape)
    return out
