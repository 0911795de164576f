"""Elementwise simplification: a maximal elementwise subtree simplified as one scalar function.

A *region* is a node built only from sums, scalings, Hadamard products, elementwise powers and
elementwise functions, down to *leaves* (any other node: ``X w``, a variable, a trace) of the
region's shape or scalars.  Every entry of the region is the same scalar function of the
leaves' entries, so it can be simplified with SymPy's scalar algebra and mapped back:

    e ⊘ (1 + e) − y               →  σ(X w) − y            (e = exp(X w))
    ((1 − y) ⊘ (1 − s) − y ⊘ s) ∘ s ∘ (1 − s)  →  s − y      (s = σ(X w))
    e ⊘ (1 + e) − e² ⊘ (1 + e)²   →  σ(z) ∘ (1 − σ(z))

Leaves and function applications become SymPy symbols (never parsed text): ``exp(u)`` is a
positive symbol ``E``, ``σ(u)`` a positive symbol ``S``, other functions and roots opaque
symbols, so the algebra is rational-function algebra (``cancel``, ``factor``), which is cheap and
bounded.  The sigmoid is recognised by rewriting ``exp(u) = σ(u) ⊘ (1 − σ(u))`` (or
``(1 − σ(−u)) ⊘ σ(−u)``) and keeping whichever candidate is smallest.

Soundness.  Every candidate equals the original wherever the original is defined.  A factor that
can be zero is never cancelled from a denominator: each factor of a denominator of the original
that is not provably nonzero (``exp`` and ``σ`` are positive, ``1 − σ`` too, ``1 + exp(u)``,
positive-assumed variables...) must still divide a denominator of the candidate, otherwise the
candidate is rejected, so ``(x.^2 − 1) ⊘ (x − 1)`` stays.  (The constructors already merge
identical bases, ``a ∘ b ⊘ b = a``; that is theirs, not this pass's.)  SymPy's automatic
evaluation is only applied to symbols here, so no ``exp(log(x)) = x`` style domain change
happens either.

A region is replaced only when the result is strictly smaller (``measure``: fewer occurrences of
leaves and function applications, or as many and fewer nodes, a division counting as two), and
a product is expanded only when that drops a term or a division (``s ∘ (1 − s)`` stays, it is
not ``s − s²``); among the candidates left a factored one wins.  Regions are only handed to
SymPy when they could shrink (a sum, a division or a nested sum, and some leaf used twice or an
``exp`` under a division) and are small (``region.MAX_REGION``, ``MAX_SYMBOLS``, ``MAX_EXPONENT``,
``MAX_VARIANTS``: counts, never seconds, so the printed result does not depend on the machine's
load); the result is memoised on the node, so simplifying again costs nothing, and
the symbols are numbered in graph order, so the output does not depend on hashing.
"""
from __future__ import annotations

from collections import deque

from matcalc.core.graph import Node, topo_order
from matcalc.simplify.region import _Region, _Skip, is_atom, is_internal, measure

__all__ = ["is_internal", "measure", "region_roots", "simplify_region"]

STRICT = False           # tests set this: SymPy failures raise instead of leaving the region
_MEMO = "elementwise"
_RECENT: deque[Node] = deque(maxlen=256)   # regions SymPy worked on, re-derived for free


def region_roots(roots: list[Node], order: list[Node] | None = None) -> list[Node]:
    """Roots of maximal elementwise regions reachable from ``roots`` (and each atom's argument);
    ``order`` is ``topo_order(roots)`` when the caller has it."""
    order = topo_order(roots) if order is None else order
    root_ids = {id(r) for r in roots}
    starts: set[int] = set()
    for node in order:
        for a in node.args:
            if is_internal(a) and (not is_internal(node) or is_atom(node)):
                starts.add(id(a))
    return [n for n in order if is_internal(n) and (id(n) in starts or id(n) in root_ids)]


def simplify_region(node: Node) -> Node:
    """The smallest equivalent form of the region rooted at ``node`` (``node`` itself if none)."""
    hit = node.memo.get(_MEMO)
    if hit is not None:
        return hit
    try:
        out = _Region(node).best() if is_internal(node) else None
        _RECENT.append(node)                # keeps the node, so its memo, alive for a while
    except _Skip:
        out = None
    except Exception:                       # a cosmetic pass never breaks a derivation
        if STRICT:
            raise
        out = None
    out = out if out is not None else node
    node.memo[_MEMO] = out
    out.memo.setdefault(_MEMO, out)
    return out
