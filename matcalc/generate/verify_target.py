"""Verification of the torch and JAX modules before they are returned, as ``verify`` does for NumPy.

``verify_target`` runs the module the way a user does — ``fn(*inputs)`` differentiated by the
framework (``torch.autograd.grad`` through the ``autograd.Function``; ``jax.jit(jax.grad(...))``
through the ``custom_vjp``), in float64 at matcalc's domain-aware random points and small sizes —
and compares every gradient with central differences of the module's own forward, and that
forward with matcalc's evaluator.  It returns the source with a docstring line saying so, or
raises ``VerificationError``; when the framework is not installed the docstring says the check
was skipped (``pip install matcalc[torch]`` / ``matcalc[jax]``), never that it passed.

The gradients are judged as the NumPy gradcheck judges them (``resolution.compare``): to 1e-7
wherever the differences resolve that much, else to what they are measured to resolve at the
point (a deep network's vanishing gradient), never beyond 1 %; an unresolvable gradient fails
saying so.  Messages and the docstring note are the NumPy ones (``GradcheckReport``).
"""
from __future__ import annotations

import numpy as np

from matcalc.core.errors import MatcalcError, VerificationError
from matcalc.core.optional import optional_module
from matcalc.generate.gradcheck import TOL, GradcheckReport, _forward_mismatch, central_difference, load, sample_inputs
from matcalc.generate.resolution import compare
from matcalc.generate.verify import VERIFY_SEEDS, _failure, _small_shapes, _with_note
from matcalc.language.program import resolve_wrt, typed_program

_H = 1e-5


def _torch_run(ns: dict, inputs: dict, wrt: list[str]):
    """(value, gradients, f) with ``fn`` differentiated by torch's autograd; f(values) the summed
    forward, for central differences."""
    torch = optional_module("torch", "verifying the torch target", "pip install matcalc[torch]")
    names = list(ns["INPUTS"])

    def tensors(values, grad=False):
        return [torch.as_tensor(np.asarray(values[n], dtype=np.float64), dtype=torch.float64)
                .requires_grad_(grad and n in wrt) for n in names]
    args = tensors(inputs, True)
    out = ns["fn"](*args)
    grads = torch.autograd.grad(out, [args[names.index(w)] for w in wrt], torch.ones_like(out))

    def f(values):
        with torch.no_grad():
            return float(torch.sum(ns["fn"](*tensors(values))))
    return (np.asarray(out.detach().cpu(), dtype=float),
            {w: np.asarray(g.detach().cpu(), dtype=float) for w, g in zip(wrt, grads)}, f)


def _jax_run(ns: dict, inputs: dict, wrt: list[str]):
    """As ``_torch_run`` with ``jax.jit(jax.grad(sum ∘ fn))`` (call it inside ``jax.enable_x64``)."""
    jax = optional_module("jax", "verifying the JAX target", "pip install matcalc[jax]")
    jnp = jax.numpy
    names = list(ns["INPUTS"])
    argnums = tuple(names.index(w) for w in wrt)

    def arrays(values):
        return [jnp.asarray(np.asarray(values[n], dtype=np.float64)) for n in names]

    def total(*a):
        return jnp.sum(ns["fn"](*a))
    value = ns["fn"](*arrays(inputs))
    grads = jax.jit(jax.grad(total, argnums=argnums))(*arrays(inputs))      # jit-compatible, as promised
    return (np.asarray(value, dtype=float), {w: np.asarray(g, dtype=float) for w, g in zip(wrt, grads)},
            lambda values: float(total(*arrays(values))))


class _NoContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _x64():
    """JAX computes in float64 only inside ``enable_x64`` (``jax.enable_x64``; older JAX has it in
    ``jax.experimental``)."""
    jax = optional_module("jax", "verifying the JAX target", "pip install matcalc[jax]")
    enable = getattr(jax, "enable_x64", None)
    if enable is None:
        enable = optional_module("jax.experimental", "verifying the JAX target", "pip install matcalc[jax]").enable_x64
    return enable(True)


