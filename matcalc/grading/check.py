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
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy

from matcalc.core import algebra as A
from matcalc.core.errors import InternalError, MatcalcError, UnsupportedError
from matcalc.core.graph import ONE, Node, topo_order
from matcalc.core.rules import ELEMENTWISE, RESERVED
from matcalc.derivation.derivation import derive
from matcalc.derivation.hessian import hessian
from matcalc.language import syntax as ast
from matcalc.language.parser import parse
from matcalc.language.program import wrt_names
from matcalc.language.shapes import build, names_in
from matcalc.numeric.evaluate import evaluate, to_external
from matcalc.numeric.sampling import STRATEGIES, away_from_kinks, dimension_sizes, draw, kinks
from matcalc.output.render import program as render_program
from matcalc.simplify.rewrite import simplify_all

MAX_ANSWER_CHARS = 10_000
MAX_CACHED_QUESTIONS = 1024   # distinct questions kept derived and verified (a batch's worth)
_LABEL_NAMES = frozenset({"y", "Y", "t", "T", "label", "labels", "target", "targets"})  # one-hot in counterexamples
_SIZE_NAME = re.compile(r"N|M|K|n|m|batch(_size)?|(n|num)_\w+")   # scalars that count: drawn as integers
MAX_ANSWER_NODES = 5_000
MAX_ENTRIES = 1_000_000       # per intermediate array at the sampled sizes
POINTS = 4
MAGNITUDES = (0.01, 0.1, 10.0, 100.0, 1000.0)   # inputs scaled: both sides of kinks, terms that wake up far out
RTOL = 1e-10                  # for diagnoses (factor, missing term) of an answer already found wrong
ROUNDING_RUNS = 3             # perturbed re-evaluations that estimate the rounding error
ROUNDING_SAFETY = 16.0        # tolerance = SAFETY × the spread they show + FLOOR_ULPS ulps
FLOOR_ULPS = 64.0
FORMS = ("gradient", "jacobian", "hessian")
DIAGNOSES = ("correct", "layout", "wrong_shape", "factor", "missing_term", "extra_term", "wrong",
             "unreadable", "invalid")


@dataclass
class Verdict:
    """The grade of one answer: ``correct``, a one-sentence ``reason`` and a ``diagnosis`` code
    (one of DIAGNOSES), matcalc's ``expected`` answer and, when wrong, a ``counterexample``
    ``{"inputs": {name: value}, "expected": value, "answer": value}``."""

    correct: bool
    diagnosis: str
    reason: str
    expected: str
    answer: str
    form: str
    counterexample: dict | None = None
    factor: float | None = None
    term: str | None = None
    method: str = ""                       # symbolic | numeric | shape | parse
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.correct

    def to_dict(self) -> dict:
        return {"correct": self.correct, "diagnosis": self.diagnosis, "reason": self.reason,
                "expected": self.expected, "answer": self.answer, "form": self.form,
                "counterexample": self.counterexample, "factor": self.factor, "term": self.term,
                "method": self.method}

    def __str__(self) -> str:
        lines = [("correct: " if self.correct else "wrong: ") + self.reason]
        if not self.correct:
            lines.append(f"expected: {self.expected}")
        if self.counterexample:
            ce = self.counterexample
            ins = ", ".join(f"{k} = {_fmt_value(v)}" for k, v in ce["inputs"].items())
            lines.append(f"counterexample: at {ins}")
            lines.append(f"  the right answer is {_fmt_value(ce['expected'])}")
            lines.append(f"  your answer gives   {_fmt_value(ce['answer'])}")
        return "\n".join(lines)


def _fmt_value(v) -> str:
    return np.array2string(np.asarray(v, dtype=float), precision=4, separator=", ",
                           suppress_small=True).replace("\n", "")


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
    try:
        checker = _Checker(expr, names[0], answer, shapes, assume, form, seed)
        verdict = checker.run()
        if not verdict.correct and verdict.diagnosis in ("wrong", "factor", "missing_term", "extra_term"):
            _hint_assumption(verdict, checker, expr, names[0], answer, shapes, assume, form, seed)
        return verdict
    except MatcalcError:
        raise
    except RecursionError:
        raise MatcalcError("the answer is nested too deeply to check") from None
    except MemoryError:
        raise MatcalcError("the answer is too large to check") from None
    except Exception as e:
        raise InternalError(f"internal error while checking: {type(e).__name__}: {e}") from e


