"""Grade a hand-derived answer against matcalc's own derivative: a verdict a student learns from.

``check(expr, wrt, answer)`` derives the expected result, reads the answer with matcalc's grammar
*in the context of the program* (it may use the program's inputs and intermediates, ``f'`` of
generic functions and the Unicode symbols; it may not redefine anything), then decides:

1. shapes first (a transposed shape is tested as the other layout, any other is a wrong shape);
2. the symbolic difference simplified to zero;
3. randomized numeric identity testing at several random points (random small sizes for
   symbolic dimensions, every assumption respected, away from kinks, generic ``f`` instantiated
   by a random smooth ``a·sin(b·z + c) + d·z`` consistent with its derivatives).

A mismatch is explained where that can be determined: the other layout, a constant factor
(``sign flipped``, ``missing the factor 2``), a missing or extra term of a top-level sum;
otherwise plainly wrong, with a small concrete counterexample.  Answers are untrusted text: no
``eval``; bounded length, nesting (the parser), graph size, array sizes and counts of points (never
wall-clock time, so a verdict does not depend on the machine's load).

The stages live in their own modules: ``answer`` reads the answer, ``decide`` compares it,
``diagnose`` explains a mismatch, ``verdict`` is the result; this module asks them in order.
"""
from __future__ import annotations

import copy

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import InternalError, MatcalcError
from matcalc.core.graph import ONE, Node
from matcalc.derivation.derivation import derive
from matcalc.derivation.hessian import hessian
from matcalc.grading import answer as answers
from matcalc.grading.axis import axis_repair
from matcalc.grading.decide import Sampler, plausible_under, symbolically_equal
from matcalc.grading.diagnose import counterexample, diagnose, factor_words, hint
from matcalc.grading.repair import find_repair
from matcalc.grading.verdict import DIAGNOSES, FORM_WORDS, FORMS, OTHER_LAYOUT, Verdict, describe
from matcalc.language.program import wrt_names
from matcalc.numeric.evaluate import to_external
from matcalc.second_order.kronecker import MATRIX_FORM, VEC_FORM
from matcalc.simplify.rewrite import simplify_all

__all__ = ["DIAGNOSES", "FORMS", "MAX_CACHED_QUESTIONS", "MAX_CACHED_VERDICTS", "Verdict", "check"]

MAX_CACHED_QUESTIONS = 1024   # distinct questions kept derived and verified (a batch's worth)
MAX_CACHED_VERDICTS = 8192    # (question, answer text) pairs kept graded: a class repeats its answers
HINTED = ("wrong", "factor", "missing_term", "extra_term", "variable_factor", "term_coefficient",
          "axis")                                           # diagnoses an assumption may explain


# ---------------------------------------------------------------------------- the entry point
def check(expr: str, wrt, answer: str, shapes: dict | None = None, assume: dict | None = None,
          form: str | None = None, seed: int = 0) -> Verdict:
    """Grade ``answer`` as the derivative of ``expr`` by ``wrt`` in ``form``.

    >>> check("x'*A*x", "x", "(A + A')*x").correct
    True
    >>> check("norm(W*x)^2", "W", "W*x*x'").reason
    'Your answer is off by a constant factor: it is missing the factor 2.'
    """
    if not isinstance(answer, str):
        raise MatcalcError(f"the answer must be a string, not {type(answer).__name__}")
    if form is not None and form not in FORMS:
        raise MatcalcError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    names = wrt_names(wrt)
    if len(names) != 1:
        raise MatcalcError("check one variable at a time: give a single wrt")
    question = _cache_key(expr, names[0], shapes, assume, form)
    key = None if question is None else (question, answer, seed)
    if key in _VERDICTS:          # the same answer to the same question: the same verdict (seeded)
        return copy.deepcopy(_VERDICTS[key])
    verdict = _grade(expr, names[0], answer, shapes, assume, form, seed)
    if key is not None:
        if len(_VERDICTS) >= MAX_CACHED_VERDICTS:
            _VERDICTS.pop(next(iter(_VERDICTS)))
        _VERDICTS[key] = copy.deepcopy(verdict)
    return verdict


