"""Verification of generated modules before they are returned: gradchecked at small sizes.

``verify_generated`` runs ``gradcheck_gradients`` (or ``gradcheck_hessian`` for a second-order
module) at two seeds' points and either returns the source with a docstring line saying how it
was checked, or raises ``VerificationError``.
"""
from __future__ import annotations

from matcalc.core.errors import MatcalcError, VerificationError
from matcalc.generate.gradcheck import gradcheck_gradients
from matcalc.generate.gradcheck_hessian import gradcheck_hessian
from matcalc.language.program import typed_program
from matcalc.numeric.finite_differences import generic_functions

VERIFY_MAX_DIM = 8        # declared sizes above this are replaced by small ones for the check
VERIFY_SEEDS = (0, 1)     # a mismatch must show at both seeds' points (a kink met by chance is not a bug)


def verify_generated(source: str, generate, expr: str, wrt, shapes, assume, dtype, hessian: bool = False) -> str:
    """``source`` (a module ``generate`` wrote) once its gradients (and Hessians) agree with
    central differences at small concrete sizes, with a line in its docstring saying how it was
    checked; a ``VerificationError`` naming the variable and the error when they disagree.

    Declared sizes above ``VERIFY_MAX_DIM`` are replaced by distinct small ones and the module
    for those sizes (same program, same code paths) is checked instead: a user's huge declared
    size is never allocated.  When no check can run, the docstring says it was skipped."""
    small = _small_shapes(shapes)
    checked_source = source
    where = "at random points"
    if small is not None:
        try:
            checked_source = generate(expr, wrt, small, assume, dtype)
        except MatcalcError as exc:
            return _with_note(source, f"Verification skipped: the declared sizes could not be replaced by small "
                                      f"ones ({exc.message.splitlines()[0]}).")
        where = "at random points, with the declared sizes replaced by small ones (" + ", ".join(
            f"{k}: {tuple(v) if isinstance(v, (tuple, list)) else v}" for k, v in small.items()) + ")"
    reports = []
    for seed in VERIFY_SEEDS:
        try:
            check = gradcheck_hessian if hessian else gradcheck_gradients
            report = check(expr, wrt, small if small is not None else shapes, assume, dtype, seed=seed,
                           points=1, source=checked_source)
        except MatcalcError as exc:
            if isinstance(exc, VerificationError):
                raise
            return _with_note(source, f"Verification skipped: {exc.message.splitlines()[0]}.")
        except Exception as exc:
            raise VerificationError(f"generated code for {expr!r} fails when run: {type(exc).__name__}: {exc}") \
                from exc
        if report.ok:
            worst = max(report.errors.values(), default=0.0)
            if generic_functions([typed_program(expr, small if small is not None else shapes, assume).output], None):
                where += ", generic functions replaced by sin/cos stand-ins"
            resolved = (f"; where the differences resolve less than {report.tol:.0e} at the point, to what they "
                        f"resolve: {report.resolution_note()}" if report.allowed else "")
            return _with_note(source, f"Verified by matcalc: gradients{' and Hessians' if hessian else ''} agree "
                                      f"with central differences {where} (max relative error {worst:.1e}{resolved}).")
        reports.append(report)
    bad = reports[-1]
    failing = {k: e for k, e in bad.errors.items() if not bad.passes(k)}
    what = "; ".join(_failure(bad, k, e) for k, e in failing.items()) or bad.detail
    detail = f" ({bad.detail})" if bad.detail and failing else ""
    raise VerificationError(f"generated code for {expr!r} disagrees with central differences — {what}{detail} "
                            f"(tolerance {bad.tol:.0e}); the module is not returned")


def _failure(report, key: str, err: float) -> str:
    """One failing comparison, saying when the differences could not resolve enough to check it."""
    if report.unresolved(key):
        return (f"{key}: relative error {err:.2e}, but central differences resolve only {report.allowed[key]:.0e} "
                f"of it at the point (a derivative this small beside the function's rounding), too little to check")
    allowed = f" (allowed {report.allowed[key]:.0e}, what central differences resolve at the point)" \
        if key in report.allowed else ""
    return f"{key}: relative error {err:.2e}{allowed}"


def _small_shapes(shapes: dict | None) -> dict | None:
    """``shapes`` with every declared size above ``VERIFY_MAX_DIM`` replaced by a distinct small
    one not declared elsewhere (equal sizes stay equal); None when nothing needs replacing."""
    if not shapes:
        return None
    sizes = {int(d) for v in shapes.values() if isinstance(v, (tuple, list)) for d in v
             if isinstance(d, int) or (isinstance(d, str) and d.isdigit())}
    large = sorted(d for d in sizes if d > VERIFY_MAX_DIM)
    if not large:
        return None
    free = [k for k in range(2, 64) if k not in sizes]
    swap = dict(zip(large, free))
    return {name: (tuple(swap.get(int(d), int(d)) if isinstance(d, int) or (isinstance(d, str) and d.isdigit())
                         else d for d in v) if isinstance(v, (tuple, list)) else v)
            for name, v in shapes.items()}


def _with_note(source: str, note: str) -> str:
    """``source`` with ``note`` as the last paragraph of its module docstring."""
    end = source.find('\n"""\n')
    if end < 0:
        return source
    return source[:end] + "\n\n" + note + source[end:]
