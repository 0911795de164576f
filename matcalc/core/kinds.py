"""What kind of node a stage is looking at, read from the rule table rather than from op names.

The stages that do not rewrite patterns (output, second order, derivation, generate, grading,
numeric) ask these questions instead of comparing op-name strings, so a new primitive needs no
edit there: its entry's ``structure``, ``constant`` and ``terms`` fields answer them.
"""
from __future__ import annotations

from matcalc.core.graph import Node
from matcalc.core.rules import ELEMENTWISE, RULES

LEAVES = frozenset(op for op, r in RULES.items() if r.structure == "leaf")
VARIABLES = frozenset(op for op in LEAVES if not RULES[op].constant)   # the program's inputs
CONSTANT_LEAVES = LEAVES - VARIABLES                                   # 𝟏, 0, I, K
SUMS = frozenset(op for op, r in RULES.items() if r.terms)
LINEAR = frozenset(op for op, r in RULES.items() if r.structure == "linear")
_FAMILY = "ew"     # the primitive applying a function of ELEMENTWISE (or a generic f) entrywise


def is_variable(n: Node) -> bool:
    """An input of the program (a leaf that is not a constant)."""
    return n.op in VARIABLES


def is_leaf(n: Node) -> bool:
    return n.op in LEAVES


def is_sum(n: Node) -> bool:
    return n.op in SUMS


def terms(n: Node) -> list[Node]:
    """The terms of a sum; any other node is one term."""
    return list(n.args) if n.op in SUMS else [n]


def function_name(n: Node) -> str | None:
    """The function's name when ``n`` applies one of the ``ew`` family (tanh, or a generic f)."""
    return n.attrs[0] if n.op == _FAMILY else None


def generic_function(n: Node) -> str | None:
    """The name of a generic function (f, g: not in the table) that ``n`` applies, else None."""
    name = function_name(n)
    return name if name is not None and name not in ELEMENTWISE else None