def _grade(expr: str, wrt: str, answer: str, shapes, assume, form, seed) -> Verdict:
    """``check`` without the verdict cache (``wrt`` one name)."""
    names = [wrt]
    try:
        checker = Checker(expr, names[0], answer, shapes, assume, form, seed)
        verdict = checker.run()
        verdict.notes[:0] = [n for n in checker.typed.notes if n not in verdict.notes]   # the question's guesses
        if not verdict.correct and verdict.diagnosis in HINTED:
            hint(verdict, checker.typed.variables, names[0], assume,
                 lambda other: Checker(expr, names[0], answer, shapes, other, form, seed,
                                       explain=False).run(),
                 checker.plausible)
        return verdict
    except MatcalcError:
        raise
    except RecursionError:
        raise MatcalcError("the answer is nested too deeply to check") from None
    except MemoryError:
        raise MatcalcError("the answer is too large to check") from None
    except Exception as e:
        raise InternalError(f"internal error while checking: {type(e).__name__}: {e}") from e


class Checker:
    """One answer to one question: the expected result (derived and verified once per question,
    kept in ``_CACHE``), the answer read, then the decision and its diagnosis.  With
    ``explain=False`` a wrong answer is only found wrong (no diagnosis, repair or counterexample):
    what ``hint`` needs of a regrade under another assumption, which asks only whether it is right."""

    def __init__(self, expr, wrt, answer, shapes, assume, form, seed, explain=True):
        self.expr, self.wrt, self.answer = expr, wrt, answer
        self.shapes, self.assume, self.seed = shapes, assume, seed
        self.explain = explain
        key = _cache_key(expr, wrt, shapes, assume, form)
        cached = _CACHE.get(key) if key is not None else None
        if cached is None:
            self.d = derive(expr, wrt, shapes=shapes, assume=assume)
            self.typed = self.d.typed
            self.form = form or ("gradient" if self.typed.output.is_scalar else "jacobian")
            cached = (self.d, self.form) + self._expected()
            if key is not None:
                if len(_CACHE) >= MAX_CACHED_QUESTIONS:
                    _CACHE.pop(next(iter(_CACHE)))
                _CACHE[key] = cached
        self.d, self.form, self.expected_node, self.expected_text, self.expected_fn = cached
        self.typed = self.d.typed
        self.compared: tuple | None = None       # (comparison, answer node) once compared by numbers

    # -------------------------------------------------------------- what is expected
    def _expected(self):
        d, w = self.d, self.wrt
        if self.form == "hessian":
            return _hessian_expected(self.expr, w, self.shapes, self.assume, self.typed)
        if d.kind == "tensor":
            return _tensor_expected(d, w)
        if d.kind == "gradient":
            if self.form == "gradient":
                return d.results[w], d.render("text", "gradient"), None
            return d.jacobian_nodes()[w], d.render("text", "jacobian"), None
        if self.form == "jacobian":
            return d.results[w], d.render("text", "jacobian"), None
        node = simplify_all([A.transpose(d.results[w])])[0]
        head, sep, last = d.render("text", "jacobian").rpartition("; ")
        return node, f"{head}{sep}({last})'", None

    def verdict(self, correct, diagnosis, reason, **kw) -> Verdict:
        return Verdict(correct, diagnosis, reason, self.expected_text, self.answer, self.form, **kw)

    def expected_shape(self):
        v = self.d.variables[self.wrt]
        n = v.shape[0] * v.shape[1]
        if self.d.kind == "tensor":                  # ∂vec(F)/∂vec(X)ᵀ
            out = self.typed.output
            return (out.shape[0] * out.shape[1], n)
        return (n, n)

    # -------------------------------------------------------------- deciding
    def run(self) -> Verdict:
        got = answers.read(self.answer, answers.Question(self.typed, self.wrt, self.d.variables,
                                                         self.shapes, self.assume))
        if isinstance(got, answers.Rejected):
            return self.verdict(False, got.diagnosis, got.reason, method="parse")
        ans, typed = got
        exp = self.expected_node
        exp_shape = exp.shape if exp is not None else self.expected_shape()
        if ans.shape != exp_shape and not (ans.is_scalar and exp_shape == (ONE, ONE)):
            if (ans.shape[1], ans.shape[0]) == tuple(exp_shape):
                res = self.numeric(ans, typed, transposed=True)
                if res.get("equal"):
                    return self.layout_verdict("numeric")
            arrays = {self.wrt: self.d.variables[self.wrt], **self.typed.variables}      # sizes named by wrt first
            repair = axis_repair(ans, exp_shape, arrays, lambda node: self.equal(node, typed)) if self.explain else None
            if repair is not None:
                return self.verdict(False, repair.diagnosis, repair.reason, method="numeric")
            return self.verdict(False, "wrong_shape", f"Your answer has the wrong shape: it is "
                                f"{describe(ans.shape)}, but the {self.what()} is "
                                f"{describe(exp_shape)}.", method="shape")
        if exp is not None and symbolically_equal(ans, exp):
            return self.verdict(True, "correct", f"Your answer equals the {self.what()}.",
                                method="symbolic")
        res = self.numeric(ans, typed)
        if res.get("equal"):
            return self.verdict(True, "correct", f"Your answer equals the {self.what()} "
                                f"(checked at {res['points']} random points).", method="numeric")
        return self.wrong_verdict(res)

    def wrong_verdict(self, res: dict) -> Verdict:
        """The verdict on an answer that differs numerically, from its diagnosis ``res``."""
        ce = res.get("counterexample")
        if res.get("layout"):
            return self.layout_verdict("numeric", ce)
        c = res.get("factor")
        if c is not None:
            return self.verdict(False, "factor", "Your answer is off by a constant factor: "
                                + factor_words(c) + ".", factor=c, counterexample=ce, method="numeric")
        if res.get("missing"):
            t = res["missing"]
            return self.verdict(False, "missing_term", f"Your answer is missing the term {t}.",
                                term=t, counterexample=ce, method="numeric")
        repair = res.get("repair")
        if repair is not None:
            return self.verdict(False, repair.diagnosis, repair.reason, counterexample=ce, method="numeric")
        if res.get("extra"):
            t = res["extra"]
            return self.verdict(False, "extra_term", f"Your answer has an extra term {t}; without "
                                "it the answer would be right.", term=t, counterexample=ce,
                                method="numeric")
        return self.verdict(False, "wrong", f"Your answer is not the {self.what()}: the two differ "
                            "at the counterexample below.", counterexample=ce, method="numeric")

    def by_scalar(self) -> bool:
        """A vector or matrix output by a scalar: the derivative has the output's shape."""
        return (self.form == "jacobian" and self.d.variables[self.wrt].is_scalar
                and not self.typed.output.is_scalar)

    def what(self) -> str:
        if self.by_scalar():
            return f"derivative by the scalar {self.wrt} (the output's shape)"
        if self.form == "jacobian" and self.d.kind == "tensor":
            return "Jacobian of the vec form, ∂vec(F)/∂vec(X)ᵀ (numerator layout)"
        return FORM_WORDS[self.form]

    def layout_verdict(self, method, ce=None) -> Verdict:
        if self.by_scalar():
            return self.verdict(False, "layout", "Your answer is the transpose of the right one: it is "
                                "the other layout, but the derivative by a scalar has the output's "
                                "shape.", method=method, counterexample=ce)
        other = FORM_WORDS[OTHER_LAYOUT[self.form]]
        return self.verdict(False, "layout", f"Your answer is the transpose of the right one: it is "
                            f"the {other} form, but the {self.what()} was asked for.",
                            method=method, counterexample=ce)

    def equal(self, node: Node, typed) -> bool:
        """Whether ``node`` (a repaired answer) equals the expected result at every planned point."""
        return Sampler(self.wrt, self.seed).compare(self.expected_node, self.expected_fn, node, typed,
                                                     self.d.variables[self.wrt], self.typed.output,
                                                     until_mismatch=True).mismatch is None

    def plausible(self, name: str, kind: str) -> bool:
        """Whether the answer may be right once ``name`` is ``kind`` (``hint``'s cheap filter);
        True when the answer was never compared by numbers."""
        if self.compared is None:
            return True
        cmp, ans = self.compared
        return plausible_under(cmp, self.expected_node, ans, name, kind, self.seed)

    def numeric(self, ans: Node, typed, transposed: bool = False) -> dict:
        """Compare at random points; for an answer that differs, its diagnosis and a counterexample."""
        cmp = Sampler(self.wrt, self.seed).compare(self.expected_node, self.expected_fn, ans, typed,
                                                    self.d.variables[self.wrt], self.typed.output, transposed,
                                                    until_mismatch=transposed or not self.explain)
        if cmp.mismatch is None:
            return {"equal": True, "points": len(cmp.points)}
        if transposed or not self.explain:
            return {"equal": False}
        self.compared = (cmp, ans)
        res = diagnose(cmp)
        if not any(res.get(k) for k in ("layout", "factor", "missing", "extra")):
            res["repair"] = find_repair(cmp, self.expected_node, ans, self.typed.output, self.wrt,
                                        lambda node: self.equal(node, typed))
        res["counterexample"] = counterexample(cmp, self.expected_node is not None)
        return res


