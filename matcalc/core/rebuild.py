"""The one memoised bottom-up rebuild: every node of a DAG rewritten once, children first.

``rebuild(roots, step)`` visits the nodes under ``roots`` in topological order and replaces each
by ``step(node, args)``, ``args`` being its arguments already rebuilt; leaves stay as they are.
The memo is keyed by node, so a subexpression shared in the input is rebuilt once and stays
shared in the output.  The simplifier (``simplify_all`` and the elementwise pass), the planner
of generated code (``plan``) and the Hessian rewriter (``Rewriter``) are each one ``step``.
"""
from __future__ import annotations

from collections.abc import Callable

from matcalc.core.graph import Node, topo_order

Step = Callable[[Node, list[Node]], Node]


def rebuild(roots: list[Node], step: Step, memo: dict[int, Node] | None = None,
            order: list[Node] | None = None) -> list[Node]:
    """``roots`` rebuilt by ``step``; ``memo`` (id of a node → its rebuilt node) may be carried
    from call to call, ``order`` is ``topo_order(roots)`` when the caller has it."""
    new: dict[int, Node] = {} if memo is None else memo
    for node in topo_order(roots) if order is None else order:
        if id(node) in new:
            continue
        new[id(node)] = step(node, [new[id(a)] for a in node.args]) if node.args else node
    return [new[id(r)] for r in roots]
