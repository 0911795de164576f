"""The one reverse-mode loop: upstream × local down every edge, contributions added at forks.

``backpropagate(output, wrt, seed)`` visits the nodes that depend on a variable of ``wrt`` in
reverse topological order; each receives the sum of what its consumers sent (its adjoint ``G``)
and sends ``RULES[op].vjp(node, G)`` on, one contribution per input (``None`` where an input is
not differentiated), asserted as tinygrad's ``gradient.py`` does: a rule that returns another
number of contributions, or one of the wrong shape, is an ``InternalError``, never a silently
dropped or misrouted gradient.  Both users share it:

- ``diff.gradients`` seeds with 1 and records a ``Step`` per node (the derivation's steps);
- generated code (``generate.program``) seeds with a placeholder for ``upstream`` and, through
  ``adjoint``, names a node's adjoint before its VJP is taken (``dL_dh`` in the backward code).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from matcalc.core import algebra as A
from matcalc.core.errors import InternalError
from matcalc.core.graph import Node, depends_on, topo_order
from matcalc.core.kinds import is_variable
from matcalc.core.rules import RULES


@dataclass
class Step:
    """One node of the backward pass: the upstream gradient it received and what it sent on."""

    node: Node
    upstream: Node
    sent: list[tuple[Node, Node]] = field(default_factory=list)   # (input, contribution)
    fork: list[Node] = field(default_factory=list)                # contributions that were added


def backpropagate(output: Node, wrt: list[Node], seed: Node,
                  adjoint: Callable[[Node, Node], Node] | None = None,
                  steps: list[Step] | None = None) -> dict[int, list[Node]]:
    """The contributions that reached each variable of ``wrt`` (keyed by id; a variable nothing
    reached is missing), starting from ``seed`` at ``output``.  ``adjoint(node, G)`` may stand
    in for a node's summed adjoint before its VJP is taken; ``steps`` collects a ``Step`` per
    node visited."""
    order = [n for n in topo_order([output]) if any(depends_on(n, v) for v in wrt)]
    incoming: dict[int, list[Node]] = {id(output): [seed]} if order else {}
    reached: dict[int, list[Node]] = {}
    for node in reversed(order):
        parts = incoming.pop(id(node), None)
        if not parts:
            continue
        if is_variable(node):
            reached[id(node)] = parts
            continue
        G = A.add(*parts) if len(parts) > 1 else parts[0]
        if A.is_zero(G):
            continue
        step = Step(node, G, fork=list(parts) if len(parts) > 1 else []) if steps is not None else None
        contributions = RULES[node.op].vjp(node, G if adjoint is None else adjoint(node, G))
        if len(contributions) != len(node.args):
            raise InternalError(f"rule {node.op} sent {len(contributions)} gradients to {len(node.args)} inputs")
        for arg, g in zip(node.args, contributions):
            if g is None or not any(depends_on(arg, v) for v in wrt):
                continue
            if g.shape != arg.shape:
                raise InternalError(f"rule {node.op} sent a {g.shape} gradient to a {arg.shape} input")
            incoming.setdefault(id(arg), []).append(g)
            if step is not None:
                step.sent.append((arg, g))
        if step is not None:
            steps.append(step)
    return reached