# ---------------------------------------------------------------------------- questions
_CACHE: dict = {}          # (expr, wrt, shapes, assume, form) -> derivation and expected result
_VERDICTS: dict = {}       # (question key, answer, seed) -> the verdict (copied in and out: it is mutable)


def _cache_key(expr, wrt, shapes, assume, form):
    """A hashable key for one question (a class's answers share it), or None."""
    try:
        key = (expr, wrt, tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v)
                                      for k, v in (shapes or {}).items())),
               tuple(sorted((assume or {}).items())), form)
        hash(key)
        return key
    except TypeError:
        return None


def _tensor_expected(d, wrt):
    """(node or None, text, numeric fallback) of a matrix-by-matrix, vector-by-matrix or
    matrix-by-vector derivative, graded as its vec form ∂vec(F)/∂vec(X)ᵀ (Cookbook 520)."""
    if d.forms.get(wrt) == VEC_FORM:
        return d.closed[wrt], d.render("text"), None

    def fallback(env, functions):
        T = d.tensor4(wrt, env, functions)
        r, c, p, q = T.shape
        return T.transpose(1, 0, 3, 2).reshape(r * c, p * q)     # vec_to_tensor's inverse
    return None, d.render("text"), fallback


def _hessian_expected(expr, wrt, shapes, assume, typed):
    """(node or None, text, numeric fallback) of the verified Hessian of ``expr``."""
    if not typed.output.is_scalar:
        raise MatcalcError("a Hessian needs a scalar output")
    H = hessian(expr, wrt=wrt, shapes=shapes, assume=assume)
    text = H.text() if hasattr(H, "text") else str(H)
    results = getattr(H, "results", None) or {}
    forms = getattr(H, "forms", {}) or {}
    if len(results) == 1:
        key, node = next(iter(results.items()))
        if isinstance(node, Node) and forms.get(key, "matrix") in (MATRIX_FORM, VEC_FORM):
            return node, text, None
    call = H.numpy()

    def fallback(env, functions):
        ext = {n: to_external(v, typed.variables[n].attrs[1]) for n, v in env.items()
               if n in typed.variables}
        val = np.asarray(call(**ext) if not functions else H.numpy(functions=functions)(**ext), dtype=float)
        n = int(np.sqrt(val.size))
        return val.reshape(n, n)
    return None, text, fallback