class _Checker:
    def __init__(self, expr, wrt, answer, shapes, assume, form, seed):
        self.expr, self.wrt, self.answer = expr, wrt, answer
        self.shapes, self.assume, self.seed = shapes, assume, seed
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

    # -------------------------------------------------------------- what is expected
    def _expected(self):
        d, w = self.d, self.wrt
        if self.form == "hessian":
            return _hessian_expected(self.expr, w, self.shapes, self.assume, self.typed)
        if d.kind == "tensor":
            raise UnsupportedError("checking a matrix-by-matrix derivative is not supported yet: "
                                   "check a scalar or vector output")
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

    # -------------------------------------------------------------- reading the answer
    def read_answer(self):
        """-> (answer node, combined Typed) or a Verdict when the answer cannot be read."""
        text = self.answer
        if len(text) > MAX_ANSWER_CHARS:
            return self.verdict(False, "unreadable", f"Your answer is too long to check "
                                f"({len(text)} characters; the limit is {MAX_ANSWER_CHARS}).",
                                method="parse")
        if not text.strip():
            return self.verdict(False, "unreadable", "Your answer is empty.", method="parse")
        try:
            prog = parse(text)
        except MatcalcError as e:
            return self.verdict(False, "unreadable", "Your answer could not be read: "
                                + _one_line(e) + ".", method="parse")
        inputs = set(self.typed.variables) | {self.wrt}
        inter = self.typed.intermediates
        renames = []                       # (start, old, new) for restated intermediates
        for i, st in enumerate(prog.statements):
            if st.name is None:
                continue
            if st.name in inputs:
                return self.verdict(False, "invalid", f"Your answer assigns {st.name}, which is an "
                                    "input of the expression; an answer may not redefine it.",
                                    method="parse")
            if st.name in inter:                # the answer's own definition shadows the program's
                new = f"_answer{i}_{st.name}"
                renames.append((st.start, st.name, new))
                for later in prog.statements[i + 1:]:
                    renames += [(pos, st.name, new) for pos in _name_positions(later.value, st.name)]
                    if later.name == st.name:
                        break
        known = set(inputs) | set(inter)
        for st in prog.statements:
            unknown = [n for n in dict.fromkeys(names_in(st.value)) if n not in known and n not in RESERVED]
            if unknown:
                names = ", ".join(list(self.typed.variables) + list(inter))
                return self.verdict(False, "invalid", f"Your answer uses {', '.join(unknown)}, which the "
                                    f"expression does not define (its names: {names}).", method="parse")
            if st.name is not None:
                known.add(st.name)
        src = text
        for start, old, new in sorted(renames, reverse=True):
            src = src[:start] + new + src[start + len(old):]
        declared = {}
        for name, v in {**self.d.variables, **self.typed.variables}.items():
            shp = _declared_shape(v)
            if shp is None:
                declared = dict(self.shapes or {})
                break
            declared[name] = shp
        combined_src = self.typed.source + "\n" + src
        offset = len(self.typed.source) + 1
        try:
            typed = build(parse(combined_src), declared, self.assume)
        except MatcalcError as e:
            msg = e.message
            if e.pos is not None and e.pos >= offset:
                msg = _one_line(MatcalcError(e.message, src, e.pos - offset, None if e.end is None
                                             else e.end - offset))
            return self.verdict(False, "invalid", f"Your answer is not a valid expression here: "
                                f"{msg}.", method="parse")
        extra = [n for n in typed.variables if n not in self.typed.variables and n != self.wrt]
        if extra:
            known = ", ".join(list(self.typed.variables) + list(inter))
            return self.verdict(False, "invalid", f"Your answer uses {', '.join(extra)}, which the "
                                f"expression does not define (its names: {known}).", method="parse")
        node = typed.output
        if len(topo_order([node])) > MAX_ANSWER_NODES:
            return self.verdict(False, "invalid", "Your answer is too large to check.", method="parse")
        return node, typed

    # -------------------------------------------------------------- deciding
    def run(self) -> Verdict:
        got = self.read_answer()
        if isinstance(got, Verdict):
            return got
        ans, typed = got
        exp = self.expected_node
        exp_shape = exp.shape if exp is not None else self.expected_shape()
        if ans.shape != exp_shape and not (ans.is_scalar and exp_shape == (ONE, ONE)):
            if (ans.shape[1], ans.shape[0]) == tuple(exp_shape):
                res = self.numeric(ans, typed, transposed=True)
                if res.get("equal"):
                    return self.layout_verdict("numeric")
            return self.verdict(False, "wrong_shape", f"Your answer has the wrong shape: it is "
                                f"{_describe(ans.shape)}, but the {self.what()} is "
                                f"{_describe(exp_shape)}.", method="shape")
        if exp is not None and _symbolically_equal(ans, exp):
            return self.verdict(True, "correct", f"Your answer equals the {self.what()}.",
                                method="symbolic")
        res = self.numeric(ans, typed)
        if res.get("equal"):
            return self.verdict(True, "correct", f"Your answer equals the {self.what()} "
                                f"(checked at {res['points']} random points).", method="numeric")
        ce = res.get("counterexample")
        if res.get("layout"):
            return self.layout_verdict("numeric", ce)
        c = res.get("factor")
        if c is not None:
            return self.verdict(False, "factor", "Your answer is off by a constant factor: "
                                + _factor_words(c) + ".", factor=c, counterexample=ce, method="numeric")
        if res.get("missing"):
            t = res["missing"]
            return self.verdict(False, "missing_term", f"Your answer is missing the term {t}.",
                                term=t, counterexample=ce, method="numeric")
        if res.get("extra"):
            t = res["extra"]
            return self.verdict(False, "extra_term", f"Your answer has an extra term {t}; without "
                                "it the answer would be right.", term=t, counterexample=ce,
                                method="numeric")
        return self.verdict(False, "wrong", f"Your answer is not the {self.what()}: the two differ "
                            "at the counterexample below.", counterexample=ce, method="numeric")

    def what(self) -> str:
        return {"gradient": "gradient (shape convention)", "jacobian": "Jacobian (numerator layout)",
                "hessian": "Hessian"}[self.form]

    def layout_verdict(self, method, ce=None) -> Verdict:
        other = {"gradient": "Jacobian (numerator layout)", "jacobian": "gradient (shape convention)",
                 "hessian": "Hessian"}[self.form]
        return self.verdict(False, "layout", f"Your answer is the transpose of the right one: it is "
                            f"the {other} form, but the {self.what()} was asked for.",
                            method=method, counterexample=ce)

    def expected_shape(self):
        v = self.d.variables[self.wrt]
        n = v.shape[0] * v.shape[1]
        return (n, n)

    # -------------------------------------------------------------- numbers
    def numeric(self, ans: Node, typed, transposed: bool = False) -> dict:
        exp = self.expected_node
        variables = dict(typed.variables)
        variables.setdefault(self.wrt, self.d.variables[self.wrt])
        out = self.typed.output
        e_terms = list(exp.args) if exp is not None and exp.op == "add" and not transposed else []
        a_terms = list(ans.args) if ans.op == "add" and not transposed else []
        valid_roots = [out] + ([exp] if exp is not None else [])
        roots = valid_roots + [ans] + e_terms + a_terms
        rng = np.random.default_rng(self.seed)
        rounding_rng = np.random.default_rng([self.seed, 1])
        pts, mismatch = [], None
        plan = [1.0] * (POINTS + 2) + list(MAGNITUDES)
        for i, magnitude in enumerate(plan):
            if magnitude == 1.0 and len(pts) >= POINTS:
                continue
            sizes = dimension_sizes(list(variables.values()), rng)
            got = self.sample(roots, valid_roots, variables, rng, sizes, magnitude=magnitude)
            if got is None:
                continue
            env, functions, vals = got
            e, a = vals[len(valid_roots) - 1] if exp is not None else self.expected_fn(env, functions), \
                vals[len(valid_roots)]
            e = np.asarray(e, dtype=float)
            if transposed:
                e = e.T
            a = np.broadcast_to(np.asarray(a, dtype=float), e.shape) if np.size(a) in (1, e.size) \
                and np.shape(a) != e.shape else np.asarray(a, dtype=float)
            k = len(valid_roots) + 1
            et = [np.broadcast_to(v, e.shape) for v in vals[k:k + len(e_terms)]]
            at = [np.broadcast_to(v, e.shape) for v in vals[k + len(e_terms):]]
            if magnitude != 1.0 and (not np.all(np.isfinite(a)) or not _in_range(e) or not _in_range(a)):
                continue                  # far out, an equal answer may overflow or underflow: inconclusive
            tol = self.rounding(exp, ans, env, functions, e, a, transposed, rounding_rng)
            pts.append((env, functions, e, a, et, at, magnitude))
            if mismatch is None and not _equal_within(a, e, tol):
                mismatch = len(pts) - 1
        if not pts:
            raise UnsupportedError("could not find a point inside the domain to compare the answers "
                                   "numerically")
        if mismatch is None:
            return {"equal": True, "points": len(pts)}
        if transposed:
            return {"equal": False}
        res: dict = {"equal": False}
        where = pts[mismatch]
        pts = [p for p in pts if p[6] == 1.0] or pts   # diagnoses read ordinary points (no far-out cancelling)
        E = [p[2] for p in pts]
        Aa = [p[3] for p in pts]
        if E[0].ndim == 2 and E[0].shape[0] == E[0].shape[1] and all(_close(a, e.T) for a, e in zip(Aa, E)):
            res["layout"] = True
        else:
            res["factor"] = _common_factor(Aa, E)
            if res["factor"] is None:
                for j, t in enumerate(e_terms):
                    if all(_close(p[3], p[2] - p[4][j]) for p in pts):
                        res["missing"] = self.render(t)
                        break
                for j, t in enumerate(a_terms):
                    if "missing" not in res and all(_close(p[3] - p[5][j], p[2]) for p in pts):
                        res["extra"] = self.render(t)
                        break
        res["counterexample"] = self.counterexample(ans, roots, valid_roots, variables, rng, where)
        return res

    def rounding(self, exp, ans, env, functions, e, a, transposed, rng) -> float:
        """The absolute tolerance at this point: how far float64 evaluation of the expected and the
        given answer may be from exact, estimated by re-evaluating both with every computed entry
        perturbed by one rounding (``ROUNDING_RUNS`` times), with a floor of a few ulps."""
        scale = max(float(np.max(np.abs(e), initial=0.0)), float(np.max(np.abs(np.where(np.isfinite(a), a, 0)),
                                                                           initial=0.0)), 1e-300)
        spread = 0.0
        if exp is not None:
            for _ in range(ROUNDING_RUNS):
                try:
                    with np.errstate(all="ignore"):
                        pe, pa = evaluate([exp, ans], env, functions, rounding=rng,
                                          leaves=self.leaves)
                except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError, FloatingPointError):
                    return np.inf
                pe = np.asarray(pe, dtype=float).T if transposed else np.asarray(pe, dtype=float)
                for got, base in ((pe, e), (np.asarray(pa, dtype=float), a)):
                    if np.size(got) in (1, np.size(base)):
                        got = np.broadcast_to(got, np.shape(base)) if np.shape(got) != np.shape(base) else got
                        with np.errstate(all="ignore"):
                            diff = np.abs(got - base)
                        spread = max(spread, float(np.max(np.where(np.isfinite(diff), diff, 0.0), initial=0.0)))
        return ROUNDING_SAFETY * spread + FLOOR_ULPS * 2.0 ** -52 * scale

    def sample(self, roots, valid_roots, variables, rng, sizes, round_to=None, magnitude=1.0,
               labels_onehot=False):
        """(env, functions, values) at a random valid point, or None; ``magnitude`` scales the
        unconstrained inputs, so that a term like relu(x − 100) is seen."""
        kink_list = kinks(roots)
        size_of = {str(k): int(v) for k, v in sizes.items()}
        leaves = self.leaves = list(variables.values())     # they fix every symbolic size
        if not _sizes_ok(roots, sizes):
            raise UnsupportedError("the answer builds arrays too large to check")
        for attempt in range(30):
            strategy = STRATEGIES[min(attempt // 10, len(STRATEGIES) - 1)]
            env = {}
            for name, v in variables.items():
                shape = tuple(int(sympy.sympify(d).subs(sizes)) for d in v.shape)
                if v.is_scalar and name != self.wrt and name in size_of:    # the scalar N of X: N×d is N
                    env[name] = np.full((1, 1), float(size_of[name]))
                    continue
                if v.is_scalar and name != self.wrt and _SIZE_NAME.fullmatch(name):
                    env[name] = np.full((1, 1), float(rng.integers(2, 9)))    # a count, as in a counterexample
                    continue
                val = draw(rng, shape, v.attrs[2], strategy)
                if labels_onehot and v.attrs[2] is None and v.attrs[1] in (1, 2) and name in _LABEL_NAMES:
                    val = draw(rng, shape, "onehot" if v.attrs[1] == 1 else "onehot_rows", strategy)
                if magnitude != 1.0 and v.attrs[2] in (None, "positive", "symmetric", "spd", "diagonal"):
                    val = val * magnitude
                if round_to is not None and v.attrs[2] != "probability":
                    val = np.round(val, round_to)
                env[name] = val
            functions = _random_functions(roots, rng)
            cache: dict = {}
            try:
                with np.errstate(all="ignore"):
                    valid = evaluate(valid_roots, env, functions, cache, leaves)
                    if not all(np.all(np.isfinite(v)) for v in valid):
                        continue
                    if kink_list and not away_from_kinks(
                            lambda n, env=env, fns=functions, cache=cache: _safe_eval(n, env, fns, cache,
                                                                                     leaves),
                            kink_list):
                        continue
                    vals = [_safe_eval(r, env, functions, cache, leaves) for r in roots]
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError, FloatingPointError):
                continue
            return env, functions, vals
        return None

    def counterexample(self, ans, roots, valid_roots, variables, rng, fallback) -> dict:
        """A small input where the answers differ: sizes 2, 3, ... and rounded entries if possible."""
        leaves = list(variables.values())
        small = {}
        for leaf in leaves:
            for d in leaf.shape:
                for s in sorted(d.free_symbols, key=str):
                    small.setdefault(s, 2 + len(small))
        point = None
        if self.expected_node is not None:
            for attempt in range(6):     # label-like names one-hot first, if the answers differ there
                got = self.sample(roots, valid_roots, variables, rng, small, round_to=1,
                                  labels_onehot=attempt < 3)
                if got is None:
                    continue
                env, _, vals = got
                e, a = np.asarray(vals[len(valid_roots) - 1]), np.asarray(vals[len(valid_roots)])
                if a.size in (1, e.size):
                    a = np.broadcast_to(a, e.shape)
                if not _close(a, e):
                    point = (env, e, a)
                    break
        if point is None:
            env, _, e, a = fallback[:4]
            point = (env, e, a)
        env, e, a = point
        ndims = {n: v.attrs[1] for n, v in variables.items()}
        inputs = {n: _external(env[n], ndims[n]) for n in variables if n in env}
        return {"inputs": inputs, "expected": _external(e, None), "answer": _external(a, None)}

    def render(self, node: Node) -> str:
        try:
            defs, texts = render_program([node], "text", {})
            return "; ".join([f"{n} = {t}" for n, t in defs] + texts)
        except Exception:  # noqa: BLE001 - a description is best effort
            return "(a term)"


# ---------------------------------------------------------------------------- assumptions
_KIND_WORDS = {"onehot": "one-hot", "onehot_rows": "a matrix with one-hot rows",
               "probability": "a probability vector (nonnegative, summing to one)"}
MAX_HINTS = 6                 # assumption candidates tried for one wrong answer


def _hint_assumption(verdict, checker, expr, wrt, answer, shapes, assume, form, seed) -> None:
    """When a wrong answer is right under an assumption the grader was not given (the textbook
    ``softmax(W x) − y`` needs a one-hot ``y``), say so in the verdict; it stays wrong."""
    tried = 0
    for name, v in checker.typed.variables.items():
        if name == wrt or (assume or {}).get(name) or v.attrs[2] is not None or v.is_scalar:
            continue
        kinds = ("onehot", "probability") if v.is_column else ("onehot_rows", "onehot")
        for kind in kinds:
            if tried >= MAX_HINTS:
                return
            tried += 1
            try:
                other = _Checker(expr, wrt, answer, shapes, {**(assume or {}), name: kind}, form, seed).run()
            except MatcalcError:
                continue
            if other.correct:
                words = _KIND_WORDS.get(kind, kind) if kind != "onehot" or v.is_column else "a matrix with one-hot columns"
                hint = (f"It would be right if {name} were {words}: declare that with --assume {name}={kind} "
                        f"(Python: assume={{'{name}': '{kind}'}}).")
                verdict.reason = f"{verdict.reason} {hint}"
                verdict.notes.append(hint)
                return


# ---------------------------------------------------------------------------- helpers
_CACHE: dict = {}          # (expr, wrt, shapes, assume, form) -> derivation and expected result


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


def _name_positions(node, name: str) -> list[int]:
    """Start offsets of every use of ``name`` in an expression's syntax tree."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name):
            if n.id == name:
                out.append(n.start)
        elif isinstance(n, (ast.Neg, ast.Transpose)):
            stack.append(n.operand)
        elif isinstance(n, ast.BinOp):
            stack += [n.left, n.right]
        elif isinstance(n, ast.Call):
            stack += list(n.args)
    return out


def _one_line(e: MatcalcError) -> str:
    loc = e.location()
    msg = e.message.rstrip(".")
    return f"{msg} (at column {loc[1]})" if loc and loc[0] == 1 else (
        f"{msg} (line {loc[0]}, column {loc[1]})" if loc else msg)


def _declared_shape(v: Node):
    if v.attrs[2] == "index":                  # an index name stays one
        return "index"
    ndim = v.attrs[1]
    dims = []
    for d in v.shape[:ndim] if ndim else ():
        if isinstance(d, sympy.Integer):
            dims.append(int(d))
        elif isinstance(d, sympy.Symbol):
            dims.append(d.name)
        else:
            return None
    return tuple(dims)


def _describe(shape) -> str:
    r, c = shape
    if r == ONE and c == ONE:
        return "a scalar"
    if c == ONE:
        return f"a column vector of length {r}"
    if r == ONE:
        return f"a row vector of length {c}"
    return f"a matrix of size {r}×{c}"


def _symbolically_equal(a: Node, b: Node) -> bool:
    try:
        sa, sb = simplify_all([a, b])
        if sa is sb:
            return True
        return A.is_zero(simplify_all([A.sub(sa, sb)])[0])
    except MatcalcError:
        return False


def _in_range(v) -> bool:
    """Whether the nonzero entries of ``v`` lie where float64 keeps digits (no underflow, no overflow
    nearby): values of 1e-150 and smaller, or 1e150 and larger, come from exp far out."""
    v = np.abs(np.asarray(v, dtype=float))
    v = v[v > 0]
    return not v.size or bool(np.all((v > 1e-150) & (v < 1e150)))


def _equal_within(a, b, tol: float) -> bool:
    """Whether the answer ``a`` equals the expected ``b`` within the absolute ``tol``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        if a.size != b.size:
            return False
        a = a.reshape(b.shape)
    if not np.all(np.isfinite(a)):
        return False
    return float(np.max(np.abs(a - b), initial=0.0)) <= tol


def _close(a, b) -> bool:
    """Equal within ``RTOL`` relative to ``b``: for diagnoses of an answer already found wrong."""
    b = np.asarray(b, dtype=float)
    return _equal_within(a, b, RTOL * max(float(np.max(np.abs(b), initial=0.0)), 1e-8))


def _common_factor(As, Es):
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
        if not _close(a, c * e):
            return None
        cs.append(c)
    if not cs or any(abs(c - cs[0]) > 1e-6 * max(1.0, abs(cs[0])) for c in cs):
        return None
    c = cs[0]
    if abs(c) < 1e-9 or abs(c - 1) < 1e-9:
        return None
    f = Fraction(c).limit_denominator(1000)
    return float(f) if abs(float(f) - c) <= 1e-10 * max(1.0, abs(c)) else c


def _num(x: float) -> str:
    f = Fraction(x).limit_denominator(1000)
    if abs(float(f) - x) > 1e-12 * max(1.0, abs(x)):
        short = f"{x:.6g}"
        return short if abs(float(short) - x) <= 1e-12 * max(1.0, abs(x)) else f"{x:.12g}"
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _factor_words(c: float) -> str:
    if abs(c + 1) < 1e-9:
        return "the sign is flipped (it is minus the right answer)"
    sign = "" if c > 0 else "the sign is flipped and "
    m = abs(c)
    if m < 1:
        inv = 1 / m
        return f"{sign}it is missing the factor {_num(inv)} (it is {_num(c)} times the right answer)"
    return f"{sign}it has an extra factor {_num(m)} (it is {_num(c)} times the right answer)"


def _external(v, ndim):
    a = np.asarray(v, dtype=float)
    if ndim is None:
        ndim = 0 if a.size == 1 else 1 if a.ndim == 2 and a.shape[1] == 1 else 2
    return np.round(to_external(a, ndim), 6).tolist() if ndim else round(float(to_external(a, 0)), 6)


def _safe_eval(node, env, functions, cache, leaves=()):
    try:
        with np.errstate(all="ignore"):
            return evaluate([node], env, functions, cache, leaves)[0]
    except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError, FloatingPointError):
        return np.full((1, 1), np.nan)


