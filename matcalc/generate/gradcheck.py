"""Gradient checking of generated code: backward() against central differences of forward().

``gradcheck(expr, wrt)`` generates the module (``codegen``), draws random inputs inside the
function's domain (``fdcheck.sample_point``: assumptions, positive/SPD fallbacks, away from
kinks), and compares every entry of every gradient with a central difference of ``forward``
(computed in float64).  The relative error per variable is printed as the CS231n lectures do;
float64 passes below 1e-7 (float32 below 1e-3), or, where the differences themselves cannot
resolve that much (a deep network's vanishing gradient), below what they are measured to
resolve at the point (``resolution.compare``: the allowance is printed beside the error).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcalc.core.errors import MatcalcError
from matcalc.generate.program import codegen_source
from matcalc.generate.resolution import MAX_ALLOWANCE, compare, limit
from matcalc.language.program import resolve_wrt, typed_program, wrt_names
from matcalc.numeric.evaluate import evaluate, to_external
from matcalc.numeric.finite_differences import generic_functions, sample_point

TOL = {"float64": 1e-7, "float32": 1e-3}


@dataclass
class GradcheckReport:
    """Relative error per variable (max |analytic - numeric| / max(|analytic|, |numeric|)), and
    the allowance it was judged by where the differences resolve less than ``tol`` (``allowed``;
    ``failed`` names what exceeded its allowance at some point)."""

    expr: str
    errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-7
    dtype: str = "float64"
    detail: str = ""
    point: dict | None = None
    allowed: dict[str, float] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    def record(self, key: str, err: float, allowed: float | None = None) -> None:
        """One comparison at one point: the worst error and allowance per key are kept."""
        allowed = self.tol if allowed is None else allowed
        self.errors[key] = max(self.errors.get(key, 0.0), err)
        if allowed > self.tol:
            self.allowed[key] = max(self.allowed.get(key, 0.0), allowed)
        if not err < limit(allowed, self.tol):
            self.failed.add(key)

    def passes(self, key: str) -> bool:
        return key not in self.failed and self.errors[key] < limit(self.allowed.get(key, self.tol), self.tol)

    def unresolved(self, key: str) -> bool:
        """Whether the differences resolved too little at some point to check ``key`` at all."""
        return self.allowed.get(key, 0.0) > max(self.tol, MAX_ALLOWANCE)

    @property
    def ok(self) -> bool:
        return bool(self.errors) and all(self.passes(k) for k in self.errors) and not self.detail

    passed = ok

    def resolution_note(self) -> str:
        """Where the differences resolved less than ``tol``: each key and the error it was held to."""
        return ", ".join(f"{k} {limit(a, self.tol):.0e}" for k, a in self.allowed.items())

    def __str__(self) -> str:
        lines = [f"gradcheck {self.expr} ({self.dtype}, tolerance {self.tol:.0e})"]
        for name, e in self.errors.items():
            allowance = (f" (allowed {self.allowed[name]:.0e}: what central differences resolve here)"
                         if name in self.allowed else "")
            lines.append(f"{name} relative error: {e:e}  {'ok' if self.passes(name) else 'FAIL'}{allowance}")
        if self.detail:
            lines.append(self.detail)
        lines.append("PASS" if self.ok else "FAIL")
        return "\n".join(lines)


def load(source: str) -> dict:
    """The namespace of a generated module (our own source only)."""
    ns: dict = {"__name__": "matcalc_generated"}
    exec(compile(source, "<matcalc codegen>", "exec"), ns)  # noqa: S102 - code we generated
    return ns


def prepare(generate, expr: str, wrt, shapes, assume, dtype, functions, source: str | None = None):
    """What a gradcheck needs: the variables, the module ``generate`` writes in ``dtype`` (or
    ``source``, the module already written) and a float64 one for the finite differences, and
    the generic functions' stand-ins."""
    names = wrt_names(wrt)
    typed = typed_program(expr, shapes, assume)
    nodes, _ = resolve_wrt(typed, names, shapes)
    dtype = "float32" if str(dtype).endswith("float32") or dtype == "single" else "float64"
    mod = load(source if source is not None else generate(expr, names, shapes, assume, dtype))
    ref = mod if dtype == "float64" else load(generate(expr, names, shapes, assume, "float64"))
    variables = dict(typed.variables)
    for n, v in zip(names, nodes):
        variables.setdefault(n, v)
    return names, typed, variables, mod, ref, generic_functions([typed.output], functions), dtype


def gradcheck_gradients(expr: str, wrt, shapes: dict | None = None, assume: dict | None = None,
                        dtype: str | None = None, functions: dict | None = None, seed: int = 0,
                        h: float = 1e-5, tol: float | None = None, points: int = 2,
                        source: str | None = None) -> GradcheckReport:
    """Check the generated backward() of ``expr`` by ``wrt`` against central differences."""
    names, typed, variables, mod, ref, functions, dtype = prepare(codegen_source, expr, wrt, shapes, assume, dtype,
                                                                  functions, source)
    tol = TOL[dtype] if tol is None else tol
    rng = np.random.default_rng(seed)
    report = GradcheckReport(expr, tol=tol, dtype=dtype)
    kw = {"functions": functions} if functions else {}
    for env, inputs in sample_inputs(typed, variables, rng, functions, points):
        value, cache = mod["forward"](**inputs, **kw)
        grads = mod["backward"](cache)
        trouble = _reentrancy(mod, cache, grads) or buffered(mod, cache, grads, inputs, kw) \
            or _forward_mismatch(typed, variables, env, functions, value, tol)
        if trouble:
            report.detail = trouble
            for n in names:
                report.record(n, float("inf"))

        def f(values, kw=kw):
            return float(np.sum(ref["forward"](**values, **kw)[0]))
        size = abs(f(inputs))
        for name in names:
            numeric = central_difference(f, inputs, name, h)
            got = np.asarray(grads[name], dtype=float)
            if got.shape != numeric.shape:
                report.detail = f"gradient of {name} has shape {got.shape}, its variable {numeric.shape}"
                got = got.reshape(numeric.shape) if got.size == numeric.size else np.full(numeric.shape, np.nan)
            scale = max(float(np.max(np.abs(got), initial=0.0)), float(np.max(np.abs(numeric), initial=0.0)), 1e-12)
            report.record(name, *compare(got, lambda s, name=name, inputs=inputs: central_difference(f, inputs, name, s), h, scale,
                                         tol, size, first=numeric))
        report.point = inputs
    return report


