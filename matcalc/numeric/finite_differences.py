"""Central finite differences against derived results: matcalc never prints an unchecked answer.

``check(derivation)`` draws random points inside the function's domain (``sampling``), and for
each variable compares the derived derivative applied to random directions with the central
difference of the function along them (the projection test of autograd's ``check_grads``).
A point where the output, a derivative or a kink argument misbehaves is rejected and redrawn;
if no valid point is found the check says it was skipped rather than pretending to pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node, topo_order
from matcalc.core.kinds import generic_function
from matcalc.core.rules import RULES
from matcalc.language.parser import parse
from matcalc.language.shapes import build, names_in
from matcalc.numeric.evaluate import evaluate
from matcalc.numeric.sampling import STRATEGIES, away_from_kinks, concrete_shape, dimension_sizes, draw, kinks

GENERIC_STANDIN = (np.sin, np.cos, lambda z: -np.sin(z), lambda z: -np.cos(z), np.sin)
RTOL = 1e-5


@dataclass
class CheckReport:
    """The outcome of a numeric cross-check: ``status`` is ok, mismatch or skipped."""

    status: str
    errors: dict[str, float] = field(default_factory=dict)   # variable -> max relative error
    detail: str = ""
    point: dict | None = None
    unverified: list[str] = field(default_factory=list)      # what had no form to verify, and why

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def generic_functions(roots: list[Node], given: dict | None) -> dict:
    """Concrete stand-ins (sin, cos, ...) for generic functions the caller did not instantiate."""
    out = dict(given or {})
    for n in topo_order(roots):
        if generic_function(n) is not None and n.attrs[0] not in out:
            out[n.attrs[0]] = GENERIC_STANDIN
    return out


MAX_CONDITION = 1e8   # an argument of inv/det/logdet worse conditioned than this is "singular here"


def well_conditioned(roots: list[Node], value) -> bool:
    """Whether every argument of a primitive whose domain is the invertible matrices (the rule
    table's ``domain``) is well conditioned at this point: at a numerically singular ``XᵀX``
    (X wider than tall) ``logdet`` is rounding noise, and a check there compares noise.  The base
    of a power whose domain is ``positive`` (any exponent, a.^p) must be positive here."""
    for node in topo_order(roots):
        if RULES[node.op].domain == "invertible":
            a = np.asarray(value(node.args[0]), dtype=float)
            if a.size > 1 and not np.linalg.cond(a) < MAX_CONDITION:
                return False
        if RULES[node.op].domain == "positive" and not np.all(np.asarray(value(node.args[0])) > 0):
            return False                # the base of a power with any exponent: drawn positive
    return True


def sample_point(roots: list[Node], variables: dict[str, Node], rng: np.random.Generator,
                 functions: dict, tries: int = 40):
    """A valid internal environment for ``roots``, or None."""
    kink_list = kinks(roots)
    leaves = list(variables.values())
    for attempt in range(tries):
        strategy = STRATEGIES[min(attempt * len(STRATEGIES) // tries, len(STRATEGIES) - 1)]
        sizes = dimension_sizes(leaves, rng)
        env = {name: draw(rng, concrete_shape(v, sizes), v.attrs[2], strategy) for name, v in variables.items()}
        cache: dict = {}
        try:
            with np.errstate(all="ignore"):
                values = evaluate(roots, env, functions, cache, leaves=leaves)
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError):
            continue
        if not all(np.all(np.isfinite(v)) for v in values):
            continue
        def value(n, env=env, cache=cache):
            return evaluate([n], env, functions, cache, leaves)[0]
        if kink_list and not away_from_kinks(value, kink_list):
            continue
        if not well_conditioned(roots, value):
            continue
        return env
    return None


def directional_check(f, derivative_along, env: dict, names: list[str], rng, directions: int = 4,
                      h: float = 1e-6) -> dict[str, float]:
    """max relative error of derivative_along(name, V) against central differences of f, per name."""
    return compare_directional(f, {n: (n, lambda V, n=n: derivative_along(n, V)) for n in names},
                               env, rng, directions, h)


def compare_directional(f, candidates: dict, env: dict, rng, directions: int = 4,
                        h: float = 1e-6) -> dict[str, float]:
    """max relative error per label of ``candidates`` (label -> (variable, along(V))) against
    central differences of f along random V; candidates for one variable (the graph and its
    printed text) share the directions and the differences."""
    errors = {}
    base_scale = max(1.0, float(np.max(np.abs(f(env)))))
    by_name: dict[str, list] = {}
    for label, (name, along) in candidates.items():
        by_name.setdefault(name, []).append((label, along))
        errors[label] = 0.0
    for name, group in by_name.items():
        for _ in range(directions):
            V = rng.standard_normal(env[name].shape)
            plus = dict(env)
            minus = dict(env)
            plus[name] = env[name] + h * V
            minus[name] = env[name] - h * V
            fd = (np.asarray(f(plus)) - np.asarray(f(minus))) / (2 * h)
            scale = max(base_scale, float(np.max(np.abs(fd), initial=0.0)), 1e-8)
            for label, along in group:
                got = np.asarray(along(V), dtype=float)
                err = float(np.max(np.abs(got.reshape(fd.shape) - fd), initial=0.0)) / scale
                errors[label] = max(errors[label], err if np.isfinite(err) else np.inf)
    return errors


def check_at_points(roots: list[Node], variables: dict[str, Node], rng, functions: dict, points: int,
                    errors_at, what: str, tol: float = 1e-5) -> CheckReport:
    """Draw ``points`` points inside the domain of ``roots``, collect ``errors_at(env)`` (name →
    relative error) at each, and report the worst per name; ``what`` opens the mismatch message."""
    errors: dict[str, float] = {}
    checked = 0
    for _ in range(points):
        env = sample_point(roots, variables, rng, functions)
        if env is None:
            continue
        checked += 1
        for n, e in errors_at(env).items():
            errors[n] = max(errors.get(n, 0.0), e)
    if not checked:
        return CheckReport("skipped", detail="no valid random point was found inside the domain")
    bad = {n: e for n, e in errors.items() if not e <= tol}
    if bad:
        return CheckReport("mismatch", errors, f"{what} for "
                           + ", ".join(f"{n} (relative error {e:.2e})" for n, e in bad.items()))
    return CheckReport("ok", errors)


# ---------------------------------------------------------------------- the printed text
def _dim_arg(d):
    """A declared dimension for ``shapes.build``: an int or a dimension's name."""
    return int(d) if d.is_Integer else str(d)


def parse_printed(text: str, variables: dict[str, Node]):
    """``text`` (a printed ``.text()``) parsed back by matcalc's own parser and typed with the
    program's variable shapes and assumptions; a program ``t1 = ...; ...`` defines its own names.

    The variable nodes are hash-consed, so the parsed graph's leaves are the program's own."""
    program = parse(text, max_length=None)       # our own text: only the nesting limit applies
    mentioned = set()
    for st in program.statements:
        mentioned.update(names_in(st.value))
    shapes, assume = {}, {}
    for name, v in variables.items():
        nd = v.attrs[1]
        r, c = v.shape
        shapes[name] = () if nd == 0 else (_dim_arg(r),) if nd == 1 else (_dim_arg(r), _dim_arg(c))
        if v.attrs[2] == "index":
            shapes[name] = "index"
        elif v.attrs[2] and name in mentioned:
            assume[name] = v.attrs[2]
    return build(program, shapes, assume or None)


def printed_nodes(text: str, variables: dict[str, Node], labels: dict[str, str]) -> dict[str, Node]:
    """The node of each result in a printed program: ``labels`` maps a result key to the name
    the text defines it under (``df_dx``); a single result is the program's output."""
    typed = parse_printed(text, variables)
    if len(labels) == 1:
        return {k: typed.output for k in labels}
    missing = [lab for lab in labels.values() if lab not in typed.intermediates]
    if missing:
        raise MatcalcError(f"the printed text does not define {', '.join(missing)}")
    return {k: typed.intermediates[lab] for k, lab in labels.items()}
