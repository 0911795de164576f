"""A reduction along the wrong axis: found by rebuilding the answer, said only once verified.

The candidates, each the answer rebuilt and graded again over every planned point before it is
said (``repair``'s last finder for an answer of the right shape, ``axis_repair`` for one of the
wrong shape):

- one ``softmax``/``log_softmax``/``logsumexp``/``sum`` of the answer along the other axis;
- a ``mean`` along the other axis: a mean is a sum over the count of what it sums, so its count
  flips with it (``mean(G, 1)`` divides by G's n rows, ``mean(G, 2)`` by its m columns);
- either of these transposed, when the flip gives the transpose of the right shape: a transpose
  the answer added only to make the wrong reduction fit goes (``mean(G, 1)'`` where
  ``mean(G, 2)`` is right); with square shapes both axes give the same shape and this is how
  the flip fits;
- a mean written out with the count of the other axis (``2*X/size(X, 1)`` where ``2*X/m`` is
  right): the size of one axis of an input replaced by the size of its other axis.

Bounded by counts: ``MAX_REDUCTIONS`` reductions tried, ``MAX_VERIFIED`` full comparisons.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.dims import Dim
from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node, depends_on, topo_order
from matcalc.core.leaves import size_leaf
from matcalc.core.rebuild import rebuild
from matcalc.core.rules import RULES
from matcalc.grading.decide import safe_eval
from matcalc.grading.diagnose import Repair, close, node_text

MAX_REDUCTIONS = 12          # reductions of one answer tried along the other axis
MAX_VERIFIED = 6             # candidates of a wrong-shape answer graded over every point


@dataclass(frozen=True)
class Flip:
    """One candidate: the answer with ``node`` (a reduction; None for a count alone) along the
    other axis as ``new``, the count ``swap`` (used, right) replaced,
    ``transposed`` to fit."""

    fixed: Node
    node: Node | None
    new: tuple[Node, Node] | None        # (the reduction along the other axis, its argument)
    swap: tuple[Node, Node] | None
    transposed: bool


def wrong_axis(cmp, pts, expected, ans, scalars, accept) -> Repair | None:
    """``repair``'s finder: a flip equal to the expected result at the first point, then at all."""
    p = pts[0]
    wrt = cmp.sampler.wrt
    arrays = {wrt: cmp.variables[wrt], **cmp.variables} if wrt in cmp.variables else cmp.variables
    for flip in candidates(ans, ans.shape, arrays):
        try:
            val = safe_eval(flip.fixed, p.env, p.functions, {}, list(cmp.variables.values()))
        except MatcalcError:
            continue
        if np.size(val) not in (1, np.size(p.expected)) or not close(np.broadcast_to(val, p.expected.shape),
                                                                     p.expected):
            continue
        if accept(flip.fixed):
            return axis_words(ans, flip, arrays)
    return None


def axis_repair(ans: Node, shape, arrays: dict[str, Node], verify: Callable[[Node], bool]) -> Repair | None:
    """For an answer of the wrong shape: a flip that gives the right ``shape`` and the right
    values (``sum(G, 1)`` where ``sum(G, 2)`` is right, ``mean(G, 1)'`` where ``mean(G, 2)`` is)."""
    for k, flip in enumerate(candidates(ans, shape, arrays)):
        if k >= MAX_VERIFIED:
            break
        try:
            if verify(flip.fixed):
                return axis_words(ans, flip, arrays)
        except MatcalcError:
            continue
    return None


# ---------------------------------------------------------------------- candidates
def candidates(ans: Node, shape, arrays: dict[str, Node]) -> Iterator[Flip]:
    """Every flip of ``ans`` of that ``shape``: reductions first (a mean's count flipped with it
    before the sum alone), then counts alone."""
    want = tuple(shape)
    reductions = [n for n in topo_order([ans]) if RULES[n.op].axis and n.attrs and n.attrs[0] in (1, 2)]
    for node in reductions[:MAX_REDUCTIONS]:
        swaps: list[tuple[Node, Node] | None] = [None]
        if node.op == "sum":
            inner = node.args[0]
            used, right = (inner.rows, inner.cols) if node.attrs[0] == 1 else (inner.cols, inner.rows)
            if _countable(used) and _countable(right) and used != right and depends_on(ans, size_leaf(used)):
                swaps.insert(0, (size_leaf(used), size_leaf(right)))
        for swap in swaps:
            got = _rebuilt(ans, node, swap)
            if got is not None:
                yield from _fitted(got[0], node, got[1], swap, want)
    for swap in _count_swaps(ans, arrays):
        got = _rebuilt(ans, None, swap)
        if got is not None:
            yield from _fitted(got[0], None, None, swap, want)


def _fitted(fixed: Node, node, new, swap, want) -> Iterator[Flip]:
    """The rebuilt answer as it is, or transposed, where that has the wanted shape."""
    if tuple(fixed.shape) == want:
        yield Flip(fixed, node, new, swap, False)
    elif (fixed.shape[1], fixed.shape[0]) == want:
        try:
            yield Flip(A.transpose(fixed), node, new, swap, True)
        except MatcalcError:
            return


