"""Explaining a wrong answer: what it is off by, where it differs, what it would need.

Read from the points ``decide.compare`` evaluated (ordinary magnitudes only, so no far-out
cancelling): the other layout (the transpose of a square result), a constant factor (``sign
flipped``, ``missing the factor 2``), a missing or an extra term of a top-level sum; a small
concrete counterexample (sizes 2, 3, … and entries rounded to one decimal where they still
differ); and an assumption under which the answer would be right (``hint``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node
from matcalc.grading.decide import LABEL_NAMES, Comparison, equal_within
from matcalc.grading.verdict import Verdict
from matcalc.numeric.evaluate import to_external
from matcalc.output.programs import program as render_program
from matcalc.output.render import Printer

RTOL = 1e-10                  # for diagnoses (factor, missing term) of an answer already found wrong
KIND_WORDS = {"onehot": "one-hot", "onehot_rows": "a matrix with one-hot rows",
              "probability": "a probability vector (nonnegative, summing to one)"}
MAX_HINTS = 6                 # assumption candidates tried for one wrong answer
COUNTEREXAMPLE_SIZES = (2, 3, 4, 5)   # the dimensions' sizes in turn: a 100-layer chain's inputs stay
                                      # small (sizes 2, 3, ..., 102 made it cubic to evaluate and show)


@dataclass
class Repair:
    """A verified repair (``repair``, ``axis``): its diagnosis code, the sentence, and the
    repaired answer's text."""

    diagnosis: str               # variable_factor | term_coefficient | axis
    reason: str
    corrected: str


def diagnose(cmp: Comparison) -> dict:
    """``layout``, ``factor``, ``missing`` or ``extra`` (a term's text) for an answer that differs
    at ``cmp.points[cmp.mismatch]``."""
    res: dict = {"equal": False}
    pts = [p for p in cmp.points if p.magnitude == 1.0] or cmp.points
    E = [p.expected for p in pts]
    Aa = [p.answer for p in pts]
    if E[0].ndim == 2 and E[0].shape[0] == E[0].shape[1] and all(close(a, e.T) for a, e in zip(Aa, E)):
        res["layout"] = True
        return res
    res["factor"] = common_factor(Aa, E)
    if res["factor"] is not None:
        return res
    for j, t in enumerate(cmp.expected_terms):
        if all(close(p.answer, p.expected - p.expected_terms[j]) for p in pts):
            res["missing"] = term_text(t)
            break
    for j, t in enumerate(cmp.answer_terms):
        if "missing" not in res and all(close(p.answer - p.answer_terms[j], p.expected) for p in pts):
            res["extra"] = term_text(t)
            break
    return res


def counterexample(cmp: Comparison, has_expected_node: bool) -> dict:
    """A small input where the answers differ: sizes 2, 3, 4, 5, 2, ... and rounded entries if possible;
    else the point where the comparison found them different."""
    leaves = list(cmp.variables.values())
    small: dict = {}
    for leaf in leaves:
        for d in leaf.shape:
            for s in sorted(d.free_symbols, key=str):
                small.setdefault(s, COUNTEREXAMPLE_SIZES[len(small) % len(COUNTEREXAMPLE_SIZES)])
    point = None
    if has_expected_node:
        k = len(cmp.valid_roots)
        for attempt in range(6):     # label-like names one-hot first, if the answers differ there
            got = cmp.sampler.sample(cmp.roots, cmp.valid_roots, cmp.variables, cmp.rng, small, round_to=1,
                                     labels_onehot=attempt < 3)
            if got is None:
                continue
            env, _, vals = got
            e, a = np.asarray(vals[k - 1]), np.asarray(vals[k])
            if a.size in (1, e.size):
                a = np.broadcast_to(a, e.shape)
            if not close(a, e):
                point = (env, e, a)
                break
    if point is None:
        where = cmp.points[cmp.mismatch]
        point = (where.env, where.expected, where.answer)
    env, e, a = point
    ndims = {n: v.attrs[1] for n, v in cmp.variables.items()}
    inputs = {n: external(env[n], ndims[n]) for n in cmp.variables if n in env}
    return {"inputs": inputs, "expected": external(e, None), "answer": external(a, None)}


