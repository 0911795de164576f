"""Printed programs: the shared subexpressions worth a name (``t1``, ``t2``, … from ``core.naming``)
and the definitions a printed result needs, each placed before its first use, so a deep
network's gradient prints linear in size.
"""
from __future__ import annotations

from collections import deque

from matcalc.core import algebra as A
from matcalc.core.graph import Node, topo_order
from matcalc.core.kinds import is_leaf, is_variable
from matcalc.core.naming import numbered
from matcalc.output.render import Printer

MAX_NESTING = 40
"""The deepest unnamed nesting a printed expression keeps (in graph levels; a product chain
prints flat and counts once): below it a fresh ``t`` names the subexpression, so a 500-layer
network's gradient prints as a program whose every line parses back (the parser accepts
``parser.MAX_DEPTH`` levels, a printed level costs at most two) and every printer stays shallow."""


def auto_names(roots: list[Node], given: dict, taken: set[str], threshold: int = 4) -> dict[Node, str]:
    """Names for shared subexpressions worth naming: the program's own, then fresh ``t1, t2, …``;
    and fresh names that keep unnamed nesting under ``MAX_NESTING`` levels.

    ``given`` and the result are keyed by node (not ``id``), so a name can never attach to a
    later node that reuses a dead node's id."""
    parents: dict[Node, int] = {}
    order = topo_order(roots)
    for node in order:
        for a in node.args:
            parents[a] = parents.get(a, 0) + 1
    sizes: dict[Node, int] = {}
    for node in order:                  # capped: only "at least threshold" is asked
        sizes[node] = min(threshold, 1 + sum(sizes[a] for a in node.args))
    names = {}
    depth: dict[Node, int] = {}         # unnamed nesting below a node, in printed levels
    counter = 0
    for node in order:
        if node in given and not is_variable(node):
            names[node] = given[node]
            depth[node] = 0
            continue
        if is_leaf(node) or A.is_const(node):
            depth[node] = 0
            continue
        nesting = max((depth[a] + (a.op != "matmul" or node.op != "matmul") for a in node.args), default=0)
        if (parents.get(node, 0) >= 2 and sizes[node] >= threshold) or nesting >= MAX_NESTING:
            names[node], counter = numbered("t", counter, taken)
            nesting = 0
        depth[node] = nesting
    return names


def program(roots: list[Node], style: str, names: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """(definitions, root texts): each named node that the roots use, defined before its uses.

    "Uses" are what the printed text refers to, not only graph edges: a denominator prints
    through a temporary (``1 ./ t7`` for ``t3.^(-0.5)`` when ``t7 = t3.^(0.5)``), so each
    definition is placed after every name its own text mentions."""
    lookup = Printer(style, names)
    texts: dict[Node, str] = {}
    refs: dict[Node, list[Node]] = {}
    pending = deque(n for n in topo_order(roots) if lookup.named(n))
    printer = Printer(style, names)
    root_texts = [printer(r) for r in roots]
    pending += printer.referenced
    while pending:
        n = pending.popleft()
        if n in texts:
            continue
        inner = lookup.definition(n)
        texts[n] = inner(n)
        refs[n] = inner.referenced
        pending += [r for r in inner.referenced if r not in texts]
    ordered: list[Node] = []
    state: dict[Node, int] = {}                      # 1 visiting, 2 done

    def visit(n: Node) -> None:
        stack = [(n, iter(refs.get(n, ())))]
        state[n] = 1
        while stack:
            node, it = stack[-1]
            child = next((c for c in it if state.get(c) is None), None)
            if child is not None:
                state[child] = 1
                stack.append((child, iter(refs.get(child, ()))))
            else:
                stack.pop()
                state[node] = 2
                ordered.append(node)
    for n in texts:
        if state.get(n) is None:
            visit(n)
    definitions = [(lookup.var_name(lookup.name_of(n)), texts[n]) for n in ordered]   # named as uses print
    return definitions, root_texts
