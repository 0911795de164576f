"""Bottom-up walks: the one memoised rebuild (every node of a DAG rewritten once, children
first) and a children-first order over the part of a DAG a caller chooses to enter.

``rebuild(roots, step)`` visits the nodes under ``roots`` in topological order and replaces each
by ``step(node, args)``, ``args`` being its arguments already rebuilt; leaves stay as they are.
The memo is keyed by node, so a subexpression shared in the input is rebuilt once and stays
shared in the output.  The simplifier (``simplify_all`` and the elementwise pass), the planner
of generated code (``plan``) and the Hessian rewriter (``Rewriter``) are each one ``step``.
``postorder(root, children)`` lists the nodes reachable through ``children`` (a region of the
graph, say), each once and after its children, without recursion.
"""
from __future__ import annotations

from collections.abc import Callable

from matcalc.core.graph import Node, topo_order

Rewrite = Callable[[Node, list[Node]], Node]   # (node, its rebuilt arguments) -> its replacement


def rebuild(roots: list[Node], step: Rewrite, memo: dict[int, Node] | None = None,
            order: list[Node] | None = None) -> list[Node]:
    """``roots`` rebuilt by ``step``; ``memo`` (id of a node → its rebuilt node) may be carried
    from call to call, ``order`` is ``topo_order(roots)`` when the caller has it."""
    new: dict[int, Node] = {} if memo is None else memo
    for node in topo_order(roots) if order is None else order:
        if id(node) in new:
            continue
        new[id(node)] = step(node, [new[id(a)] for a in node.args]) if node.args else node
    return [new[id(r)] for r in roots]


def postorder(root: Node, children: Callable[[Node], tuple]) -> list[Node]:
    """The nodes reachable from ``root`` through ``children``, each after its children (depth
    first, left to right, each node once)."""
    seen = {id(root)}
    order: list[Node] = []
    stack = [(root, iter(children(root)))]
    while stack:
        node, pending = stack[-1]
        for child in pending:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((child, iter(children(child))))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def memo_fold(root: Node, key: object, value: Callable[[Node, list], object]):
    """``value(node, its arguments' values)`` for ``root``, stored on every node it needs under
    ``node.memo[key]``; the walk enters only nodes not answered yet, so asking again, or asking
    a node above answered ones, costs only the new nodes (no recursion)."""
    if key in root.memo:
        return root.memo[key]
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, i = stack.pop()
        args = node.args
        while i < len(args) and key in args[i].memo:
            i += 1
        if i < len(args):
            stack.append((node, i + 1))
            stack.append((args[i], 0))
            continue
        if key not in node.memo:
            node.memo[key] = value(node, [a.memo[key] for a in args])
    return root.memo[key]
