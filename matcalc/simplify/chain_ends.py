"""The ends of a product chain, memoised on the nodes, so a sum of long chains is factored in
time proportional to what is factored, not to the chains' lengths.

A deep network's Hessian is a sum of two chains ``P a Q + P b Q`` at every layer, ``P`` and
``Q`` as long as the layer is deep; the simplifier pulls their shared factors out one at a time
(``rewrite._factor``).  Flattening both chains at every step (``linear.factors``) made that
cubic in depth; each question here is answered once per node:

- ``first_factor`` / ``last_factor``: ``factors(node)[0]`` and ``factors(node)[-1]``;
- ``drop_first``: ``fold(factors(node)[1:])``, built from the answer for the left argument
  (``drop_first(p q) = drop_first(p) q`` for a chain folded from the left, which is how
  every chain the simplifier rebuilds is folded; any other chain is flattened and refolded).

Each answer is exactly what the flattening gave: the same constructor calls in the same order.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.graph import Node
from matcalc.core.linear import factors, fold

_FIRST, _LAST, _DROP_FIRST = "first factor", "last factor", "drop first"


def first_factor(node: Node) -> Node:
    """The leftmost factor of a product chain (``node`` itself if it is no product)."""
    return _end(node, 0, _FIRST)


def last_factor(node: Node) -> Node:
    """The rightmost factor of a product chain (``node`` itself if it is no product)."""
    return _end(node, 1, _LAST)


def _end(node: Node, side: int, key: str) -> Node:
    path, n = [], node
    while n.op == "matmul" and key not in n.memo:
        path.append(n)
        n = n.args[side]
    end = n.memo[key] if n.op == "matmul" else n
    for p in path:
        p.memo[key] = end
    return end


def drop_first(node: Node) -> Node:
    """``fold(factors(node)[1:])`` for a product ``node``."""
    spine, n = [], node
    while _DROP_FIRST not in n.memo and n.args[0].op == "matmul" and n.args[1].op != "matmul":
        spine.append(n)
        n = n.args[0]
    if _DROP_FIRST not in n.memo:
        n.memo[_DROP_FIRST] = fold(factors(n)[1:])
    below = n.memo[_DROP_FIRST]
    for p in reversed(spine):
        below = p.memo[_DROP_FIRST] = A.matmul(below, p.args[1])
    return below
