"""Typed, hash-consed expression nodes: the graph every later stage reads and writes.

A node is ``(op, args, shape, attrs)``.  ``shape`` is always ``(rows, cols)`` of dimensions
(``core.dims``: known sizes, named sizes, integer products of them): a scalar is ``(1, 1)``, a column vector ``(n, 1)``, a row vector ``(1, n)``.
Nodes are interned, so two structurally equal nodes are the same object: equality is identity,
a DAG shares its subtrees for free, and memo tables can key on nodes.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterable
from fractions import Fraction

from matcalc.core.dims import ONE, Dim, dim

__all__ = ["ONE", "SCALAR", "Dim", "Node", "Shape", "as_fraction", "depends_on", "dim", "make", "topo_order",
           "variables"]

Shape = tuple[Dim, Dim]
SCALAR: Shape = (ONE, ONE)


class Node:
    """One interned operation; build with ``make``, never directly."""

    __slots__ = ("__weakref__", "args", "attrs", "memo", "op", "serial", "shape")

    op: str
    args: tuple[Node, ...]
    shape: Shape
    attrs: tuple

    @property
    def rows(self) -> Dim:
        return self.shape[0]

    @property
    def cols(self) -> Dim:
        return self.shape[1]

    @property
    def is_scalar(self) -> bool:
        return self.shape[0] == ONE and self.shape[1] == ONE

    @property
    def is_column(self) -> bool:
        return self.shape[1] == ONE and self.shape[0] != ONE

    @property
    def is_row(self) -> bool:
        return self.shape[0] == ONE and self.shape[1] != ONE

    @property
    def is_square(self) -> bool:
        return self.shape[0] == self.shape[1]

    def __repr__(self) -> str:
        if self.op == "var":
            return f"var({self.attrs[0]})"
        if self.op == "scale" and not self.args:
            return f"const({self.attrs[0]})"
        inner = ", ".join(repr(a) for a in self.args)
        extra = f"; {self.attrs}" if self.attrs else ""
        return f"{self.op}({inner}{extra})"


_TABLE: weakref.WeakValueDictionary[tuple, Node] = weakref.WeakValueDictionary()
_SERIAL = [0]


def make(op: str, args: Iterable[Node], shape: Shape, attrs: tuple = ()) -> Node:
    """The unique node with these fields (created on first use)."""
    args = tuple(args)
    key = (op, tuple(id(a) for a in args), shape, attrs)
    node = _TABLE.get(key)
    if node is not None and node.args == args:
        return node
    node = Node()
    node.op, node.args, node.shape, node.attrs = op, args, shape, attrs
    _SERIAL[0] += 1
    node.serial = _SERIAL[0]
    node.memo = {}
    _TABLE[key] = node
    return node


def topo_order(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each after all of its arguments (iterative DFS)."""
    seen: set[int] = set()
    order: list[Node] = []
    for root in roots:
        if id(root) in seen:
            continue
        stack: list[tuple[Node, int]] = [(root, 0)]
        seen.add(id(root))
        while stack:
            node, i = stack.pop()
            if i < len(node.args):
                stack.append((node, i + 1))
                child = node.args[i]
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, 0))
            else:
                order.append(node)
    return order


def variables(root: Node) -> list[Node]:
    """The ``var`` leaves of ``root`` in order of first appearance."""
    return [n for n in topo_order([root]) if n.op == "var"]


def depends_on(root: Node, var: Node) -> bool:
    """Whether ``var`` occurs in ``root`` (memoised per node).

    The walk is pruned: it enters only nodes not yet answered, so a query on a memoised node is
    one lookup and every node is answered once per variable, however many queries reach it
    (the reverse loop asks at every node: a whole-subgraph walk per query made it quadratic).
    Leaves answer without being entered.  The memo key is the variable's ``serial``, unique for
    the process: an ``id`` is reused once its node dies, and a node that outlives it would
    answer for a different variable."""
    key = ("dep", var.serial)
    memo = root.memo
    if key in memo:
        return memo[key]
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, i = stack.pop()
        if node is var:
            node.memo[key] = True
            continue
        args = node.args
        found = False
        while i < len(args):                       # up to the first argument not answered yet
            child = args[i]
            answer = child.memo.get(key)
            if answer is None:
                if child is not var and child.args:
                    break
                answer = child.memo[key] = child is var
            if answer:                             # one argument holding var answers the node
                found = True
                break
            i += 1
        if found or i == len(args):
            node.memo[key] = found
            continue
        stack.append((node, i))
        stack.append((args[i], 0))
    return memo[key]


def as_fraction(x: float | Fraction | str) -> Fraction:
    """An exact coefficient: ``0.2`` is 1/5, not the binary float nearest to it."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, float):
        return Fraction(repr(x))
    return Fraction(x)