def hint(verdict: Verdict, variables: dict[str, Node], wrt: str, assume: dict | None,
         regrade: Callable[[dict], Verdict], plausible: Callable[[str, str], bool] | None = None) -> None:
    """When a wrong answer is right under an assumption the grader was not given (the textbook
    ``softmax(W x) − y`` needs a one-hot ``y``), say so in the verdict; it stays wrong.
    ``regrade(assume)`` grades the same answer under other assumptions (a derivation and a full
    comparison each); ``plausible(name, kind)``, a few evaluations, first rules out the
    assumptions under which the answer clearly still differs.  The candidates tried are the same
    with or without it (counted before it is asked), and only a regrade says one."""
    tried = 0
    labels_first = sorted(variables.items(), key=lambda nv: nv[0] not in LABEL_NAMES)   # y, Y, t, ... first
    for name, v in labels_first:
        if name == wrt or (assume or {}).get(name) or v.attrs[2] is not None or v.is_scalar:
            continue
        kinds = ("onehot", "probability") if v.is_column else ("onehot_rows", "onehot")
        for kind in kinds:
            if tried >= MAX_HINTS:
                return
            tried += 1
            if plausible is not None and not plausible(name, kind):
                continue
            try:
                other = regrade({**(assume or {}), name: kind})
            except MatcalcError:
                continue
            if other.correct:
                words = KIND_WORDS.get(kind, kind) if kind != "onehot" or v.is_column else "a matrix with one-hot columns"
                flag = f"--assume {name}={kind} (Python: assume={{'{name}': '{kind}'}})"
                if verdict.diagnosis == "wrong":             # the assumption is the whole story: say it first
                    text = (f"Your answer is right if {name} is {words}, which the question does not "
                            f"declare: {flag}.")
                    verdict.diagnosis, verdict.reason = "assumption", text
                else:
                    text = f"It would be right if {name} were {words}: declare that with {flag}."
                    verdict.reason = f"{verdict.reason} {text}"
                verdict.notes.append(text)
                return


def term_text(node: Node) -> str:
    """A term of a sum in matcalc text (best effort: it only describes)."""
    try:
        defs, texts = render_program([node], "text", {})
        return "; ".join([f"{n} = {t}" for n, t in defs] + texts)
    except Exception:  # noqa: BLE001 - a description is best effort
        return "(a term)"


def node_text(node: Node) -> str:
    """A node in matcalc text (its named intermediates first), or in Unicode where text has no form."""
    try:
        defs, texts = render_program([node], "text", {})
        return "; ".join([f"{n} = {t}" for n, t in defs] + texts)
    except MatcalcError:
        return Printer("unicode")(node)


def close(a, b) -> bool:
    """Equal within ``RTOL`` relative to ``b``: for diagnoses of an answer already found wrong."""
    b = np.asarray(b, dtype=float)
    return equal_within(a, b, RTOL * max(float(np.max(np.abs(b), initial=0.0)), 1e-8))


def common_factor(As, Es):
    """c with A = c·E at every point (c ≠ 0, 1), as a simple fraction when it is one."""
    cs = []
    for a, e in zip(As, Es):
        a, e = np.asarray(a, dtype=float).reshape(-1), np.asarray(e, dtype=float).reshape(-1)
        if a.size != e.size or not np.all(np.isfinite(a)):
            return None
        ee = float(e @ e)
        if ee < 1e-16:
            continue
        c = float(a @ e) / ee
        if not close(a, c * e):
            return None
        cs.append(c)
    if not cs or any(abs(c - cs[0]) > 1e-6 * max(1.0, abs(cs[0])) for c in cs):
        return None
    c = cs[0]
    if abs(c) < 1e-9 or abs(c - 1) < 1e-9:
        return None
    f = Fraction(c).limit_denominator(1000)
    return float(f) if abs(float(f) - c) <= 1e-10 * max(1.0, abs(c)) else c


def number_text(x: float) -> str:
    """``2``, ``1/2`` or a short decimal."""
    f = Fraction(x).limit_denominator(1000)
    if abs(float(f) - x) > 1e-12 * max(1.0, abs(x)):
        short = f"{x:.6g}"
        return short if abs(float(short) - x) <= 1e-12 * max(1.0, abs(x)) else f"{x:.12g}"
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def factor_words(c: float) -> str:
    """What an answer c times the right one is told."""
    if abs(c + 1) < 1e-9:
        return "the sign is flipped (it is minus the right answer)"
    sign = "" if c > 0 else "the sign is flipped and "
    m = abs(c)
    if m < 1:
        inv = 1 / m
        return f"{sign}it is missing the factor {number_text(inv)} (it is {number_text(c)} times the right answer)"
    return f"{sign}it has an extra factor {number_text(m)} (it is {number_text(c)} times the right answer)"


def external(v, ndim):
    """A value as the user writes it (vectors 1-D, scalars plain), rounded to six decimals."""
    a = np.asarray(v, dtype=float)
    if ndim is None:
        ndim = 0 if a.size == 1 else 1 if a.ndim == 2 and a.shape[1] == 1 else 2
    return np.round(to_external(a, ndim), 6).tolist() if ndim else round(float(to_external(a, 0)), 6)