def sample_inputs(typed, variables: dict, rng, functions, points: int):
    """Up to ``points`` random points inside the function's domain, each as (internal values,
    the inputs as forward() takes them); none at all is an error."""
    checked = 0
    for _ in range(points):
        env = sample_point([typed.output], variables, rng, functions)
        if env is None:
            continue
        checked += 1
        yield env, {n: to_external(env[n], v.attrs[1]) for n, v in variables.items()}
    if not checked:
        raise MatcalcError("gradcheck: no valid random point was found inside the function's domain")


def central_difference(f, inputs: dict, name: str, h: float) -> np.ndarray:
    """∂f/∂name at ``inputs`` by central differences, entry by entry (f returns a float)."""
    x = np.array(inputs[name], dtype=float)
    out = np.zeros_like(x)
    for i in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.reshape(-1)[i] += h
        minus.reshape(-1)[i] -= h
        out.reshape(-1)[i] = (f({**inputs, name: plus}) - f({**inputs, name: minus})) / (2 * h)
    return out


def _forward_mismatch(typed, variables, env, functions, value, tol) -> str | None:
    """forward() against matcalc's own evaluator of the program (a forward pass that is wrong
    everywhere would pass a gradient check of itself)."""
    with np.errstate(all="ignore"):
        want = np.asarray(evaluate([typed.output], env, functions, {}, leaves=list(variables.values()))[0], dtype=float)
    got = np.asarray(value, dtype=float)
    if got.size != want.size:
        return f"forward() has {got.size} entries, the program's value {want.size}"
    got, want = got.reshape(-1), want.reshape(-1)
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1.0)
    err = float(np.max(np.abs(got - want), initial=0.0)) / scale
    if not np.isfinite(err) or err > max(tol, 1e-9) * 10:
        return f"forward() differs from the program's value (relative error {err:.2e})"
    return None


def buffered(mod: dict, cache: dict, grads: dict, inputs: dict, kw: dict) -> str | None:
    """What breaks the contract of the caller's buffers: ``backward(cache, out=bufs)`` must fill
    and return the very arrays given, equal to the fresh gradients, and touch no array returned
    before; a ``Model``'s second backward must return its first one's arrays, overwritten."""
    first = {k: np.array(v, copy=True) for k, v in grads.items()}
    bufs = {k: np.full(np.shape(v), np.nan, dtype=np.asarray(v).dtype) for k, v in grads.items()}
    got = mod["backward"](cache, 1.0, out=bufs)
    for k, v in first.items():
        if got[k] is not bufs[k]:
            return f"backward(cache, out=...) did not return the array given for {k}"
        if not _same(bufs[k], v):
            return f"backward(cache, out=...) differs from the fresh gradient of {k}"
        if not np.array_equal(np.asarray(grads[k]), v, equal_nan=True):
            return f"backward(cache, out=...) overwrote the gradient of {k} returned before"
    model = mod["Model"]()
    model.forward(**inputs, **kw)
    once = model.backward()
    kept = {k: np.array(v, copy=True) for k, v in once.items()}
    twice = model.backward(2.0)
    for k, v in kept.items():
        if type(once[k]) is np.ndarray and twice[k] is not once[k]:
            return f"Model.backward did not reuse its array for {k}"
        if not _same(v, first[k]) or not _same(twice[k], 2.0 * first[k]):
            return f"Model.backward differs from the module's backward for {k}"
    return None


def _same(a, b) -> bool:
    """Equal up to the last bits (the same operations, perhaps on differently aligned arrays)."""
    a, b = np.asarray(a), np.asarray(b)
    scale = float(np.max(np.abs(b), initial=0.0)) if b.size and np.all(np.isfinite(b)) else 0.0
    rtol = 1e-5 if a.dtype == np.float32 else 1e-12
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True)


def _reentrancy(mod: dict, cache: dict, grads: dict) -> str | None:
    """What breaks the contract of ``backward``: called again (upstream 2) it must leave the
    cache and the arrays it returned before untouched, and scale its result by 2."""
    cached = {k: np.array(v, copy=True) for k, v in cache.items() if isinstance(v, np.ndarray)}
    first = {k: np.array(v, copy=True) for k, v in grads.items()}
    again = mod["backward"](cache, 2.0)
    for k, v in cached.items():
        if not np.array_equal(np.asarray(cache[k]), v, equal_nan=True):
            return f"backward wrote into the cache entry {k}"
    for k, v in first.items():
        if not np.array_equal(np.asarray(grads[k]), v, equal_nan=True):
            return f"a second backward overwrote the first gradient of {k}"
        if not np.allclose(np.asarray(again[k]), 2.0 * v, rtol=1e-5, atol=1e-12, equal_nan=True):
            return f"backward(cache, 2) is not twice backward(cache) for {k}"
    return None