def _sizes_ok(roots, sizes) -> bool:
    seen: dict = {}
    for n in topo_order(roots):
        if n.shape in seen:
            continue
        try:
            r, c = (int(sympy.sympify(d).subs(sizes)) for d in n.shape)
        except (TypeError, ValueError):
            return False
        seen[n.shape] = r * c
        if r * c > MAX_ENTRIES:
            return False
    return True


def _random_functions(roots, rng) -> dict:
    """A random smooth f = a·sin(b·z + c) + d·z and its derivatives for each generic function."""
    out = {}
    for n in topo_order(roots):
        if n.op == "ew" and n.attrs[0] not in ELEMENTWISE and n.attrs[0] not in out:
            a, b = rng.uniform(0.5, 1.5, 2)
            c = rng.uniform(-1, 1)
            d = rng.uniform(0.2, 0.8) * rng.choice([-1.0, 1.0])
            out[n.attrs[0]] = (
                lambda z, a=a, b=b, c=c, d=d: a * np.sin(b * z + c) + d * z,
                lambda z, a=a, b=b, c=c, d=d: a * b * np.cos(b * z + c) + d,
                lambda z, a=a, b=b, c=c: -a * b ** 2 * np.sin(b * z + c),
                lambda z, a=a, b=b, c=c: -a * b ** 3 * np.cos(b * z + c),
                lambda z, a=a, b=b, c=c: a * b ** 4 * np.sin(b * z + c),
            )
    return out


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
        if isinstance(node, Node) and forms.get(key, "matrix") in ("matrix", "vec"):
            return node, text, None
    call = H.numpy()

    def fallback(env, functions):
        ext = {n: to_external(v, typed.variables[n].attrs[1]) for n, v in env.items()
               if n in typed.variables}
        val = np.asarray(call(**ext) if not functions else H.numpy(functions=functions)(**ext), dtype=float)
        n = int(np.sqrt(val.size))
        return val.reshape(n, n)
    return None, text, fallback
