"""How closely central differences can check a derivative: measured at the point, not assumed.

A central difference with step ``s`` is off by its truncation (about ``c s²``) and by rounding
(about ``u |f| / s``, ``u`` the unit roundoff, ``|f|`` the size of the values differenced).
A fixed tolerance (1e-7) is right for most programs and wrong for a deep one: through 45 tanh
layers the gradient by ``x`` is about 1e-9 of the output, and the difference that should check
it is rounding noise at 2 % of it, however right the generated gradient is.

``compare`` keeps the fixed tolerance whenever it is met.  Otherwise it measures what the
differences can resolve: for each step of ``STEPS`` it takes the difference at ``s`` and at
``2 s``; how much it moves, ``|D(s) − D(2s)|`` (three times the truncation of ``D(s)``, and of
the order of its rounding), and never less than the rounding floor ``u |f| / s``, estimates
the error of ``D(s)``.  The step with the smallest estimate is the reference, and the analytic
derivative must agree with it to ``SAFETY`` times that estimate (relative to the same scale),
and never to worse than ``MAX_ALLOWANCE`` (1 %): where the differences resolve less than that
(a gradient of 1e-13 beside an output of 0.1, a hundred tanh layers deep) the check fails,
saying what the differences resolve, rather than passing something nothing checked.
A wrong derivative, off by much more than the differences' own error, still fails: a deep
network's Hessian is resolved to 1e-9 where its gradient is resolved to 1e-3
(``tests/test_gradcheck_resolution.py`` corrupts both).  Everything is bounded by counts (the
four steps), never by time; the allowance is reported beside the error.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

STEPS = (1e-5, 1e-4, 1e-3, 1e-2)     # steps tried when the fixed tolerance is not met
SAFETY = 4.0                          # the analytic derivative may differ by this many estimates
MAX_ALLOWANCE = 1e-2                  # never more: beyond it the differences cannot vouch for anything
UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)


def _max_abs(a) -> float:
    return float(np.max(np.abs(a), initial=0.0))


def compare(got, difference_at: Callable[[float], np.ndarray], h: float, scale: float, tol: float,
            value_size: float, first: np.ndarray | None = None) -> tuple[float, float]:
    """(relative error, relative allowance) of ``got`` against central differences.

    ``difference_at(s)`` is the central difference with step ``s`` (an array shaped like
    ``got``), ``scale`` what errors are relative to, ``value_size`` the size of the values that
    are differenced (for the rounding floor).  The allowance is ``tol`` when the difference at
    ``h`` meets it, else ``SAFETY`` times the measured resolution (never below ``tol``; the
    caller holds it to ``limit``);
    ``first`` is the difference at ``h`` when the caller has it."""
    got = np.asarray(got, dtype=float)
    scale = max(scale, 1e-300)
    err = _relative(got, difference_at(h) if first is None else first, scale)
    if err < tol:
        return err, tol
    best = None
    for s in STEPS:
        with np.errstate(all="ignore"):
            near, far = np.asarray(difference_at(s), dtype=float), np.asarray(difference_at(2 * s), dtype=float)
        if near.shape != got.shape or not (np.all(np.isfinite(near)) and np.all(np.isfinite(far))):
            continue                                   # a step outside the domain says nothing
        estimate = max(_max_abs(near - far), UNIT_ROUNDOFF * value_size / s)
        if best is None or estimate < best[0]:
            best = (estimate, near)
    if best is None:
        return err, tol
    estimate, reference = best
    return _relative(got, reference, scale), float(max(tol, SAFETY * estimate / scale))


def _relative(got: np.ndarray, want: np.ndarray, scale: float) -> float:
    if got.shape != np.shape(want):
        return float("inf")
    err = _max_abs(got - want) / scale
    return err if np.isfinite(err) else float("inf")


def limit(allowance: float, tol: float) -> float:
    """What an error is held to: its allowance, at most ``MAX_ALLOWANCE`` (or ``tol`` if larger)."""
    return min(allowance, max(tol, MAX_ALLOWANCE))
