"""Stable forms: a node rewritten to the same value by a formula that keeps its digits.

One node-level rewrite, read by every stage that computes numbers: the evaluator
(``numeric.evaluate.stable_value`` evaluates the rewritten node) and generated code (the planner
puts the rewritten node in the graph, so the forward code computes it and the backward code is
derived from it):

    log σ(z)        = −softplus(−z)     (σ(z) underflows to 0 below z ≈ −745: log would be −∞)
    log(1 − σ(z))   = −softplus(z)      (1 − σ(z) rounds to 0 above z ≈ 37)
    1 − σ(z)        = σ(−z)             (the subtraction loses every digit above z ≈ 37)
    log softmax(z)  = log_softmax(z)    (z − logsumexp(z), max subtracted: no underflowed entry)
    log exp(z)      = z                 (exp(z) overflows above z ≈ 709: ∞ − ∞ downstream)

softplus is ``logaddexp(0, ·)``, finite everywhere.
"""
from __future__ import annotations

from typing import NamedTuple

from matcalc.core import algebra as A
from matcalc.core.graph import _SERIAL, Node


class Stable(NamedTuple):
    """A stable form: the node, and the serial of the first node made for it (nodes from
    ``first_new`` on are new; the others were in the graph before, so may have values already)."""

    form: Node
    first_new: int


def stable_form(node: Node) -> Stable | None:
    """``node`` by its stable formula above, or None where the plain formula is stable."""
    first_new = _SERIAL[0] + 1
    form = _stable(node)
    return None if form is None else Stable(form, first_new)


def _stable(node: Node) -> Node | None:
    if node.op == "ew" and node.attrs == ("log", 0):
        a = node.args[0]
        if a.op == "softmax":
            return A.softmax_family("log_softmax", a.args[0], a.attrs[0])
        if a.op == "ew" and a.attrs == ("sigmoid", 0):
            return A.neg(A.ew("softplus", A.neg(a.args[0])))
        if a.op == "ew" and a.attrs == ("exp", 0):
            return a.args[0]
        s = sigmoid_complement(a)
        return None if s is None else A.neg(A.ew("softplus", s.args[0]))
    s = sigmoid_complement(node)
    return None if s is None else A.ew("sigmoid", A.neg(s.args[0]))


def sigmoid_complement(node: Node) -> Node | None:
    """The σ(z) of a node ``1 − σ(z)`` (of σ(z)'s own shape), else None."""
    if node.op != "add" or len(node.args) != 2:
        return None
    for one, rest in (node.args, node.args[::-1]):
        if not (one.op == "ones" or one.op == "scale" and not one.args and one.attrs[0] == 1):
            continue
        if rest.op == "scale" and rest.attrs == (-1,) and len(rest.args) == 1:
            s = rest.args[0]
            if s.op == "ew" and s.attrs == ("sigmoid", 0) and s.shape == node.shape:
                return s
    return None