def _rebuilt(ans: Node, node: Node | None, swap: tuple[Node, Node] | None) -> tuple[Node, tuple[Node, Node] | None] | None:
    """``ans`` with ``node`` along the other axis and the count ``swap[0]`` replaced by
    ``swap[1]``: (the new answer, (the new reduction, its argument)), or None when that does not
    build."""
    made: dict = {}
    replaced = dict([swap]) if swap is not None else {}

    def step(n: Node, args: list[Node]) -> Node:
        args = [replaced.get(a, a) for a in args]
        if n is node:                 # the table's own constructor, read with the other axis
            other = SimpleNamespace(op=n.op, args=tuple(args), shape=n.shape, attrs=(3 - n.attrs[0],) + n.attrs[1:])
            made["new"] = (RULES[n.op].rebuild(other, args), args[0])
            return made["new"][0]
        return RULES[n.op].rebuild(n, args)
    try:
        (fixed,) = rebuild([ans], step)
    except MatcalcError:
        return None
    if fixed is ans:
        return None
    return fixed, made.get("new")


def _count_swaps(ans: Node, arrays: dict[str, Node]) -> list[tuple[Node, Node]]:
    """(size of one axis, size of the other) of each input array whose axes differ, where the
    answer uses the first: the count of a mean written out."""
    out: list[tuple[Node, Node]] = []
    for v in arrays.values():
        r, c = v.shape
        if not (_countable(r) and _countable(c)) or r == c or 1 in (r, c):
            continue
        for used, right in ((r, c), (c, r)):
            pair = (size_leaf(used), size_leaf(right))
            if pair not in out and depends_on(ans, pair[0]):
                out.append(pair)
    return out[:MAX_REDUCTIONS]


def _countable(d: Dim) -> bool:
    """One size leaf stands for it: a named size or a known count above one."""
    return bool(d.is_Symbol or (d.is_Integer and int(d) > 1))


# ---------------------------------------------------------------------- words
def axis_words(ans: Node, flip: Flip, arrays: dict[str, Node]) -> Repair:
    """The verified flip said in one sentence naming the wrong and the right reduction."""
    corrected = node_text(flip.fixed)
    if flip.node is None:
        assert flip.swap is not None
        used, right = flip.swap
        verb = "divides by" if _divides(ans, used) else "uses"
        (k, name) = _axis_of(used, right, arrays)
        return Repair("axis", f"Your answer {verb} {used.attrs[1]} (size({name}, {k})) where "
                      f"{right.attrs[1]} (size({name}, {3 - k})) is right: it averages over the wrong axis; "
                      f"the right answer is {corrected}.", corrected)
    node = flip.node
    assert flip.new is not None
    new, inner = flip.new
    axis = node.attrs[0]
    if node.op == "sum" and (flip.swap is not None or _is_mean_count(ans, node)):
        op, wrong, right_text = "mean", node_text(A.mean(node.args[0], axis)), node_text(A.mean(inner, 3 - axis))
    else:
        op, wrong, right_text = node.op, _quoted(node), _quoted(new)
    along = "each row" if axis == 1 else "each column"
    tail = ""
    if flip.transposed:
        dropped = any(n.op == "transpose" and depends_on(n, node) for n in topo_order([ans]))
        tail = (", without the transpose that only made the wrong one fit" if dropped else
                ", transposed")
    return Repair("axis", f"Your answer takes {op} along the wrong axis: {wrong} should be "
                  f"{right_text} (along {along}){tail}; the right answer is {corrected}.", corrected)


SOFTMAX_FAMILY = ("softmax", "log_softmax", "logsumexp")


def _quoted(node: Node) -> str:
    """A reduction as the student writes it, with its axis: the printer leaves out a softmax's
    default axis (``softmax(X*W)`` for ``softmax(X*W, 1)``), which misquotes an answer that
    wrote the ``1``."""
    text = node_text(node)
    inner = node_text(node.args[0])
    if node.op in SOFTMAX_FAMILY and text == f"{node.op}({inner})" and ";" not in inner:
        return f"{node.op}({inner}, {node.attrs[0]})"
    return text


def _is_mean_count(ans: Node, node: Node) -> bool:
    """Whether the answer divides by the count ``node`` (a sum) sums: a mean (square shapes,
    where the count does not change with the axis)."""
    inner = node.args[0]
    count = inner.rows if node.attrs[0] == 1 else inner.cols
    return _countable(count) and _divides(ans, size_leaf(count))


def _divides(ans: Node, leaf: Node) -> bool:
    return any(n.op == "pow" and n.args[0] is leaf and n.attrs[0] < 0 for n in topo_order([ans]))


def _axis_of(used: Node, right: Node, arrays: dict[str, Node]) -> tuple[int, str]:
    """(k, X) with the count ``used`` X's axis k and ``right`` its other axis (``_count_swaps``
    found such an X)."""
    for name, v in arrays.items():
        for k in (1, 2):
            if v.shape[k - 1] == used.attrs[0] and v.shape[2 - k] == right.attrs[0]:
                return k, name
    raise MatcalcError("no input has these two axes")       # not reached: the swap came from one