RUNNERS = {"torch": (_torch_run, _NoContext), "jax": (_jax_run, _x64)}
FRAMEWORK = {"torch": ("torch", "torch"), "jax": ("jax", "jax")}     # target -> (module, extra)


def verify_target(source: str, generate, expr: str, wrt: list[str], shapes, assume, dtype, target: str) -> str:
    """``source`` (the ``target`` module ``generate`` wrote) once its gradients, taken by the
    framework through ``fn``, agree with central differences; else a ``VerificationError``."""
    module, extra = FRAMEWORK[target]
    try:
        optional_module(module, f"the {target} target", f"pip install matcalc[{extra}]")
    except MatcalcError:
        return _with_note(source, f"Verification skipped: {module} is not installed (pip install matcalc[{extra}]); "
                                  "the module was not run.")
    small = _small_shapes(shapes)
    checked = source if small is None else generate(expr, wrt, small, assume, dtype, target=target)
    use = shapes if small is None else small
    run, context = RUNNERS[target]
    typed = typed_program(expr, use, assume)
    nodes, _ = resolve_wrt(typed, wrt, use)
    variables = dict(typed.variables)
    for n, v in zip(wrt, nodes):
        variables.setdefault(n, v)
    ns = load(checked)
    tol = TOL["float64"]
    report = None
    for seed in VERIFY_SEEDS:
        rng = np.random.default_rng(seed)
        report = GradcheckReport(expr, tol=tol)
        try:
            with context():
                env, inputs = next(iter(sample_inputs(typed, variables, rng, None, 1)))
                value, grads, f = run(ns, inputs, wrt)
                size = abs(f(inputs))
                for w in wrt:
                    report.record(w, *_judged(grads[w], f, inputs, w, tol, size))
        except MatcalcError as exc:
            if isinstance(exc, VerificationError):
                raise
            return _with_note(source, f"Verification skipped: {exc.message.splitlines()[0]}.")
        except Exception as exc:
            raise VerificationError(f"generated {target} code for {expr!r} fails when run: "
                                    f"{type(exc).__name__}: {exc}") from exc
        report.detail = _forward_mismatch(typed, variables, env, None, value, tol) or ""
        if report.ok:
            worst = max(report.errors.values(), default=0.0)
            where = "at random points" if small is None else "at random points, with the declared sizes replaced by small ones"
            resolved = (f"; where the differences resolve less than {tol:.0e} at the point, to what they "
                        f"resolve: {report.resolution_note()}" if report.allowed else "")
            return _with_note(source, f"Verified by matcalc: the gradients {target} takes through fn agree with "
                                      f"central differences {where} (float64, max relative error {worst:.1e}{resolved}).")
    assert report is not None
    failing = {k: e for k, e in report.errors.items() if not report.passes(k)}
    failure = "; ".join(_failure(report, k, e) for k, e in failing.items()) or report.detail
    raise VerificationError(f"generated {target} code for {expr!r} disagrees with central differences — {failure} "
                            f"(tolerance {tol:.0e}); the module is not returned")


def _judged(got: np.ndarray, f, inputs: dict, w: str, tol: float, size: float) -> tuple[float, float]:
    """(relative error, allowance) of the framework's gradient of ``w`` against central
    differences of ``f``, by ``resolution.compare`` as the NumPy gradcheck judges it; a gradient
    of another size is infinitely wrong."""
    numeric = central_difference(f, inputs, w, _H)
    if got.size != numeric.size:
        return float("inf"), tol
    got = got.reshape(numeric.shape)
    scale = max(float(np.max(np.abs(got), initial=0.0)), float(np.max(np.abs(numeric), initial=0.0)), 1e-12)
    return compare(got, lambda s: central_difference(f, inputs, w, s), _H, scale, tol, size, first=numeric)
