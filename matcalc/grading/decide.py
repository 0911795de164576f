"""Deciding whether an answer equals the expected derivative: symbolically, then by numbers.

``symbolically_equal`` tries the simplified difference.  ``compare`` evaluates both at random
valid points (``POINTS`` ordinary ones and one at each of ``MAGNITUDES``: random small sizes for
symbolic dimensions, every assumption respected, away from kinks, each generic ``f`` a random
smooth ``a·sin(b·z + c) + d·z`` consistent with its derivatives) and says where they first
differ.  The tolerance at a point is measured, not guessed: both sides re-evaluated with every
computed entry perturbed by one rounding (``rounding``).  Bounded by array sizes and counts of
points, never by wall-clock time, so a verdict does not depend on the machine's load.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError, UnsupportedError
from matcalc.core.graph import Node, dim, topo_order
from matcalc.core.kinds import generic_function, is_sum
from matcalc.numeric.evaluate import evaluate
from matcalc.numeric.sampling import STRATEGIES, away_from_kinks, concrete_shape, dimension_sizes, draw, kinks
from matcalc.simplify.rewrite import simplify_all

LABEL_NAMES = frozenset({"y", "Y", "t", "T", "label", "labels", "target", "targets"})  # one-hot in counterexamples
SIZE_NAME = re.compile(r"N|M|K|n|m|batch(_size)?|(n|num)_\w+")   # scalars that count: drawn as integers
MAX_ENTRIES = 1_000_000       # per intermediate array at the sampled sizes
POINTS = 4
MAGNITUDES = (0.01, 0.1, 10.0, 100.0, 1000.0)   # inputs scaled: both sides of kinks, terms that wake up far out
ROUNDING_RUNS = 3             # perturbed re-evaluations that estimate the rounding error
ROUNDING_SAFETY = 16.0        # tolerance = SAFETY × the spread they show + FLOOR_ULPS ulps
FLOOR_ULPS = 64.0
PLAUSIBLE_POINTS = 2         # redrawn points that may rule out an assumption before its full regrade
PLAUSIBLE_RTOL = 1e-6         # relative to the values, and at least PLAUSIBLE_ROUNDINGS times the
PLAUSIBLE_ROUNDINGS = 100.0   # measured rounding tolerance there: only a clear difference rules out
NUMERIC_ERRORS = (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError, FloatingPointError)


@dataclass
class Point:
    """Both answers at one valid point, with the terms of top-level sums for the diagnoses."""

    env: dict
    functions: dict
    expected: np.ndarray
    answer: np.ndarray
    expected_terms: list
    answer_terms: list
    magnitude: float


@dataclass
class Comparison:
    """The points compared, the first that differs (None: equal at all), and what drew them
    (the counterexample draws again from the same generator)."""

    points: list[Point]
    mismatch: int | None
    expected_terms: list[Node]
    answer_terms: list[Node]
    roots: list[Node]
    valid_roots: list[Node]
    variables: dict[str, Node]
    rng: np.random.Generator
    sampler: Sampler = field(repr=False)


def symbolically_equal(a: Node, b: Node) -> bool:
    """Whether the simplified difference of two nodes is zero (False when that cannot be built)."""
    try:
        sa, sb = simplify_all([a, b])
        if sa is sb:
            return True
        return A.is_zero(simplify_all([A.sub(sa, sb)])[0])
    except MatcalcError:
        return False


class Sampler:
    """Draws valid points for one question: ``wrt`` is the variable differentiated by (a scalar
    input other than it may be a count), ``seed`` fixes every draw."""

    def __init__(self, wrt: str, seed: int):
        self.wrt, self.seed = wrt, seed
        self.leaves: list[Node] = []
        self._walked: tuple = ((), [], [])    # (roots, their topological order, their kinks)

    def walk(self, roots: list[Node]) -> tuple[list[Node], list]:
        """(topological order, kinks) of ``roots``, walked once for all the points drawn for them."""
        kept, order, kink_list = self._walked
        if len(kept) != len(roots) or not all(a is b for a, b in zip(kept, roots)):
            order = topo_order(roots)
            kink_list = kinks(order, walked=True)
            self._walked = (tuple(roots), order, kink_list)
        return order, kink_list

    def compare(self, exp: Node | None, expected_fn, ans: Node, typed, wrt_node: Node,
                out: Node, transposed: bool = False, until_mismatch: bool = False) -> Comparison:
        """Evaluate the expected ``exp`` (or ``expected_fn`` where there is no node) and the
        answer ``ans`` at the planned points; ``transposed`` compares the answer with the
        expected's transpose (an answer in the other layout).  Every planned point is evaluated
        (the diagnoses read them all), but the tolerance only until the first that differs: it
        decides nothing after that.  ``until_mismatch`` stops there, for a caller that asks only
        whether the answer is equal (a repair, the other layout, a regrade under an assumption)."""
        variables = dict(typed.variables)
        variables.setdefault(self.wrt, wrt_node)
        e_terms = list(exp.args) if exp is not None and is_sum(exp) and not transposed else []
        a_terms = list(ans.args) if is_sum(ans) and not transposed else []
        valid_roots = [out] + ([exp] if exp is not None else [])
        roots = valid_roots + [ans] + e_terms + a_terms
        rng = np.random.default_rng(self.seed)
        rounding_rng = np.random.default_rng([self.seed, 1])
        pts: list[Point] = []
        mismatch = None
        plan = [1.0] * (POINTS + 2) + list(MAGNITUDES)
        for magnitude in plan:
            if magnitude == 1.0 and len(pts) >= POINTS:
                continue
            sizes = dimension_sizes(list(variables.values()), rng)
            got = self.sample(roots, valid_roots, variables, rng, sizes, magnitude=magnitude)
            if got is None:
                continue
            env, functions, vals = got
            e, a = vals[len(valid_roots) - 1] if exp is not None else expected_fn(env, functions), \
                vals[len(valid_roots)]
            e = np.asarray(e, dtype=float)
            if transposed:
                e = e.T
            a = np.broadcast_to(np.asarray(a, dtype=float), e.shape) if np.size(a) in (1, e.size) \
                and np.shape(a) != e.shape else np.asarray(a, dtype=float)
            k = len(valid_roots) + 1
            et = [np.broadcast_to(v, e.shape) for v in vals[k:k + len(e_terms)]]
            at = [np.broadcast_to(v, e.shape) for v in vals[k + len(e_terms):]]
            if magnitude != 1.0 and (not np.all(np.isfinite(a)) or not in_range(e) or not in_range(a)):
                continue                  # far out, an equal answer may overflow or underflow: inconclusive
            pts.append(Point(env, functions, e, a, et, at, magnitude))
            if mismatch is None and not equal_within(a, e, self.rounding(exp, ans, env, functions, e, a,
                                                                         transposed, rounding_rng)):
                mismatch = len(pts) - 1
                if until_mismatch:
                    break
        if not pts:
            raise UnsupportedError("could not find a point inside the domain to compare the answers "
                                   "numerically")
        return Comparison(pts, mismatch, e_terms, a_terms, roots, valid_roots, variables, rng, self)

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
                except NUMERIC_ERRORS:
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
        order, kink_list = self.walk(roots)
        size_of = {str(k): int(v) for k, v in sizes.items()}
        leaves = self.leaves = list(variables.values())     # they fix every symbolic size
        if not sizes_ok(order, sizes):
            raise UnsupportedError("the answer builds arrays too large to check")
        for attempt in range(30):
            strategy = STRATEGIES[min(attempt // 10, len(STRATEGIES) - 1)]
            env = self._draw_inputs(variables, rng, sizes, size_of, strategy, round_to, magnitude,
                                    labels_onehot)
            functions = random_functions(order, rng)
            cache: dict = {}
            try:
                with np.errstate(all="ignore"):
                    valid = evaluate(valid_roots, env, functions, cache, leaves)
                    if not all(np.all(np.isfinite(v)) for v in valid):
                        continue
                    if kink_list and not away_from_kinks(
                            lambda n, env=env, fns=functions, cache=cache: safe_eval(n, env, fns, cache,
                                                                                    leaves),
                            kink_list):
                        continue
                    vals = [safe_eval(r, env, functions, cache, leaves) for r in roots]
            except NUMERIC_ERRORS:
                continue
            return env, functions, vals
        return None

    def _draw_inputs(self, variables, rng, sizes, size_of, strategy, round_to, magnitude, labels_onehot) -> dict:
        env = {}
        for name, v in variables.items():
            shape = concrete_shape(v, sizes)
            if v.is_scalar and name != self.wrt and name in size_of:    # the scalar N of X: N×d is N
                env[name] = np.full((1, 1), float(size_of[name]))
                continue
            if v.is_scalar and name != self.wrt and SIZE_NAME.fullmatch(name):
                env[name] = np.full((1, 1), float(rng.integers(2, 9)))    # a count, as in a counterexample
                continue
            val = draw(rng, shape, v.attrs[2], strategy)
            if labels_onehot and v.attrs[2] is None and v.attrs[1] in (1, 2) and name in LABEL_NAMES:
                val = draw(rng, shape, "onehot" if v.attrs[1] == 1 else "onehot_rows", strategy)
            if magnitude != 1.0 and v.attrs[2] in (None, "positive", "symmetric", "spd", "diagonal"):
                val = val * magnitude
            if round_to is not None and v.attrs[2] != "probability":
                val = np.round(val, round_to)
            env[name] = val
        return env


def plausible_under(cmp: Comparison, exp: Node | None, ans: Node, name: str, kind: str, seed: int) -> bool:
    """Whether ``ans`` may equal ``exp`` once ``name`` has the property ``kind`` (one-hot,
    probability): both evaluated at the compared ordinary points with ``name`` redrawn that way.
    False only when they clearly differ at such a point, so it can only spare a full regrade
    (which alone decides) of an assumption that cannot make the answer right: the assumption
    narrows the inputs, it does not change the function or its derivative there."""
    if exp is None or name not in cmp.variables:
        return True
    rng = np.random.default_rng([seed, 2])
    leaves = list(cmp.variables.values())
    for p in [p for p in cmp.points if p.magnitude == 1.0][:PLAUSIBLE_POINTS]:
        if name not in p.env:
            return True
        env = dict(p.env)
        env[name] = draw(rng, np.shape(p.env[name]), kind, STRATEGIES[0])
        cache: dict = {}
        e = np.asarray(safe_eval(exp, env, p.functions, cache, leaves), dtype=float)
        a = np.asarray(safe_eval(ans, env, p.functions, cache, leaves), dtype=float)
        if np.size(a) == 1 and np.size(e) != 1:
            a = np.broadcast_to(a, e.shape)
        if a.size != e.size or not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
            return True            # undefined there, or not comparable: the regrade decides
        a = a.reshape(e.shape)
        scale = max(float(np.max(np.abs(e), initial=0.0)), float(np.max(np.abs(a), initial=0.0)))
        tol = max(PLAUSIBLE_RTOL * scale, PLAUSIBLE_ROUNDINGS * cmp.sampler.rounding(exp, ans, env, p.functions,
                                                                                     e, a, False, rng))
        if not equal_within(a, e, tol):
            return False
    return True


def in_range(v) -> bool:
    """Whether the nonzero entries of ``v`` lie where float64 keeps digits (no underflow, no overflow
    nearby): values of 1e-150 and smaller, or 1e150 and larger, come from exp far out."""
    v = np.abs(np.asarray(v, dtype=float))
    v = v[v > 0]
    return not v.size or bool(np.all((v > 1e-150) & (v < 1e150)))


def equal_within(a, b, tol: float) -> bool:
    """Whether the answer ``a`` equals the expected ``b`` within the absolute ``tol``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        if a.size != b.size:
            return False
        a = a.reshape(b.shape)
    if not np.all(np.isfinite(a)):
        return False
    return float(np.max(np.abs(a - b), initial=0.0)) <= tol


def safe_eval(node, env, functions, cache, leaves=()):
    """A node's value, or NaN where it is undefined at the point (singular, overflowing)."""
    try:
        with np.errstate(all="ignore"):
            return evaluate([node], env, functions, cache, leaves)[0]
    except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError, FloatingPointError):
        return np.full((1, 1), np.nan)


def sizes_ok(order: list[Node], sizes) -> bool:
    """Whether every intermediate array (``order``: every node) stays within ``MAX_ENTRIES`` at
    the drawn sizes."""
    seen: dict = {}
    for n in order:
        if n.shape in seen:
            continue
        r, c = (dim(d).evaluate(sizes) for d in n.shape)
        if r is None or c is None:
            return False
        seen[n.shape] = r * c
        if r * c > MAX_ENTRIES:
            return False
    return True


def random_functions(order: list[Node], rng) -> dict:
    """A random smooth f = a·sin(b·z + c) + d·z and its derivatives for each generic function
    (``order``: every node, in topological order)."""
    out = {}
    for n in order:
        if generic_function(n) is not None and n.attrs[0] not in out:
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
