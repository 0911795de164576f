"""Random numeric points inside a function's domain, for every numeric check matcalc makes.

Dimensions that are symbolic get small distinct sizes; each variable is drawn to respect its
assumption (LANGUAGE.md); a point is kept only if the output and the derivatives are finite
there and every kink the rule table names (relu, abs, max, hardtanh, ...) is comfortably far away.
When plain normal draws fail, small entries, positive entries and then SPD matrices are tried,
which covers ``asin``, ``log``, ``sqrt`` and ``logdet`` without the user having to say so.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from matcalc.core.graph import Node, topo_order
from matcalc.core.rules import RULES, Kinks

SMALL_SIZES = (3, 2, 4, 5, 3, 2, 4, 5)
STRATEGIES = ("normal", "small", "positive", "spd")   # small: inside (-1, 1) for asin, acos


def draw(rng: np.random.Generator, shape: tuple[int, int], assumption: str | None, strategy: str) -> np.ndarray:
    """One internal (2-D) value for a variable of ``shape``."""
    r, c = shape
    if assumption == "index":               # an index name, counted from 0: 0 or 1 fits every size
        return np.full((1, 1), float(rng.integers(2)))
    if assumption in ("spd", "symmetric", "invertible", "diagonal") or (strategy == "spd" and r == c and r > 1):
        a = rng.standard_normal((r, r))
        kind = assumption or "spd"
        if kind == "spd":
            return a @ a.T / r + np.eye(r)
        if kind == "invertible":
            return a + r * np.eye(r)
        if kind == "diagonal":
            d = rng.standard_normal(r)
            return np.diag(d + np.sign(d))
        return (a + a.T) / 2
    if assumption == "onehot":
        out = np.zeros((r, c))
        out[rng.integers(r, size=c), np.arange(c)] = 1.0
        return out
    if assumption == "onehot_rows":
        out = np.zeros((r, c))
        out[np.arange(r), rng.integers(c, size=r)] = 1.0
        return out
    if assumption == "probability":
        p = np.abs(rng.standard_normal((r, c))) + 0.1
        return p / p.sum(axis=0, keepdims=True)
    if assumption == "positive" or strategy in ("positive", "spd"):
        return np.abs(rng.standard_normal((r, c))) + 0.5
    if strategy == "small":
        return 0.3 * rng.standard_normal((r, c))
    return rng.standard_normal((r, c))


def dimension_sizes(leaves: Iterable[Node], rng: np.random.Generator | None = None) -> dict:
    """Small concrete sizes for every symbolic dimension of ``leaves``."""
    sizes: dict = {}
    i = int(rng.integers(len(SMALL_SIZES))) if rng is not None else 0
    for leaf in leaves:
        for d in leaf.shape:
            for s in d.free_symbols:
                if s not in sizes:
                    sizes[s] = SMALL_SIZES[i % len(SMALL_SIZES)]
                    i += 1
    return sizes


def concrete_shape(node: Node, sizes: dict) -> tuple[int, int]:
    """``node``'s shape at the named sizes ``sizes``: looked up, substituted only when compound."""
    return tuple(_size(d, sizes) for d in node.shape)


def _size(d, sizes: dict) -> int:
    if d.is_Integer:
        return int(d)
    size = sizes.get(d)
    return size if size is not None else int(d.subs(sizes))


def kinks(nodes: list[Node], walked: bool = False) -> list[tuple[Node, Node | None, Kinks]]:
    """(a, b, kinks): the derivative needs ``a - b`` (or ``a``) away from the rule table's kink
    points of each node (relu, abs, max, ... at 0; hardtanh at ±1) reachable from the roots
    ``nodes`` (``walked``: ``nodes`` is already every node, in topological order)."""
    out = []
    for n in nodes if walked else topo_order(nodes):
        rule = RULES[n.op].kinks
        if rule is not None:
            out.extend(rule(n))
    return out


def away_from_kinks(value: Callable[[Node], np.ndarray], kink_list, margin: float | None = None) -> bool:
    """Whether every kink argument is at least its margin (``margin`` if given) from its kink
    points (each point repeated every period, for a periodic one)."""
    for a, b, k in kink_list:
        gap = np.asarray(value(a), dtype=float)
        if b is not None:
            gap = gap - np.asarray(value(b), dtype=float)
        if not gap.size:
            continue
        room = k.margin if margin is None else margin
        for p in k.points:
            d = np.abs(gap - p) if k.period is None else _periodic_distance(gap - p, k.period)
            if np.min(d) < room:
                return False
    return True


def _periodic_distance(x: np.ndarray, period: float) -> np.ndarray:
    r = np.mod(x, period)
    return np.minimum(r, period - r)


# ---------------------------------------------------------------------- sizes for a check
LARGEST_CHECKED = 6           # a declared concrete size above this is replaced for the check
MAX_CHECK_ENTRIES = 40_000    # never allocate more entries than this for one value in a check


def small_shapes(shapes: dict | None) -> tuple[dict | None, dict[int, int]]:
    """``shapes`` with every declared concrete size above LARGEST_CHECKED replaced by a small one
    (equal sizes stay equal, different ones stay different, none collides with a size that is
    kept), and the replacement map {declared: small}.  Symbolic sizes are left to
    ``dimension_sizes``.  Verification then runs at sizes it can afford, whatever was declared."""
    if not shapes:
        return shapes, {}
    sizes = set()
    for shp in shapes.values():
        for d in (shp if isinstance(shp, (tuple, list)) else (shp,)):
            if isinstance(d, int) and not isinstance(d, bool):
                sizes.add(d)
    large = sorted(d for d in sizes if d > LARGEST_CHECKED)
    if not large:
        return shapes, {}
    kept = sizes - set(large)
    pool = [k for k in (3, 4, 5, 2, *range(6, 64)) if k not in kept]
    mapping = dict(zip(large, pool))

    def small(shp):
        if isinstance(shp, (tuple, list)):
            return tuple(mapping.get(d, d) if isinstance(d, int) else d for d in shp)
        return mapping.get(shp, shp) if isinstance(shp, int) else shp
    return {n: small(s) for n, s in shapes.items()}, mapping


def largest_entries(nodes: Iterable[Node]) -> int:
    """The most entries any of ``nodes`` has at its concrete sizes (symbolic sizes count small)."""
    nodes = list(nodes)
    sizes = dimension_sizes(nodes)                    # every size any node has, inputs first
    return max((int(np.prod(concrete_shape(v, sizes), dtype=object)) for v in nodes), default=0)
