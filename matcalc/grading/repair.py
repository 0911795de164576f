"""Diagnoses that say what is missing, each verified by grading the repaired answer.

When a wrong answer is not the other layout, a constant multiple, or missing/extra a term
(``diagnose``), these find the smallest repair that makes it right:

- a factor that is a size or a variable (``/N``, ``lam``): the answer is ``k·s`` or ``k/s`` times
  the right one, for a scalar input ``s`` of the question or a size of its arrays;
- a wrong coefficient on one term of a sum (``lam*W`` where ``2*lam*W`` is right): the coefficient
  a constant or such a factor;
- a reduction along the wrong axis (``axis``): one ``softmax``/``log_softmax``/``logsumexp``/
  ``sum``/``mean`` of the answer taken along the other axis, or a mean's count of the other axis
  written out (``/size(X, 1)`` where ``/m`` is right).

A candidate is first read off the points the comparison already evaluated (ratios, least
squares) or tried at the first point, then the repaired answer is compared again over every
planned point (``Sampler.compare``, the measured tolerance): a repair is said only when the
repaired answer is equal there.  Bounded by counts (``MAX_CANDIDATES``, ``MAX_VERIFIED``).
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node, depends_on, topo_order
from matcalc.core.kinds import is_sum, is_variable
from matcalc.grading.axis import wrong_axis
from matcalc.grading.decide import Comparison, safe_eval
from matcalc.grading.diagnose import Repair, close, number_text
from matcalc.grading.diagnose import node_text as _text
from matcalc.output.render import Printer

MAX_CANDIDATES = 12          # factor candidates read off the compared points
MAX_VERIFIED = 6             # repaired answers graded again over every point


def find_repair(cmp: Comparison, expected: Node | None, ans: Node, question_output: Node, wrt: str,
                verify: Callable[[Node], bool]) -> Repair | None:
    """The first candidate repair of ``ans`` that ``verify`` (a full comparison) accepts."""
    if expected is None:
        return None
    pts = [p for p in cmp.points if p.magnitude == 1.0] or cmp.points
    scalars = _scalar_inputs([question_output, expected], cmp, wrt)
    budget = [MAX_VERIFIED]

    def accept(node: Node) -> bool:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        try:
            return verify(node)
        except MatcalcError:
            return False

    for finder in (_factor, _term_coefficient, wrong_axis):
        got = finder(cmp, pts, expected, ans, scalars, accept)
        if got is not None:
            return got
    return None


# ---------------------------------------------------------------------- candidates
def _scalar_inputs(roots: list[Node], cmp: Comparison, wrt: str) -> list[Node]:
    """Scalar variables other than ``wrt`` and sizes of arrays: what a missing ``/N`` or ``lam`` is."""
    out = []
    for n in topo_order(roots):
        variable = is_variable(n) and n.is_scalar and n.attrs[0] != wrt and n.attrs[2] != "index"
        if (n.op == "size" or variable) and n not in out:
            out.append(n)
    return out[:MAX_CANDIDATES]


def _values(node: Node, pts, cmp: Comparison) -> list[float] | None:
    vals = []
    for p in pts:
        v = np.asarray(safe_eval(node, p.env, p.functions, {}, list(cmp.variables.values())), dtype=float)
        if v.size != 1 or not np.isfinite(v).all() or abs(float(v.reshape(()))) < 1e-12:
            return None
        vals.append(float(v.reshape(())))
    return vals


def _ratio(a, e) -> float | None:
    """c with a = c·e (None when not a multiple at this point)."""
    a, e = np.asarray(a, dtype=float).reshape(-1), np.asarray(e, dtype=float).reshape(-1)
    if a.size != e.size or not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        return None
    with np.errstate(all="ignore"):
        ee = float(e @ e)
        if not np.isfinite(ee) or ee < 1e-16:
            return None
        c = float(a @ e) / ee
    if not np.isfinite(c):
        return None
    return c if close(a, c * e) else None


def _simple(x: float) -> Fraction | None:
    f = Fraction(x).limit_denominator(100)
    return f if f != 0 and abs(float(f) - x) <= 1e-9 * max(1.0, abs(x)) else None


def _as_scalar_times(cs: list[float], scalars: list[Node], pts, cmp) -> list[tuple[Fraction, Node | None, int]]:
    """(k, s, σ) with cs[p] = k·s_p^σ at every point: σ = 0 a constant, ±1 a factor or divisor."""
    out = []
    k0 = _simple(cs[0]) if all(abs(c - cs[0]) <= 1e-9 * max(1.0, abs(cs[0])) for c in cs) else None
    if k0 is not None:
        out.append((k0, None, 0))
    for s in scalars:
        vals = _values(s, pts, cmp)
        if vals is None or len(set(np.round(vals, 12))) < 2:          # a factor seen to vary
            continue
        for sigma in (1, -1):
            ks = [c / v ** sigma for c, v in zip(cs, vals)]
            k = _simple(ks[0])
            if k is not None and all(abs(x - ks[0]) <= 1e-8 * max(1.0, abs(ks[0])) for x in ks):
                out.append((k, s, sigma))
    return out


def _times(node: Node, k: Fraction, s: Node | None, sigma: int) -> Node:
    """node · k · s^σ."""
    out = A.scale(k, node) if k != 1 else node
    if s is not None:
        out = A.scale(s if sigma > 0 else A.pow_(s, -1), out)
    return out


# ---------------------------------------------------------------------- the repairs
def _factor(cmp, pts, expected, ans, scalars, accept) -> Repair | None:
    """The answer is k·s^σ times the right one, s a size or a scalar input."""
    cs = [_ratio(p.answer, p.expected) for p in pts]
    if any(c is None for c in cs):
        return None
    for k, s, sigma in _as_scalar_times(cs, scalars, pts, cmp):
        if s is None:
            continue                     # a constant factor: diagnose said it already
        fixed = _times(ans, 1 / k, s, -sigma)
        if not accept(fixed):
            continue
        name = _words(s)
        missing = depends_on(expected, s)
        if sigma > 0:
            what = f"it is missing the division by {name} (/{name})" if missing else f"it has an extra factor {name}"
        else:
            what = f"it is missing the factor {name}" if missing else f"it has an extra division by {name} (/{name})"
        if k != 1:
            what += " and " + (f"the factor {number_text(float(1 / k))}" if abs(k) < 1 else
                               f"has an extra factor {number_text(float(k))}")
        times = _multiple(k, name, sigma)
        return Repair("variable_factor", f"Your answer is off by a factor: {what} (it is {times} times "
                      "the right answer).",
                      _text(fixed))
    return None


def _term_coefficient(cmp, pts, expected, ans, scalars, accept) -> Repair | None:
    """One term of the answer's sum has the wrong coefficient: ``lam*W`` should be ``2*lam*W``."""
    if not is_sum(ans):
        return None
    terms = list(ans.args)
    for j, t in enumerate(terms):
        cs = []
        for p in pts:
            if len(p.answer_terms) != len(terms):
                return None
            tv = np.asarray(p.answer_terms[j], dtype=float)
            c = _ratio(p.expected - p.answer + tv, tv)                     # e = a − t + c·t
            if c is None:
                break
            cs.append(c)
        if len(cs) != len(pts):
            continue
        for k, s, sigma in _as_scalar_times(cs, scalars, pts, cmp):
            if s is None and k in (0, 1):
                continue                 # no change, or the term is extra (diagnose says that)
            right = _times(t, k, s, sigma)
            fixed = A.add(*(right if n == j else u for n, u in enumerate(terms)))
            if accept(fixed):
                what = ("the wrong sign on one term" if s is None and k == -1
                        else "a wrong coefficient on one term")
                return Repair("term_coefficient", f"Your answer has {what}: "
                              f"the term {_text(t)} should be {_text(right)}.", _text(fixed))
    return None


# ---------------------------------------------------------------------- words
def _multiple(k: Fraction, name: str, sigma: int) -> str:
    """k·name^σ as a reader writes it: ``N``, ``2 N``, ``N/2``, ``1/N``, ``1/(2 N)``."""
    num, den = k.numerator, k.denominator
    top = [str(abs(num))] if abs(num) != 1 else []
    bottom = [str(den)] if den != 1 else []
    (top if sigma > 0 else bottom).append(name)
    sign = "−" if num < 0 else ""
    t = " ".join(top) or "1"
    if not bottom:
        return sign + t
    b = " ".join(bottom)
    return f"{sign}{t}/{b}" if len(bottom) == 1 else f"{sign}{t}/({b})"


def _words(s: Node) -> str:
    """A size by its dimension's name (``N``), a variable by its name."""
    return Printer("unicode")(s) if s.op == "size" else s.attrs[0]
